// Prompts for the reinforcement-learning stages, as MiniMind-3's RLAIFDataset reads them
// (lm_dataset.py): JSONL records {"conversations": [...]} whose last assistant turn is the
// reference answer (dropped from the prompt; handed to the reward as `reference`). Each
// time a record is read MiniMind draws, as for SFT, whether to add a random system prompt
// (pre_processing_chat, 20%) and whether to open the thinking block (thinking_ratio); here
// both come from an Rng keyed on (seed, epoch, record), so a resumed run draws exactly what
// an uninterrupted one does. Batches follow the loader's seeded per-epoch order.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ChatMessage, MiniTokenizer } from '../tokenizer/tokenizer.js';
import { Rng } from '../util/rng.js';
import { checkMessages } from './chat.js';
import { DataError, readJsonl } from './lines.js';
import { Loader } from './loader.js';
import { chatPrompt, SYSTEM_PROMPTS } from './minimind3.js';
import { drawKey } from './variants.js';

export interface PromptRecord {
  /** the conversation before the answer */
  messages: ChatMessage[];
  /** tools of a system message (tool-use records), passed to the chat template */
  tools?: unknown[];
  /** the dropped last assistant turn's content (a verifiable reward's answer key), or null */
  reference: string | null;
}

/** What MiniMind draws per read: -1 or the index of the added system prompt, and the thinking switch. */
export interface PromptChoice { system: number; thinking: boolean }

/** One prompt as read in an epoch: its record, the draws and the messages they give. */
export interface PromptSample { index: number; record: PromptRecord; choice: PromptChoice; messages: ChatMessage[] }

export interface PromptBatch { epoch: number; batch: number; prompts: PromptSample[] }

export interface PromptSampling { seed: number; systemPromptRatio: number; thinkingRatio: number }

/** Read RLAIF prompts; a bad record is an error naming its line (strict) or is skipped with a count. */
export async function readPrompts(files: string[], strict = false): Promise<{ records: PromptRecord[]; skipped: number; fingerprint: string }> {
  const records: PromptRecord[] = [];
  const hash = crypto.createHash('sha256');
  let skipped = 0;
  for (const file of files) {
    if (!fs.existsSync(file)) throw new DataError(`${file} does not exist`);
    for await (const r of readJsonl(file)) {
      const where = `${file}:${r.lineNo}`;
      const problem = 'error' in r ? r.error : null;
      const rec = problem ? { error: problem } : toRecord((r as { value: unknown }).value);
      if ('error' in rec) {
        if (strict) throw new DataError(`${where}: ${rec.error}`);
        skipped++;
        continue;
      }
      records.push(rec);
      hash.update(JSON.stringify(rec)).update('\n');
    }
  }
  return { records, skipped, fingerprint: hash.digest('hex').slice(0, 16) };
}

function toRecord(v: unknown): PromptRecord | { error: string } {
  const conv = (v as { conversations?: unknown } | null)?.conversations;
  if (!Array.isArray(conv)) return { error: 'expected a record {"conversations": [...]}' };
  // RLAIFDataset takes conversations[:-1]: the last turn is the answer (when it is the assistant's)
  const last = conv[conv.length - 1] as ChatMessage | undefined;
  const answered = last?.role === 'assistant';
  const before = answered ? conv.slice(0, -1) : conv;
  if (!before.length) return { error: 'conversations holds no prompt before the answer' };
  const checked = checkMessages([...before, { role: 'assistant', content: '' }], 'conversations');
  if ('error' in checked) return checked;
  const parsed = chatPrompt(before as ChatMessage[]);
  if ('error' in parsed) return parsed;
  return { messages: parsed.messages, ...(parsed.tools ? { tools: parsed.tools } : {}), reference: answered && typeof last!.content === 'string' ? last!.content : null };
}

/** Prompts in batches: the loader's seeded order per epoch, MiniMind's draws per (epoch, record). */
export class PromptBatches {
  private loader: Loader;
  constructor(readonly records: PromptRecord[], batchSize: number, readonly sampling: PromptSampling) {
    this.loader = new Loader({ length: records.length, seqLen: 0, get: () => { throw new Error('unused'); }, paddingShare: () => 0 }, batchSize, sampling.seed);
  }

  get batchesPerEpoch(): number { return this.loader.batchesPerEpoch; }

  batch(epoch: number, b: number): PromptBatch {
    return { epoch, batch: b, prompts: [...this.loader.indices(epoch, b)].map((i) => this.sample(i, epoch)) };
  }

  /** Record i as read in `epoch` (MiniMind's draws, made with an Rng of their own). */
  sample(i: number, epoch: number): PromptSample {
    const rng = new Rng(drawKey(this.sampling.seed, epoch, i));
    return this.withChoice(i, drawChoice(this.records[i], rng, this.sampling));
  }

  /** Record i under given draws (what MiniMind drew, in the fixtures). */
  withChoice(i: number, choice: PromptChoice): PromptSample {
    const record = this.records[i];
    const messages = choice.system >= 0 ? [{ role: 'system', content: SYSTEM_PROMPTS[choice.system] }, ...record.messages] : record.messages;
    return { index: i, record, choice, messages };
  }
}

/** pre_processing_chat's system-prompt draw, then create_chat_prompt's thinking draw, in MiniMind's order. */
function drawChoice(r: PromptRecord, rng: Rng, s: PromptSampling): PromptChoice {
  let system = -1;
  // tool-use records are kept as they are; a conversation that has a system message gets none
  if (!r.tools && r.messages[0].role !== 'system' && rng.next() < s.systemPromptRatio) system = rng.int(SYSTEM_PROMPTS.length);
  return { system, thinking: rng.next() < s.thinkingRatio };
}

/** The prompt text: the chat template with the generation prompt, its thinking block open or closed. */
export function promptText(tok: MiniTokenizer, p: PromptSample): string {
  return tok.applyChatTemplate(p.messages, { addGenerationPrompt: true, ...(p.record.tools ? { tools: p.record.tools } : {}), open_thinking: p.choice.thinking });
}

/** Prompt token ids, cut to their last `maxLength` (train_grpo.py's input_ids[:, -max_seq_len:]). */
export async function promptIds(tok: MiniTokenizer, p: PromptSample, maxLength: number): Promise<number[]> {
  const ids = await tok.encode(promptText(tok, p));
  return ids.length > maxLength ? ids.slice(ids.length - maxLength) : ids;
}
