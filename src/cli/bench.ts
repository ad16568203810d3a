import type { Argv } from 'yargs';
import { benchDecode } from '../bench/decode.js';
import { benchTrain, TrainMode } from '../bench/train.js';
import { benchTokenizer as benchTokenizerTraining, benchTokenizerDir } from '../bench/tokenizer.js';
import { benchGrpo } from '../bench/grpo.js';
import { defaultRolloutWeights, RolloutWeights } from '../train/rollout.js';
import { benchData } from '../bench/data.js';
import { benchCeval } from '../bench/ceval.js';
import { benchServe, ServeBenchOptions } from '../bench/serve.js';
import { HalfType } from '../graph/graph.js';
import { benchMatmul, trainShapes } from '../bench/matmul.js';
import { profileFiles, summarizeProfile } from '../bench/profile.js';
import fs, { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Quantize } from '../model/generate.js';
import { UserError } from '../util/errors.js';
import { flagGiven } from './argv.js';
import { Args, handler, modelConfig, modelOptions, runtimeOptions, sessionOptions } from './common.js';
import { commandInfo } from './command-info.js';

export const benchCommand = {
  ...commandInfo('bench'),
  builder: (y: Argv) => runtimeOptions(modelOptions(y))
    .positional('what', { choices: ['train', 'decode', 'tokenizer', 'data', 'ceval', 'serve', 'matmul'], describe: 'train: optimizer steps on random tokens; matmul: MatMul/Gemm GFLOP/s at the shapes a training step of --preset runs, and at 2048^3; decode: greedy generation with the KV cache; tokenizer: train vocab 6400 on 100 MB; data: process 1 GB of pretrain JSONL; ceval: score the C-Eval val questions (random weights); serve: `minimind serve` under 1, 8 and 32 concurrent streaming clients (--duration: soak with disconnecting clients)' })
    // train and matmul: the three MiniMind v1 models, one JSON line each (the PyTorch baseline's small, base, moe)
    .choices('preset', ['all'])
    .describe('preset', 'model size preset (bench train/matmul: all = minimind-v1-small, minimind-v1, minimind-v1-moe)')
    .option('shapes_out', { type: 'string', describe: 'matmul: also write the shape list (JSON) here, for scripts/bench/torch_mm.py' })
    .option('corpus_mb', { type: 'number', describe: 'tokenizer/data: size of the generated corpus in MB (default 100 / 1000)' })
    .option('mode', { type: 'string', default: 'pretrain', choices: ['pretrain', 'sft', 'lora', 'dpo', 'distill', 'grpo'],
      describe: 'train: what trains (lora: rank-16 adapters on the square layers; dpo: policy + reference; distill: student + frozen teacher of the same shape; grpo: rollouts of --batch_size prompts x --num_generations, then the update)' })
    .option('num_generations', { type: 'number', default: 4, describe: 'train --mode grpo: completions per prompt' })
    .option('prompt_len', { type: 'number', default: 64, describe: 'train --mode grpo: prompt tokens' })
    .option('max_gen_len', { type: 'number', default: 64, describe: 'train --mode grpo: tokens sampled per completion (no stop token)' })
    .option('rollout_weights', { type: 'string', default: 'auto', choices: ['auto', 'live', 'rebuild'], describe: 'train --mode grpo: how rollouts get the current weights (auto: as grpo/ppo choose)' })
    .option('loss_type', { type: 'string', default: 'cispo', choices: ['grpo', 'cispo'], describe: 'train --mode grpo: the policy loss' })
    .option('batch_size', { type: 'number', default: 4, describe: 'train/matmul: sequences per step' })
    .option('max_seq_len', { type: 'number', default: 512, describe: 'train/matmul: tokens per sequence' })
    .option('warmup', { type: 'number', default: 2, describe: 'untimed runs first' })
    .option('timed', { type: 'number', default: 5, describe: 'timed runs (the median is reported)' })
    .option('requests', { type: 'number', default: 32, describe: 'serve: requests per concurrency level' })
    .option('request_tokens', { type: 'number', default: 64, describe: 'serve: tokens generated per request' })
    .option('clients', { type: 'string', default: '1,8,32', describe: 'serve: concurrency levels' })
    .option('rounds', { type: 'number', default: 4, describe: 'serve: the concurrency levels take turns this many times, each with its share of --requests in whole waves of its clients (the machine\'s speed drifts)' })
    .option('duration', { type: 'number', describe: 'serve: soak for this many seconds instead' })
    .option('load_from', { type: 'string', describe: 'serve: model directory (default: random weights of --preset)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON line' })
    .option('dtype', { type: 'string', default: 'float32', choices: ['float32', 'float16', 'bfloat16'], describe: 'train: MatMul precision (mixed precision; float16 with loss scaling)' })
    .option('attn_chunks', { type: 'number', describe: 'train: causal attention query blocks (default: blocks of ~128)' })
    .option('mem_pattern', { type: 'boolean', default: false, describe: "ONNX Runtime's memory pattern planning" })
    .option('mem_arena', { type: 'boolean', describe: "ONNX Runtime's CPU memory arena (default: on for training sessions, whose shapes repeat every step; off otherwise)" })
    .option('data_dir', { type: 'string', default: 'dataset/ceval-exam', describe: 'ceval: C-Eval folder (val/*.csv)' })
    .option('tokenizer', { type: 'string', default: 'model', describe: 'ceval: tokenizer directory (without one in model/: a tokenizer trained on generated text)' })
    .option('batch_tokens', { type: 'number', describe: 'ceval: tokens per forward pass (default 1024)' })
    .option('one_at_a_time', { type: 'boolean', default: false, describe: 'ceval: one question per run through the decode graph, full LM head (for comparison)' })
    .option('quantize', { type: 'string', default: 'none', choices: ['none', 'q4'], describe: 'decode: weight format (q4: 4-bit MatMulNBits)' })
    .option('profile', { type: 'string', describe: "train: ONNX Runtime's per-node profile, written with this path prefix, summed by op type into the result (where the time goes)" })
    .example('$0 bench train --preset minimind-v1-small --batch_size 4 --max_seq_len 512 --json', 'training throughput of the 26.9M model'),
  handler: handler(async (a: Args) => {
    if (a.preset !== 'all') return benchOne(a);
    if (a.what !== 'train' && a.what !== 'matmul') throw new UserError(`--preset all is for bench train and bench matmul, not bench ${a.what}`);
    if (a.shapes_out) throw new UserError('--shapes_out needs one --preset, not all');
    for (const preset of ALL_PRESETS) await benchOne({ ...a, preset });
  }),
};

const ALL_PRESETS = ['minimind-v1-small', 'minimind-v1', 'minimind-v1-moe'];

async function benchOne(a: Args): Promise<void> {
  const c = modelConfig(a);
  const so = { ...sessionOptions(a), memArena: a.mem_arena as boolean | undefined, memPattern: a.mem_pattern as boolean, profilePrefix: a.profile as string | undefined };
  const started = Date.now();
  if (a.profile) fs.mkdirSync(path.dirname(path.resolve(a.profile as string)), { recursive: true });
  if (a.what === 'matmul' && a.shapes_out) writeFileSync(a.shapes_out as string, JSON.stringify({ preset: a.preset, batch_size: a.batch_size, max_seq_len: a.max_seq_len, shapes: trainShapes(c, a.batch_size as number, a.max_seq_len as number) }) + '\n');
  const res = a.what === 'serve' ? await benchServe(c, serveOptions(a))
    : a.what === 'train' && a.mode === 'grpo' ? await benchGrpo(c, so, { batchSize: a.batch_size as number, numGenerations: a.num_generations as number, promptLen: a.prompt_len as number,
      genLen: a.max_gen_len as number, lossType: a.loss_type as 'grpo' | 'cispo', warmup: a.warmup as number, timed: a.timed as number,
      weights: a.rollout_weights === 'auto' ? defaultRolloutWeights(so.provider ?? 'cpu', a.max_gen_len as number) : a.rollout_weights as RolloutWeights })
    : a.what === 'train'
    ? await benchTrain(c, a.batch_size as number, a.max_seq_len as number, so, a.warmup as number, a.timed as number, a.attn_chunks as number | undefined, a.mode as TrainMode, a.dtype as 'float32' | HalfType)
    : a.what === 'matmul' ? await benchMatmul(c, a.batch_size as number, a.max_seq_len as number, so, a.warmup as number, a.timed as number)
    : a.what === 'ceval' ? await benchCeval(c, so, { dataDir: a.data_dir as string, tokenizer: cevalTokenizer(a), batchTokens: a.batch_tokens as number | undefined, oneAtATime: a.one_at_a_time as boolean })
    : a.what === 'decode' ? await benchDecode(c, { ...so, quantize: a.quantize as Quantize }, 16, 100, a.timed as number)
      : a.what === 'tokenizer' ? await benchTokenizerTraining((a.corpus_mb as number | undefined) ?? 100) : await benchData((a.corpus_mb as number | undefined) ?? 1000);
  const profile = a.profile ? summarizeProfile(profileFiles(a.profile as string, started)) : undefined;
  const out = { ...(a.what === 'tokenizer' || a.what === 'data' ? {} : { preset: a.preset }), ...(a.what === 'decode' ? { quantize: a.quantize } : {}), ...res, ...(profile ? { profile } : {}) };
  if (a.json) process.stdout.write(JSON.stringify(out) + '\n');
  else for (const [k, v] of Object.entries(out)) process.stdout.write(`${k.padEnd(16)} ${k === 'shapes' ? shapeTable(v as Shape[]) : Array.isArray(v) ? v.map((x) => Number(x).toFixed(3)).join(' ') : typeof v === 'number' ? +v.toFixed(4) : v}\n`);
}

type Shape = { m: number; k: number; n: number; trans: string; count: number; what: string; gflops: number };
const shapeTable = (ss: Shape[]) => ss.map((s) => `\n  ${`${s.m}x${s.k}x${s.n}${s.trans ? ` trans${s.trans}` : ''}`.padEnd(24)} x${String(s.count).padEnd(4)} ${s.gflops.toFixed(1).padStart(7)} GFLOP/s  ${s.what}`).join('');

/** --tokenizer, else model/'s, else (a fresh clone, an installed package) one trained on the benchmarks' generated text */
function cevalTokenizer(a: Args): string {
  const dir = a.tokenizer as string;
  if (flagGiven('tokenizer') || fs.existsSync(path.join(dir, 'tokenizer.json'))) return dir;
  process.stderr.write(`note: no tokenizer in ${dir}/: using one trained on generated text (\`minimind download tokenizer\` fetches MiniMind's)\n`);
  return benchTokenizerDir();
}

function serveOptions(a: Args): ServeBenchOptions {
  const levels = String(a.clients).split(',').map(Number);
  if (levels.some((n) => !Number.isInteger(n) || n < 1)) throw new UserError(`--clients must be positive integers separated by commas, got ${a.clients}`);
  if (!Number.isInteger(a.rounds) || (a.rounds as number) < 1) throw new UserError(`--rounds must be a positive integer, got ${a.rounds}`);
  return { loadFrom: a.load_from as string | undefined, requests: a.requests as number, maxTokens: a.request_tokens as number, levels, rounds: a.rounds as number,
    duration: a.duration as number | undefined, threads: a.threads as number, quantize: a.quantize as string, log: (m) => process.stderr.write(m + '\n') };
}
