// Hugging Face tokenizer files in MiniMind-3's layout: tokenizer.json (byte-level BPE) and
// tokenizer_config.json with a ChatML chat template.
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { bytesToUnicode } from './bytes.js';

/** MiniMind-3's special tokens, ids 0..: pad/unk, bos, eos, then reserved ones. */
export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>',
  '<|box_start|>', '<|box_end|>', '<|quad_start|>', '<|quad_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>',
  '<|image_pad|>', '<|video_pad|>', '<|audio_start|>', '<|audio_end|>', '<|audio_pad|>', '<tts_pad>', '<tts_text_bos>',
  '<tts_text_eod>', '<tts_text_bos_single>', '<tool_call>', '</tool_call>', '<tool_response>', '</tool_response>', '<think>', '</think>'];
/** these are not "special" for decoding: a model writes them as text */
const TEXTUAL = new Set(['<tool_call>', '</tool_call>', '<tool_response>', '</tool_response>', '<think>', '</think>']);

/**
 * ChatML as MiniMind-3 renders it: optional system prompt and tools, assistant turns with
 * a reasoning block (<think>...</think>, empty when there is none), tool results as user
 * turns, and a generation prompt that opens an empty reasoning block unless
 * `open_thinking` is set.
 */
export const CHAT_TEMPLATE = [
  "{%- if tools %}",
  "{{- '<|im_start|>system\\n' }}",
  "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}",
  "{{- '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}",
  "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}",
  "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\\n</tool_call><|im_end|>\\n' }}",
  "{%- elif messages[0].role == 'system' %}",
  "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}",
  "{%- endif %}",
  "{%- for message in messages %}",
  "{%- set content = message.content if message.content is string else '' %}",
  "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}",
  "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}",
  "{%- elif message.role == 'assistant' %}",
  "{%- set reasoning = '' %}",
  "{%- if message.reasoning_content is string %}{%- set reasoning = message.reasoning_content %}",
  "{%- elif '</think>' in content %}",
  "{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}",
  "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}",
  "{%- endif %}",
  "{{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}",
  "{%- if message.tool_calls %}{%- for call in message.tool_calls %}",
  "{%- if (loop.first and content) or (not loop.first) %}{{- '\\n' }}{%- endif %}",
  "{%- set fn = call.function if call.function else call %}",
  "{{- '<tool_call>\\n{\"name\": \"' + fn.name + '\", \"arguments\": ' }}",
  "{%- if fn.arguments is string %}{{- fn.arguments }}{%- else %}{{- fn.arguments | tojson }}{%- endif %}",
  "{{- '}\\n</tool_call>' }}",
  "{%- endfor %}{%- endif %}",
  "{{- '<|im_end|>\\n' }}",
  "{%- elif message.role == 'tool' %}",
  "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}",
  "{{- '\\n<tool_response>\\n' + content + '\\n</tool_response>' }}",
  "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}",
  "{%- endif %}",
  "{%- endfor %}",
  "{%- if add_generation_prompt %}",
  "{{- '<|im_start|>assistant\\n' }}",
  "{%- if open_thinking is defined and open_thinking is true %}{{- '<think>\\n' }}{%- else %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}",
  "{%- endif %}",
].join('');

export interface TokenizerFiles { json: Record<string, unknown>; config: Record<string, unknown> }

/** tokenizer.json + tokenizer_config.json for a byte-level BPE with these merges. */
export function tokenizerFiles(merges: [string, string][], vocab: Record<string, number>): TokenizerFiles {
  const added = SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: !TEXTUAL.has(content) }));
  const json = {
    version: '1.0', truncation: null, padding: null, added_tokens: added, normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: merges.map(([a, b]) => [a, b]) },
  };
  const config = {
    add_bos_token: false, add_eos_token: false, add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(added.map((a) => [String(a.id), { content: a.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: a.special }])),
    additional_special_tokens: SPECIAL_TOKENS.slice(1).filter((t) => !TEXTUAL.has(t)),
    bos_token: '<|im_start|>', eos_token: '<|im_end|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>',
    clean_up_tokenization_spaces: false, legacy: true, model_max_length: 32768, spaces_between_special_tokens: false,
    tokenizer_class: 'PreTrainedTokenizerFast', chat_template: CHAT_TEMPLATE,
  };
  return { json, config };
}

/** The vocabulary of a byte-level BPE before any merge: specials, then the 256 byte symbols. */
export function baseVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  SPECIAL_TOKENS.forEach((t, i) => { vocab[t] = i; });
  let id = SPECIAL_TOKENS.length;
  for (const ch of [...bytesToUnicode()].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!)) vocab[ch] = id++;
  return vocab;
}

export function writeTokenizerFiles(dir: string, f: TokenizerFiles): void {
  writeFileAtomic(path.join(dir, 'tokenizer.json'), JSON.stringify(f.json, null, 2));
  writeFileAtomic(path.join(dir, 'tokenizer_config.json'), JSON.stringify(f.config, null, 2));
}
