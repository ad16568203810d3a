// `minimind eval`: chat in the terminal with a model (optionally base + LoRA adapter).
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import { loadChatModel, promptIds } from '../eval/chat.js';
import { streamText } from '../eval/generate-text.js';
import { loadModelDir, saveModelDir } from '../io/model-dir.js';
import { Quantize } from '../model/generate.js';
import { loadAdapter, mergeLora } from '../model/lora.js';
import { ChatMessage } from '../tokenizer/tokenizer.js';
import { chatRepl } from './chat-repl.js';
import { stepBar } from './step-bar.js';
import { UserError } from '../util/errors.js';
import { flagGiven } from './argv.js';
import { Args, bool01, handler, loadOptions, modelConfig, modelSource, rel, requireDir, resolveWeight, runtimeOptions, sampling, samplingOptions, sessionOptions } from './common.js';
import { commandInfo } from './command-info.js';

export const chatCommand = {
  ...commandInfo('eval'),
  builder: (y: Argv) => loadOptions(samplingOptions(runtimeOptions(y)), 'out/full_sft')
    .option('lora', { type: 'string', describe: 'LoRA adapter directory, applied unmerged' })
    .option('system', { type: 'string', describe: 'system prompt' })
    .option(...bool01('history', 'keep earlier turns in the prompt while they fit the context window (multi-turn)', true))
    .option(...bool01('open_thinking', "let the model think first (the minimind-3 template's open_thinking)", false))
    .option(...bool01('show_speed', 'print the decoding speed after each answer', true))
    .option('quantize', { type: 'string', default: 'none', choices: ['none', 'q4'], describe: 'weights for decoding (q4: 4-bit, ~3x faster)' })
    .option('prompt', { type: 'string', describe: 'answer this one message and exit' })
    // eval_llm.py's ways of naming a model and a history, mapped onto the flags above
    .option('weight', { type: 'string', describe: "eval_llm.py: <save_dir>/<weight> (a model directory) or <save_dir>/<weight>_<hidden_size>[_moe].pth (minimind3 shape unless --preset); a name with 'pretrain' continues text without the chat template", group: 'MiniMind compatibility:' })
    .option('save_dir', { type: 'string', default: 'out', describe: 'eval_llm.py: where --weight and --lora_weight are found', group: 'MiniMind compatibility:' })
    .option('lora_weight', { type: 'string', describe: 'eval_llm.py: the adapter directory <save_dir>/<lora_weight> (None: no adapter); here: --lora DIR', group: 'MiniMind compatibility:' })
    .option('historys', { type: 'number', describe: 'eval_llm.py: keep the last N messages of the conversation (0: none); here: --history 1|0', group: 'MiniMind compatibility:' })
    .example('$0 eval --load_from out/full_sft', 'chat with the SFT model')
    .example('$0 eval --weight full_sft --historys 4', "MiniMind's eval_llm.py command line"),
  handler: handler(async (a: Args) => {
    const { source, raw } = evalSource(a);
    const { gen, tok, maxLen } = await loadChatModel({ ...source, lora: evalLora(a), quantize: a.quantize as Quantize, session: sessionOptions(a) });
    const system: ChatMessage[] = a.system ? [{ role: 'system', content: a.system as string }] : [];
    let history: ChatMessage[] = [...system];
    const o = sampling(a), keep = a.historys as number | undefined;
    const answer = async (q: string) => {
      // eval_llm.py --historys N: the last N messages; --history 0: none
      if (keep !== undefined) history = [...system, ...(keep > 0 ? history.slice(system.length).slice(-keep) : [])];
      history.push({ role: 'user', content: q });
      // room for the answer: --max_new_tokens, but at most half the window (MiniMind's 8192 exceeds small models' windows)
      const budget = maxLen - Math.min(o.maxNewTokens ?? 256, Math.floor(maxLen / 2));
      // a pretrained model (eval_llm.py --weight pretrain) continues the text itself
      const ids = raw ? [tok.bosId, ...(await tok.encode(q))].slice(-budget) : await promptIds(tok, history, budget, { open_thinking: a.open_thinking });
      process.stdout.write(chalk.green('🤖 '));
      const t0 = performance.now();
      const { text, tokens } = await streamText(gen, tok, ids, o, (s) => process.stdout.write(s));
      process.stdout.write('\n');
      if (a.show_speed) process.stderr.write(chalk.gray(`[Speed]: ${(tokens / Math.max((performance.now() - t0) / 1000, 1e-9)).toFixed(2)} tokens/s\n`));
      history.push({ role: 'assistant', content: text });
      if (!a.history && keep === undefined) history = [...system];
    };
    if (a.prompt !== undefined) { await answer(a.prompt as string); await gen.release(); return; }
    await chatRepl('chat with the model', answer, () => { history = [...system]; });
    await gen.release();
  }),
};

/**
 * The model `eval` loads: --load_from, or eval_llm.py's --weight (also its default
 * `--load_from model`, which means "--weight full_sft" there) resolved in --save_dir;
 * `raw`: a pretrained model, prompted without the chat template as eval_llm.py does.
 */
function evalSource(a: Args) {
  const minimindDefault = a.load_from === 'model' && !fs.existsSync(path.join('model', 'config.json'));
  const weight = (a.weight as string | undefined) ?? (minimindDefault ? 'full_sft' : undefined);
  if (weight === undefined) return { source: modelSource(a, 'model directory', 'train one with `minimind full-sft`'), raw: false };
  if (flagGiven('load_from') && !minimindDefault) throw new UserError('--weight and --load_from both name the model: give one');
  // eval_llm.py builds MiniMind-3's default shape (hidden 768, 8 layers) for a .pth file
  const b = flagGiven('preset') ? a : { ...a, preset: 'minimind3' };
  const loadFrom = resolveWeight(b, '--weight', weight, a.save_dir as string);
  return { source: { loadFrom, presetConfig: modelConfig(b), tokenizer: a.tokenizer as string }, raw: weight.includes('pretrain') };
}

/** --lora, or eval_llm.py's --lora_weight NAME: the adapter directory <save_dir>/NAME. */
function evalLora(a: Args): string | undefined {
  const name = a.lora_weight as string | undefined;
  if (name === undefined || name === 'None') return a.lora as string | undefined;
  if (a.lora !== undefined) throw new UserError('--lora_weight and --lora both name the adapter: give one');
  const dir = path.join(a.save_dir as string, name);
  if (fs.existsSync(path.join(dir, 'adapter_config.json'))) return dir;
  const pth = fs.readdirSync(a.save_dir as string, { withFileTypes: true }).find((f) => f.isFile() && f.name.startsWith(`${name}_`) && f.name.endsWith('.pth'));
  if (pth) throw new UserError(`--lora_weight ${name}: MiniMind's LoRA file ${path.join(a.save_dir as string, pth.name)} is not read here; train the adapter with \`minimind lora-sft --lora_name ${name}\` and pass --lora ${dir}`);
  throw new UserError(`--lora_weight ${name}: no adapter directory ${dir} (train one with \`minimind lora-sft --lora_name ${name}\`, or pass --lora DIR)`);
}

export const mergeLoraCommand = {
  ...commandInfo('merge-lora'),
  builder: (y: Argv) => y
    .option('base', { type: 'string', default: 'out/full_sft', describe: 'base model directory' })
    .option('adapter', { type: 'string', default: 'out/lora_sft', describe: 'adapter directory' })
    .option('out', { type: 'string', default: 'out/lora_merged', describe: 'where to write the merged model' })
    .option(...bool01('progress', 'show a progress bar', true)),
  handler: handler(async (a: Args) => {
    requireDir(a.base as string, 'base model', 'train it first');
    const bar = stepBar('merge-lora', a.progress as boolean);
    bar('reading', 0, 1);
    const { config, params } = loadModelDir(a.base as string);
    const { lc, params: ad } = loadAdapter(a.adapter as string, config);
    bar('reading', 1, 1);
    const merged = mergeLora(config, params, ad, lc, (d, t) => bar('merging', d, t));
    bar('writing', 0, 1);
    saveModelDir(a.out as string, config, merged, a.base as string);
    bar('writing', 1, 1);
    bar.stop();
    if (!fs.existsSync(path.join(a.out as string, 'tokenizer.json'))) process.stderr.write(chalk.yellow('note: no tokenizer copied (the base directory has none)\n'));
    process.stderr.write(`${chalk.green('done')}: merged ${lc.targets.length} adapted layers -> ${rel(a.out as string)}\n`);
  }),
};
