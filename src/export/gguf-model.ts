// `export --format gguf`: a MiniMind model as a llama.cpp GGUF file (architecture `llama`
// without QK-norm, `qwen3` with it, `qwen3moe` for minimind-3's MoE), the tokenizer embedded as GPT-2-style
// byte-level BPE with its merges and chat template, plus an Ollama Modelfile.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { MiniMindConfig } from '../model/config.js';
import { paramSpecs, Params } from '../model/params.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { exportArch, normTopk, whyMiniMind } from './arch.js';
import { SAMPLING_DEFAULTS } from './companions.js';
import { ExportDtype, toBf16, toF16 } from './dtype.js';
import { ExportResult } from './export.js';
import { GGML, GgmlType, GgufTensor, GgufValue, quantizeQ8_0, writeGguf } from './gguf.js';

// llama.cpp's token types (llama_token_type)
const TOKEN = { normal: 1, control: 3, userDefined: 4, unused: 5 };
const FILE_TYPE: Record<ExportDtype, number> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };

/** Rows of each head from halves (0..h/2-1 | h/2..) to interleaved pairs: llama.cpp's `llama` rotates pairs. */
export function halvesToInterleaved(w: Float32Array, rows: number, cols: number, headDim: number): Float32Array {
  const out = new Float32Array(w.length), half = headDim / 2;
  for (let r = 0; r < rows; r++) {
    const head = Math.floor(r / headDim), j = r % headDim;
    const src = head * headDim + (j % 2 === 0 ? j / 2 : half + (j - 1) / 2);
    out.set(w.subarray(src * cols, (src + 1) * cols), r * cols);
  }
  return out;
}

const GGUF_NAMES: [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, 'token_embd.weight'],
  [/^model\.norm\.weight$/, 'output_norm.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.([qkv])_proj\.weight$/, 'blk.$1.attn_$2.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'blk.$1.attn_output.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.([qk])_norm\.weight$/, 'blk.$1.attn_$2_norm.weight'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
  [/^model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight$/, 'blk.$1.ffn_$2.weight'],
  [/^model\.layers\.(\d+)\.mlp\.gate\.weight$/, 'blk.$1.ffn_gate_inp.weight'],
];
export const ggufName = (n: string) => { for (const [re, to] of GGUF_NAMES) if (re.test(n)) return n.replace(re, to); throw new Error(`no GGUF name for ${n}`); };

function tensorData(a: Float32Array, shape: number[], dtype: ExportDtype, router = false): { type: GgmlType; data: Uint8Array } {
  const bytes = (x: Uint16Array | Float32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  // norms and the MoE router stay f32 (as llama.cpp's converter keeps them); q8_0 needs rows of whole 32-blocks
  if (shape.length === 1 || dtype === 'f32' || router || (dtype === 'q8_0' && shape[shape.length - 1] % 32 !== 0)) return { type: GGML.F32, data: bytes(a) };
  if (dtype === 'f16') return { type: GGML.F16, data: bytes(toF16(a)) };
  if (dtype === 'bf16') return { type: GGML.BF16, data: bytes(toBf16(a)) };
  return { type: GGML.Q8_0, data: quantizeQ8_0(a) };
}

/** The tokenizer as llama.cpp's `gpt2` BPE: every id's token (padded to the model's vocabulary), its type, the merges. */
function tokenizerMeta(tokDir: string, c: MiniMindConfig): [string, GgufValue][] {
  const json = JSON.parse(fs.readFileSync(path.join(tokDir, 'tokenizer.json'), 'utf8'));
  const model = json.model ?? {};
  if (model.type !== 'BPE' || json.pre_tokenizer?.type !== 'ByteLevel') throw new UserError(`${tokDir}/tokenizer.json: GGUF export needs a byte-level BPE tokenizer (MiniMind's kind), got ${model.type} with ${json.pre_tokenizer?.type ?? 'no'} pre-tokenizer`);
  const tokens: string[] = new Array(c.vocab_size), types: number[] = new Array(c.vocab_size).fill(TOKEN.normal);
  for (const [t, id] of Object.entries(model.vocab as Record<string, number>)) tokens[id] = t;
  for (const a of json.added_tokens ?? []) { tokens[a.id] = a.content; types[a.id] = a.special ? TOKEN.control : TOKEN.userDefined; }
  for (let i = 0; i < c.vocab_size; i++) if (tokens[i] === undefined) { tokens[i] = `[PAD${i}]`; types[i] = TOKEN.unused; }
  const merges = (model.merges as (string | [string, string])[]).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const tok = MiniTokenizer.load(tokDir);
  const meta: [string, GgufValue][] = [
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'gpt-2' }], // ByteLevel with use_regex: GPT-2's split
    ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
    ['tokenizer.ggml.merges', { type: 'string[]', value: merges }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: tok.bosId }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: tok.eosId }],
    ['tokenizer.ggml.padding_token_id', { type: 'u32', value: tok.padId }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ];
  if (typeof tok.config.chat_template === 'string') meta.push(['tokenizer.chat_template', { type: 'string', value: tok.config.chat_template }]);
  return meta;
}

/** Ollama's Modelfile: the GGUF, ChatML as a Go template (with MiniMind-3's empty think block when its template has one), stop at <|im_end|>. */
export function modelfile(gguf: string, chatTemplate: string | undefined): string {
  const think = chatTemplate?.includes('<think>') ? '<think>\n\n</think>\n\n' : '';
  return [
    `FROM ./${gguf}`,
    'TEMPLATE """{{ if .System }}<|im_start|>system',
    '{{ .System }}<|im_end|>',
    '{{ end }}{{ range .Messages }}{{ if eq .Role "user" }}<|im_start|>user',
    '{{ .Content }}<|im_end|>',
    '{{ else if eq .Role "assistant" }}<|im_start|>assistant',
    '{{ .Content }}<|im_end|>',
    '{{ end }}{{ end }}<|im_start|>assistant',
    `${think}"""`,
    'PARAMETER stop "<|im_end|>"',
    `PARAMETER temperature ${SAMPLING_DEFAULTS.temperature}`,
    `PARAMETER top_p ${SAMPLING_DEFAULTS.top_p}`,
    '',
  ].join('\n');
}

export type GgufArch = 'llama' | 'qwen3' | 'qwen3moe';

export function checkGgufExportable(c: MiniMindConfig): GgufArch {
  const arch = exportArch(c);
  if (arch === 'minimind') throw new UserError(`this mixture-of-experts model cannot be exported to GGUF: ${whyMiniMind(c)}; use --format hf`);
  // llama.cpp's qwen3moe always renormalises the top-k routing weights
  if (arch === 'qwen3_moe' && !normTopk(c)) throw new UserError('a MoE model whose top-k routing weights are not normalised (norm_topk_prob false) cannot be exported to GGUF: llama.cpp\'s qwen3moe always normalises them; use --format hf');
  if (c.inference_rope_scaling && c.max_position_embeddings > 2048) {
    throw new UserError("GGUF export of a YaRN model (inference_rope_scaling) is not supported: llama.cpp's YaRN scales attention where MiniMind's does not; export without inference_rope_scaling or use --format hf");
  }
  return arch === 'qwen3_moe' ? 'qwen3moe' : arch;
}

/** GGUF tensors: per-expert FFN weights are stacked into one [E, rows, cols] tensor per projection, as llama.cpp's MoE reads them. */
function ggufTensors(c: MiniMindConfig, params: Params, dtype: ExportDtype, arch: GgufArch, onTensor?: (done: number, total: number) => void): GgufTensor[] {
  const out: GgufTensor[] = [];
  const specs = paramSpecs(c);
  for (const [i, s] of specs.entries()) {
    onTensor?.(i, specs.length);
    if (/\.mlp\.experts\.\d+\./.test(s.name)) continue;
    let w = params.get(s.name)!;
    if (arch === 'llama' && /self_attn\.[qk]_proj\.weight$/.test(s.name)) w = halvesToInterleaved(w, s.shape[0], s.shape[1], c.head_dim);
    const router = s.name.endsWith('.mlp.gate.weight');
    out.push({ name: ggufName(s.name), shape: s.shape, ...tensorData(w, s.shape, dtype, router) });
    if (!router) continue;
    const layer = s.name.replace(/\.mlp\.gate\.weight$/, '');
    for (const proj of ['gate', 'up', 'down']) {
      const parts = Array.from({ length: c.n_routed_experts }, (_, e) => params.get(`${layer}.mlp.experts.${e}.${proj}_proj.weight`)!);
      const stacked = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      parts.forEach((p, e) => stacked.set(p, e * p.length));
      const I = c.moe_intermediate_size, d = c.hidden_size;
      const shape = [c.n_routed_experts, ...(proj === 'down' ? [d, I] : [I, d])];
      out.push({ name: `${ggufName(s.name).replace('ffn_gate_inp.weight', `ffn_${proj}_exps.weight`)}`, shape, ...tensorData(stacked, shape, dtype) });
    }
  }
  onTensor?.(specs.length, specs.length);
  return out;
}

export async function writeGgufExport(out: string, c: MiniMindConfig, params: Params, dtype: ExportDtype, tokDir: string, onTensor?: (done: number, total: number) => void): Promise<ExportResult> {
  const arch = checkGgufExportable(c);
  const a = (k: string) => `${arch}.${k}`;
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const meta: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: path.basename(path.resolve(out)) }],
    ['general.file_type', u32(FILE_TYPE[dtype])],
    ['general.quantization_version', u32(2)],
    [a('context_length'), u32(c.max_position_embeddings)],
    [a('embedding_length'), u32(c.hidden_size)],
    [a('block_count'), u32(c.num_hidden_layers)],
    [a('feed_forward_length'), u32(c.intermediate_size)],
    [a('attention.head_count'), u32(c.num_attention_heads)],
    [a('attention.head_count_kv'), u32(c.num_key_value_heads)],
    [a('attention.key_length'), u32(c.head_dim)],
    [a('attention.value_length'), u32(c.head_dim)],
    [a('attention.layer_norm_rms_epsilon'), { type: 'f32', value: c.rms_norm_eps }],
    [a('rope.freq_base'), { type: 'f32', value: c.rope_theta }],
    [a('rope.dimension_count'), u32(c.head_dim)],
    [a('vocab_size'), u32(c.vocab_size)],
    ...tokenizerMeta(tokDir, c),
  ];
  if (arch === 'qwen3moe') {
    meta.push([a('expert_count'), u32(c.n_routed_experts)], [a('expert_used_count'), u32(c.num_experts_per_tok)], [a('expert_feed_forward_length'), u32(c.moe_intermediate_size)]);
  }
  const tensors = ggufTensors(c, params, dtype, arch, onTensor);
  fs.mkdirSync(out, { recursive: true });
  const file = 'model.gguf';
  writeGguf(path.join(out, file), meta, tensors);
  const tpl = MiniTokenizer.load(tokDir).config.chat_template;
  writeFileAtomic(path.join(out, 'Modelfile'), modelfile(file, typeof tpl === 'string' ? tpl : undefined));
  return { arch, files: [file, 'Modelfile'] };
}
