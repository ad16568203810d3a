// What every export carries beside the weights: the tokenizer (tokenizer.json and a
// tokenizer_config.json that transformers 4 and 5 both read), generation_config.json
// with MiniMind's sampling defaults, and a model card.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { MiniMindConfig } from '../model/config.js';
import { countParams } from '../model/params.js';
import { CHAT_TEMPLATE } from '../tokenizer/files.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';

// MiniMind's eval_llm.py: temperature 0.85, top_p 0.95, no repetition penalty
export const SAMPLING_DEFAULTS = { temperature: 0.85, top_p: 0.95, repetition_penalty: 1.0 };

/** The tokenizer directory: --tokenizer, else the model's own directory, else model/. */
export function findTokenizerDir(loadFrom: string, given?: string): string {
  const dir = fs.existsSync(loadFrom) && fs.statSync(loadFrom).isDirectory() ? loadFrom : path.dirname(loadFrom);
  for (const d of given ? [given] : [dir, 'model']) if (fs.existsSync(path.join(d, 'tokenizer.json'))) return d;
  throw new UserError(`no tokenizer.json in ${given ?? `${dir} or model/`}: name the tokenizer directory with --tokenizer`);
}

/** tokenizer.json, tokenizer_config.json (fast tokenizer class, chat template), generation_config.json. */
export function writeTokenizerAndGeneration(out: string, tokDir: string, c: MiniMindConfig): MiniTokenizer {
  const tok = MiniTokenizer.load(tokDir);
  if (tok.vocabSize > c.vocab_size) throw new UserError(`${tokDir}: the tokenizer has ${tok.vocabSize} tokens, the model only ${c.vocab_size} (wrong --tokenizer?)`);
  fs.mkdirSync(out, { recursive: true });
  fs.copyFileSync(path.join(tokDir, 'tokenizer.json'), path.join(out, 'tokenizer.json'));
  // transformers 5 needs the class named (MiniMind's convert_model.py does the same)
  const cfg = { ...tok.config, tokenizer_class: 'PreTrainedTokenizerFast', chat_template: tok.config.chat_template ?? CHAT_TEMPLATE };
  writeFileAtomic(path.join(out, 'tokenizer_config.json'), JSON.stringify(cfg, null, 2));
  writeFileAtomic(path.join(out, 'generation_config.json'), JSON.stringify({
    bos_token_id: tok.bosId, eos_token_id: tok.eosId, pad_token_id: tok.padId, do_sample: true, ...SAMPLING_DEFAULTS,
  }, null, 2));
  return MiniTokenizer.load(out);
}

/** What the run directory says about training: stage, steps, tokens and final loss. */
export function trainingSummary(modelDir: string): string[] {
  const lines: string[] = [];
  const metricsFile = path.join(modelDir, 'metrics.jsonl');
  const ckDir = path.join(modelDir, 'checkpoints');
  let stage: string | undefined, args: Record<string, unknown> | undefined;
  if (fs.existsSync(ckDir)) {
    const last = fs.readdirSync(ckDir).filter((d) => d.startsWith('step-')).sort().at(-1);
    if (last) {
      try { const s = JSON.parse(fs.readFileSync(path.join(ckDir, last, 'state.json'), 'utf8')); stage = s.stage; args = s.args; } catch { /* no state: say less */ }
    }
  }
  if (!fs.existsSync(metricsFile)) return lines;
  const m = fs.readFileSync(metricsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);
  if (!m.length) return lines;
  // each line reports tokens/s over the window since the previous one
  let tokens = 0, prev = 0;
  for (const e of m) { tokens += (e.tokens_per_s ?? 0) * ((e.elapsed_s ?? prev) - prev); prev = e.elapsed_s ?? prev; }
  const end = m[m.length - 1];
  lines.push(`- Stage: ${stage ?? 'unknown'}${args?.data_path ? ` on \`${path.basename(String(args.data_path))}\`` : ''}`);
  lines.push(`- Optimizer steps: ${end.step}; tokens processed: about ${Math.round(tokens).toLocaleString('en-US')} (including padding)`);
  lines.push(`- Final training loss: ${end.loss.toFixed(4)}`);
  if (args) lines.push(`- Batch ${args.batch_size} x ${args.accumulation_steps} accumulation, ${args.max_seq_len} tokens per sample, learning rate ${args.learning_rate}`);
  // written by a C-Eval run over this model, when there was one: {"accuracy": 0..1}
  const ceval = path.join(modelDir, 'ceval.json');
  if (fs.existsSync(ceval)) {
    try { const r = JSON.parse(fs.readFileSync(ceval, 'utf8')); if (typeof r.accuracy === 'number') lines.push(`- C-Eval accuracy: ${(100 * r.accuracy).toFixed(1)}%`); } catch { /* unreadable: left out */ }
  }
  return lines;
}

export interface CardInfo { format: 'hf' | 'gguf' | 'onnx'; arch: string; dtype: string; note?: string; source: string; files: string[] }

/** README.md: what the model is, how to run it, how it was trained. */
export function writeModelCard(out: string, c: MiniMindConfig, info: CardInfo): void {
  const training = trainingSummary(fs.existsSync(info.source) && fs.statSync(info.source).isDirectory() ? info.source : path.dirname(info.source));
  const name = path.basename(path.resolve(out));
  const run: Record<CardInfo['format'], string[]> = {
    hf: ['```python', 'from transformers import AutoModelForCausalLM, AutoTokenizer', `tok = AutoTokenizer.from_pretrained("${name}")`,
      `model = AutoModelForCausalLM.from_pretrained("${name}")`, '```'],
    gguf: ['```sh', `llama-cli -m ${info.files[0]} -cnv`, `ollama create ${name.toLowerCase()} -f Modelfile && ollama run ${name.toLowerCase()}`, '```'],
    onnx: ['```js', "import { pipeline } from '@huggingface/transformers';", `const generate = await pipeline('text-generation', './${name}', { dtype: 'fp32' });`, '```'],
  };
  const text = [
    '---', 'license: apache-2.0', ...(info.format === 'hf' ? ['library_name: transformers'] : info.format === 'onnx' ? ['library_name: transformers.js'] : []),
    'pipeline_tag: text-generation', 'tags: [minimind]', '---', '',
    `# ${name}`, '',
    `A MiniMind language model (${(countParams(c) / 1e6).toFixed(2)}M parameters) trained with [minimind](https://github.com/jingyaogong/minimind)'s recipe in TypeScript on ONNX Runtime, exported as ${info.format.toUpperCase()} (${info.arch}, ${info.dtype}).`,
    ...(info.note ? ['', `**Note:** ${info.note}.`] : []), '',
    '## Architecture', '',
    `${c.num_hidden_layers} layers, hidden size ${c.hidden_size}, ${c.num_attention_heads} query / ${c.num_key_value_heads} key-value heads of ${c.head_dim}, `
      + `FFN ${c.use_moe ? `${c.n_routed_experts} experts of ${c.moe_intermediate_size} (top-${c.num_experts_per_tok}${c.n_shared_experts ? `, ${c.n_shared_experts} shared` : ''})` : c.intermediate_size}, `
      + `vocabulary ${c.vocab_size}, RoPE theta ${c.rope_theta}${c.inference_rope_scaling ? ' with YaRN' : ''}, RMSNorm eps ${c.rms_norm_eps}${c.qk_norm ? ', QK-norm' : ''}, tied embeddings.`, '',
    '## Use', '', ...run[info.format], '',
    `Chat format: ChatML (\`<|im_start|>\`/\`<|im_end|>\`); generation stops at \`<|im_end|>\`. MiniMind's sampling defaults: temperature ${SAMPLING_DEFAULTS.temperature}, top-p ${SAMPLING_DEFAULTS.top_p}.`, '',
    '## Training', '', ...(training.length ? training : ['No training record (metrics.jsonl) was found beside the weights.']), '',
  ];
  writeFileAtomic(path.join(out, 'README.md'), text.join('\n'));
}
