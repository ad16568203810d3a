// Tokenizers from Hugging Face files (ours or MiniMind's): encoding and decoding with the
// `tokenizers` binding (Hugging Face's Rust library), chat templates rendered by a real
// Jinja engine (@huggingface/jinja).
import fs from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import hf from 'tokenizers';
import { patchJinjaStrip } from './jinja-strip.js';

patchJinjaStrip();

export class TokenizerError extends Error {}

export interface ChatMessage { role: string; content: string; reasoning_content?: string; tools?: unknown; tool_calls?: unknown }

export class MiniTokenizer {
  readonly bosId: number; readonly eosId: number; readonly padId: number;
  private template: Template | null;
  /** the bos/eos token strings (`<|im_start|>`/`<|im_end|>`; MiniMind v1: `<s>`/`</s>`), which open and close chat turns */
  readonly bosToken: string;
  readonly eosToken: string;

  private constructor(readonly dir: string, private hf: hf.Tokenizer, readonly vocabSize: number, readonly config: Record<string, unknown>) {
    // config entries may be strings, {content} objects or null (MiniMind v1 has no pad: its unk pads)
    const entry = (k: string): string | undefined => {
      const v = config[k] as string | { content?: string } | null | undefined;
      return typeof v === 'string' ? v : v?.content ?? undefined;
    };
    const id = (k: string, dflt: string) => {
      const tok = entry(k) ?? (k === 'pad_token' ? entry('unk_token') : undefined) ?? dflt;
      const v = hf.tokenToId(tok);
      if (v === null || v === undefined) throw new TokenizerError(`${dir}: ${k} "${tok}" is not in the vocabulary`);
      return v;
    };
    this.bosToken = entry('bos_token') ?? '<|im_start|>';
    this.eosToken = entry('eos_token') ?? '<|im_end|>';
    this.bosId = id('bos_token', '<|im_start|>');
    this.eosId = id('eos_token', '<|im_end|>');
    this.padId = id('pad_token', '<|endoftext|>');
    const tpl = config.chat_template;
    this.template = typeof tpl === 'string' ? new Template(tpl) : null;
  }

  static load(dir: string): MiniTokenizer {
    const file = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(file)) throw new TokenizerError(`no tokenizer.json in ${dir} (train one with \`minimind train-tokenizer\`, or fetch MiniMind's with \`minimind download tokenizer\`)`);
    let tok: hf.Tokenizer;
    try { tok = hf.Tokenizer.fromFile(file); } catch (e) { throw new TokenizerError(`${file}: cannot load tokenizer: ${(e as Error).message}`); }
    let config: Record<string, unknown> = {};
    const cfgFile = path.join(dir, 'tokenizer_config.json');
    if (fs.existsSync(cfgFile)) {
      try { config = JSON.parse(fs.readFileSync(cfgFile, 'utf8')); } catch (e) { throw new TokenizerError(`${cfgFile}: invalid JSON (${(e as Error).message})`); }
    }
    return new MiniTokenizer(dir, tok, tok.getVocabSize(true), config);
  }

  /** ids of `text`; special-token strings in it become their ids */
  async encode(text: string): Promise<number[]> {
    return (await this.hf.encode(text, null, { addSpecialTokens: false })).getIds();
  }

  async encodeBatch(texts: string[]): Promise<number[][]> {
    return (await this.hf.encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds());
  }

  async decode(ids: number[], skipSpecial = false): Promise<string> {
    return this.hf.decode(ids, skipSpecial);
  }

  tokenToId(tok: string): number | undefined { return this.hf.tokenToId(tok) ?? undefined; }
  /** the vocabulary entry of `id` (byte-level BPE: in GPT-2's byte alphabet) */
  idToToken(id: number): string | undefined { return this.hf.idToToken(id) ?? undefined; }

  get hasChatTemplate(): boolean { return this.template !== null; }

  applyChatTemplate(messages: ChatMessage[], o: { addGenerationPrompt?: boolean; tools?: unknown[]; [k: string]: unknown } = {}): string {
    if (!this.template) throw new TokenizerError(`${this.dir}: tokenizer_config.json has no chat_template`);
    const { addGenerationPrompt, ...rest } = o;
    return this.template.render({ messages, add_generation_prompt: !!addGenerationPrompt, bos_token: '<|im_start|>', eos_token: '<|im_end|>', ...rest });
  }
}
