// Stream a model's continuation of some token ids to a writer, as text.
import { Generator, SamplingOptions } from '../model/generate.js';
import { TextStream } from '../tokenizer/stream.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';

/** Generate from `prompt` ids, writing text as it completes; returns the full text and token count. */
export async function streamText(gen: Generator, tok: MiniTokenizer, prompt: number[], o: SamplingOptions, write: (s: string) => void,
  until?: (text: string) => boolean): Promise<{ text: string; tokens: number }> {
  const ts = new TextStream(tok);
  let text = '', tokens = 0;
  for await (const id of gen.generate(prompt, { stopIds: [tok.eosId], ...o })) {
    tokens++;
    if (id === tok.eosId) break;
    const piece = await ts.push(id);
    if (piece) { text += piece; write(piece); }
    if (until?.(text)) return { text, tokens };
  }
  const rest = await ts.flush();
  if (rest) { text += rest; write(rest); }
  return { text, tokens };
}
