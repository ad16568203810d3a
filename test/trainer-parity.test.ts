// Every stage steps as MiniMind's own trainer does. Fixtures (test/fixtures/trajectory, from
// scripts/fixtures/make_trajectory_fixtures.py) ran minimind-3's train_pretrain.py (dense
// and MoE), train_full_sft.py, train_lora.py and train_dpo.py (dense and MoE), and
// train_distillation.py (make_rl_fixtures.py: a dense student, a MoE teacher) on a tiny model: 2 epochs, an
// accumulation count that does not divide the batches per epoch, a short last batch. Here
// the same data goes through our processing, samples, trainees and training loop, in
// MiniMind's data order (its torch.randperm per epoch) and with the outcome of its random
// system-prompt and empty-think draws; every sample, every micro-batch's loss, every
// optimizer step's learning rate and gradient norm, and the final weights must agree.
//
// Tolerances (float32 on both sides; the largest error measured over the six cases, then
// the bound asserted, 3-5x): micro-batch losses 1.7e-6 relative (DPO; the others <= 2.7e-7)
// -> 5e-6; MoE aux losses 2.1e-7 -> 1e-6; gradient norms 1.3e-6 -> 5e-6; learning rates
// equal (0) -> 1e-14; final weights ||ours - MiniMind|| / ||MiniMind - start|| 4.2e-5 (MoE
// DPO; the others <= 1.5e-5) -> 1.5e-4, and every weight within 0.0085 learning rates of
// MiniMind's -> 0.03. MINIMIND_SHOW_ERRORS=1 prints what each case measures.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Batch, toBatch } from '../src/data/loader.js';
import { processData, Stage } from '../src/data/process.js';
import { PairSamples, Sample, TokenSamples } from '../src/data/samples.js';
import { ShardReader } from '../src/data/shards.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModelDir } from '../src/io/model-dir.js';
import { initLora, isLora, LoraConfig, loraA, loraB, loraHook, loraSpecs, loraTargets } from '../src/model/lora.js';
import { Params } from '../src/model/params.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { DistillTrainee } from '../src/train/distill-trainee.js';
import { DpoTrainee } from '../src/train/dpo-trainee.js';
import { LMTrainee } from '../src/train/lm-trainee.js';
import { readMetrics, StepOutput, Trainee, trainLoop, updateMode } from '../src/train/loop.js';
import { cli, isCleanError, ROOT, tmpDir } from './helpers.js';
import { maxAbsDiff, recording } from './train-helpers.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'trajectory');
/** the tolerances of the header (weight: max |ours - MiniMind| over the learning rate) */
const TOL = { loss: 5e-6, aux: 1e-6, gradNorm: 5e-6, lr: 1e-14, update: 1.5e-4, weight: 0.03 };

interface MiniMindSample {
  epoch: number; index: number;
  input_ids?: number[]; labels?: number[]; system?: number; strip?: boolean;
  x_chosen?: number[]; y_chosen?: number[]; mask_chosen?: number[]; x_rejected?: number[]; y_rejected?: number[]; mask_rejected?: number[];
  strip_chosen?: boolean; strip_rejected?: boolean;
}
interface Expected {
  argv: string[];
  hyper: { epochs: number; batch_size: number; accumulation_steps: number; max_length: number; learning_rate: number; grad_clip: number;
    weight_decay: number; beta: number | null; samples: number; batches_per_epoch: number; start: 'dense' | 'moe'; teacher?: string; alpha?: number; temperature?: number };
  micro_losses: (number | null)[]; aux_losses: number[]; steps: { grad_norm: number; lr: number }[]; samples: MiniMindSample[];
}
const expected = (name: string): Expected => JSON.parse(fs.readFileSync(path.join(FIX, name, 'expected.json'), 'utf8'));
const tok = () => MiniTokenizer.load(path.join(FIX, 'tokenizer'));

async function shards(stage: Stage, data: string): Promise<ShardReader> {
  const dir = path.join(tmpDir(), 'shards');
  await processData({ inputs: [path.join(FIX, 'data', `${data}.jsonl`)], tokenizer: tok(), outDir: dir, stage });
  return new ShardReader(dir);
}

/** MiniMind's unshifted labels as ours: the label of position t is the token after it */
const shifted = (labels: number[]) => [...labels.slice(1), -100];
/** MiniMind's DPO x / y / mask as one of our rows */
const dpoRow = (x: number[], y: number[], mask: number[]) => ({ ids: x, labels: y.map((v, t) => (mask[t] ? v : -100)) });
const same = (a: Sample, b: { ids: number[]; labels: number[] }, what: string) => {
  assert.deepEqual([...a.ids], b.ids, `${what}: input ids`);
  assert.deepEqual([...a.labels], b.labels, `${what}: labels`);
};

interface Case {
  /** our samples of MiniMind's sample s (each checked against it), as the rows of a batch */
  rows: (s: MiniMindSample) => Sample[];
  trainee: (e: Expected, params: Params, update: Trainee<Batch>['update']) => Promise<Trainee<Batch>>;
  /** the starting weights besides the model's (LoRA's adapters) */
  extra?: () => Params;
  /** MiniMind's name of one of our trained weights */
  theirName?: (ours: string) => string;
  /** DPO batches: rows [chosen of each pair; rejected of each pair] */
  pairs?: boolean;
}

const lm = (e: Expected, params: Params, update: Trainee<Batch>['update'], extra = {}) =>
  LMTrainee.create(loadModelDir(path.join(FIX, e.hyper.start)).config, params, { seqLen: e.hyper.max_length, update, ...extra }, { threads: 1 });

async function pretrainCase(): Promise<Case> {
  const r = await shards('pretrain', 'pretrain'), t = tok();
  return {
    rows: (s) => {
      const ours = new TokenSamples(r, s.input_ids!.length, 'pad', t.padId, { pretrain: true }).get(s.index);
      same(ours, { ids: s.input_ids!, labels: shifted(s.labels!) }, `PretrainDataset sample ${s.index}`);
      return [ours];
    },
    trainee: (e, params, update) => lm(e, params, update),
  };
}

/** SFT samples under MiniMind's own draws (its system prompt, its empty-think dropping) */
async function sftRows(L: number) {
  const r = await shards('sft', 'sft'), t = tok();
  const samples = new TokenSamples(r, L, 'pad', t.padId, { chat: { seed: 0, systemPromptRatio: 0.2, emptyThinkRatio: 0.2 } });
  return (s: MiniMindSample) => {
    const ours = samples.getWith(s.index, { system: s.system!, stripThink: s.strip! });
    same(ours, { ids: s.input_ids!, labels: shifted(s.labels!) }, `SFTDataset sample ${s.index} (epoch ${s.epoch}, system prompt ${s.system}, think dropped ${s.strip})`);
    return [ours];
  };
}

/** DPO pairs under MiniMind's draws (each side's empty think blocks); the policy's loss adds its MoE aux loss */
async function dpoCase(name: string): Promise<Case> {
  const e = expected(name);
  const r = await shards('dpo', 'dpo'), t = tok();
  const pairs = new PairSamples(r, e.hyper.max_length, t.padId, { seed: 0, systemPromptRatio: 0, emptyThinkRatio: 0.2 });
  return {
    pairs: true,
    rows: (s) => {
      const [c, j] = pairs.getWith(s.index, { system: -1, stripThink: s.strip_chosen! }, { system: -1, stripThink: s.strip_rejected! });
      same(c, dpoRow(s.x_chosen!, s.y_chosen!, s.mask_chosen!), `DPODataset pair ${s.index} chosen (think dropped ${s.strip_chosen})`);
      same(j, dpoRow(s.x_rejected!, s.y_rejected!, s.mask_rejected!), `DPODataset pair ${s.index} rejected (think dropped ${s.strip_rejected})`);
      return [c, j];
    },
    trainee: (ex, params, update) => DpoTrainee.create(loadModelDir(path.join(FIX, ex.hyper.start)).config, params, ex.hyper.beta!,
      { seqLen: ex.hyper.max_length - 1, update }, { threads: 1 }),
  };
}

const CASES: Record<string, () => Promise<Case>> = {
  pretrain: pretrainCase,
  pretrain_moe: pretrainCase,
  full_sft: async () => ({ rows: await sftRows(expected('full_sft').hyper.max_length), trainee: (e, params, update) => lm(e, params, update) }),
  lora: async () => {
    const e = expected('lora');
    const { config } = loadModelDir(path.join(FIX, 'dense'));
    // MiniMind's apply_lora: rank 16, every square nn.Linear, B(A(x)) added unscaled (alpha = r)
    const lc: LoraConfig = { r: 16, alpha: 16, dropout: 0, targets: loraTargets(config, 'square') };
    const theirName = (ours: string) => ours.replace(/^base_model\.model\./, '').replace(/\.lora_([AB])\.weight$/, '.lora.$1.weight');
    const initial = readSafetensors(path.join(FIX, 'lora', 'initial.safetensors')).tensors;
    assert.deepEqual(loraSpecs(config, lc).map((s) => theirName(s.name)).sort(), [...initial.keys()].sort(), 'the adapted layers are MiniMind\'s');
    return {
      rows: await sftRows(e.hyper.max_length),
      trainee: (ex, params, update) => lm(ex, params, update, { trainable: isLora, linearHook: loraHook(lc), extraParams: loraSpecs(config, lc) }),
      extra: () => new Map(lc.targets.flatMap((w) => [loraA(w), loraB(w)]).map((k) => [k, Float32Array.from(initial.get(theirName(k))!.data as Float32Array)])),
      theirName,
    };
  },
  dpo: () => dpoCase('dpo'),
  dpo_moe: () => dpoCase('dpo_moe'),
  // train_distillation.py: SFT samples, the dense student against a frozen MoE teacher (hidden 48)
  distill: async () => ({
    rows: await sftRows(expected('distill').hyper.max_length),
    trainee: (e, params, update) => DistillTrainee.create(loadModelDir(path.join(FIX, e.hyper.start)).config, params, loadModelDir(path.join(FIX, e.hyper.teacher!)),
      { alpha: e.hyper.alpha!, temperature: e.hyper.temperature! }, { seqLen: e.hyper.max_length, update }, { threads: 1 }),
  }),
};

/** ||ours - theirs|| / ||theirs - start|| over all trained weights */
function updateError(ours: Params, theirs: Map<string, { data: unknown }>, start: Params, theirName: (k: string) => string): number {
  let d = 0, u = 0;
  for (const [k, w] of ours) {
    const want = theirs.get(theirName(k))!.data as Float32Array, w0 = start.get(k)!;
    for (let i = 0; i < w.length; i++) { d += (w[i] - want[i]) ** 2; u += (want[i] - w0[i]) ** 2; }
  }
  return Math.sqrt(d / u);
}

test("MiniMind's dataset samples: PretrainDataset (bos + text + eos, eos kept on truncation, padding unlabelled), SFTDataset and DPODataset under its own draws", async () => {
  const t = tok();
  const pre = expected('pretrain'), L = pre.hyper.max_length;
  const docs = fs.readFileSync(path.join(FIX, 'data', 'pretrain.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).text as string);
  const long = await Promise.all(docs.map(async (d) => (await t.encode(d)).length > L - 2));
  // the fixture has both: documents cut to bos + L-2 tokens + eos, and padded ones
  assert.ok(pre.samples.some((s) => long[s.index] && s.input_ids!.at(-1) === t.eosId && !s.input_ids!.includes(t.padId)), 'a truncated document keeps its eos');
  assert.ok(pre.samples.some((s) => s.input_ids!.includes(t.padId) && s.labels!.filter((l) => l === -100).length === s.input_ids!.filter((i) => i === t.padId).length), 'padding, unlabelled');
  const c = await pretrainCase();
  for (const s of pre.samples) c.rows(s); // each compared with ours
  const sft = expected('full_sft'), rows = await sftRows(sft.hyper.max_length);
  for (const s of [...sft.samples, ...expected('lora').samples]) rows(s);
  assert.ok(sft.samples.some((s) => s.system! >= 0) && sft.samples.some((s) => s.strip) && sft.samples.some((s) => !s.strip), 'MiniMind drew system prompts and kept and dropped empty think blocks');
  const dpo = expected('dpo'), d = await dpoCase('dpo');
  for (const s of dpo.samples) d.rows(s);
  assert.ok(dpo.samples.some((s) => s.strip_chosen !== s.strip_rejected) && dpo.samples.some((s) => !s.strip_chosen), 'DPO draws for chosen and rejected each');
});

for (const name of Object.keys(CASES)) {
  test(`${name}: MiniMind's samples, micro-batch losses, learning rates, gradient norms and final weights over 2 epochs`, async () => {
    const e = expected(name), h = e.hyper, c = await CASES[name]();
    const acc = h.accumulation_steps, bpe = h.batches_per_epoch;
    assert.ok(h.epochs >= 2 && bpe % acc !== 0 && h.samples % h.batch_size !== 0, 'the fixture spans epochs with a short accumulation group and a short batch');
    // the batches MiniMind's loader made, of our samples
    const rows = e.samples.map((s) => c.rows(s));
    const batches: Batch[][] = [];
    for (let ep = 0; ep < h.epochs; ep++) {
      const mine = rows.filter((_, i) => e.samples[i].epoch === ep);
      batches.push([]);
      for (let b = 0; b < bpe; b++) {
        const part = mine.slice(b * h.batch_size, (b + 1) * h.batch_size);
        batches[ep].push(toBatch(c.pairs ? [...part.map((p) => p[0]), ...part.map((p) => p[1])] : part.map((p) => p[0]), part[0][0].ids.length));
      }
    }
    const { params } = loadModelDir(path.join(FIX, h.start));
    for (const [k, v] of c.extra?.() ?? []) params.set(k, v);
    const seen: StepOutput[] = [];
    const trainee = await c.trainee(e, params, updateMode(acc));
    const start: Params = new Map([...trainee.shapes.keys()].map((k) => [k, Float32Array.from(params.get(k)!)]));
    const batchesInOrder = batches.flat();
    const runDir = tmpDir();
    const res = await trainLoop(recording(trainee, seen), { batchesPerEpoch: bpe, batch: (ep, b) => batches[ep][b], tokens: (b) => b.B * b.T }, {
      stage: name, runDir, epochs: h.epochs, accumulationSteps: acc, learningRate: h.learning_rate, schedule: 'minimind', warmupSteps: 0,
      gradClip: h.grad_clip, weightDecay: h.weight_decay, logInterval: 1, saveInterval: 0, keepCheckpoints: 1, seed: 0, resumeFrom: null,
      config: {}, identity: { batch_size: h.batch_size, accumulation_steps: acc, max_seq_len: h.max_length, data: name }, progress: false,
    });
    const trained = (await trainee.snapshot()).weights;
    await trainee.release();

    // steps counted per epoch, the last group of each epoch short
    const perEpoch = Math.ceil(bpe / acc);
    assert.equal(res.step, h.epochs * perEpoch);
    const m = readMetrics(runDir);
    assert.equal(m.length, e.steps.length, 'one optimizer step per MiniMind step');
    assert.deepEqual(m.map((x) => x.epoch), e.steps.map((_, i) => Math.floor(i / perEpoch)), 'each step within its epoch');
    assert.equal(seen.length, e.micro_losses.length);
    const worst = { loss: 0, aux: 0, gradNorm: 0, lr: 0, update: 0, weight: 0 };
    const within = (what: 'loss' | 'aux' | 'gradNorm' | 'lr', got: number, want: number, where: string) => {
      const err = Math.abs(got - want) / Math.max(Math.abs(want), 1e-6);
      worst[what] = Math.max(worst[what], err);
      assert.ok(err <= TOL[what], `${where}: ${got} vs MiniMind ${want} (relative error ${err.toExponential(2)})`);
    };
    for (const [i, want] of e.micro_losses.entries()) {
      // null: a micro-batch without labels (its replies cut off), where MiniMind's cross-entropy is 0/0 = NaN;
      // ours counts it 0 (README); both give it no gradient (the step's norm above says so)
      if (want === null) { assert.equal(batchesInOrder[i].labelTokens, 0); assert.equal(seen[i].loss, 0, `micro-batch ${i + 1} has no labels`); continue; }
      within('loss', seen[i].loss, want, `micro-batch ${i + 1}: loss`);
    }
    for (const [i, want] of e.aux_losses.entries()) within('aux', seen[i].metrics!.aux_loss, want, `micro-batch ${i + 1}: aux loss`);
    for (const [i, want] of e.steps.entries()) {
      within('lr', m[i].lr, want.lr, `step ${i + 1}: lr`);
      within('gradNorm', m[i].grad_norm, want.grad_norm, `step ${i + 1}: gradient norm`);
    }
    if (name !== 'lora') assert.ok(e.steps.some((s) => s.grad_norm > h.grad_clip), 'the fixture clips');
    const theirs = readSafetensors(path.join(FIX, name, 'final.safetensors')).tensors;
    assert.equal(trained.size, theirs.size, 'the same weights trained');
    worst.update = updateError(trained, theirs, start, c.theirName ?? ((k) => k));
    assert.ok(worst.update < TOL.update, `final weights: ${worst.update.toExponential(2)} of the update`);
    for (const [k, w] of trained) {
      const d = maxAbsDiff(w, theirs.get((c.theirName ?? ((x) => x))(k))!.data as Float32Array) / h.learning_rate;
      worst.weight = Math.max(worst.weight, d);
      assert.ok(d <= TOL.weight, `final ${k}: max difference ${(d * h.learning_rate).toExponential(2)} (${d.toExponential(2)} x the learning rate)`);
    }
    if (process.env.MINIMIND_SHOW_ERRORS) console.log(`${name} worst relative errors: ${JSON.stringify(worst)}`);
  });
}

test("LoRA adapters start as MiniMind's model_lora.py by default (A ~ N(0, 0.02), B = 0); --lora_init peft starts A as PEFT does", () => {
  const { config } = loadModelDir(path.join(FIX, 'dense'));
  const lc: LoraConfig = { r: 16, alpha: 16, dropout: 0, targets: loraTargets(config, 'square') };
  const stats = (p: Params, part: 'A' | 'B') => {
    const xs = [...p].filter(([k]) => k.endsWith(`lora_${part}.weight`)).flatMap(([, v]) => [...v]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    return { n: xs.length, mean, std: Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length), max: Math.max(...xs.map(Math.abs)) };
  };
  // MiniMind's own initial adapters (recorded by the fixture script): std 0.02
  const theirs: Params = new Map([...readSafetensors(path.join(FIX, 'lora', 'initial.safetensors')).tensors]
    .map(([k, t]) => [k.replace('.lora.A.', '.lora_A.').replace('.lora.B.', '.lora_B.'), t.data as Float32Array]));
  const mm = stats(initLora(config, lc), 'A'), want = stats(theirs, 'A');
  assert.equal(mm.n, want.n);
  for (const s of [mm, want]) assert.ok(Math.abs(s.mean) < 0.002 && Math.abs(s.std - 0.02) < 0.0015 && s.max > 0.05 && s.max < 0.1, `A ~ N(0, 0.02): ${JSON.stringify(s)}`);
  assert.equal(stats(initLora(config, lc), 'B').max, 0);
  assert.equal(stats(theirs, 'B').max, 0);
  const bound = 1 / Math.sqrt(32), peft = stats(initLora(config, lc, 42, 'peft'), 'A');
  assert.ok(peft.max <= bound && peft.max > 0.95 * bound && Math.abs(peft.std - bound / Math.sqrt(3)) < 0.005, `A ~ U(-1/sqrt(in), 1/sqrt(in)): ${JSON.stringify(peft)}`);
  assert.equal(stats(initLora(config, lc, 42, 'peft'), 'B').max, 0);
  // the CLI's default is MiniMind's
  assert.match(cli(['lora-sft', '--help']).stdout, /--lora_init .*\[choices: "minimind", "peft"\] \[default: "minimind"\]/s);
});

test('--empty_think_ratio and --system_prompt_ratio outside [0, 1] are refused before any work', () => {
  const data = ['--data_path', path.join(FIX, 'data', 'dpo.jsonl'), '--from_weight', path.join(FIX, 'dense'), '--tokenizer', path.join(FIX, 'tokenizer'), '--out_dir', tmpDir()];
  for (const [cmd, flag] of [['dpo-train', '--empty_think_ratio'], ['full-sft', '--empty_think_ratio'], ['lora-sft', '--system_prompt_ratio']]) {
    const why = isCleanError(cli([cmd, ...data, flag, '1.5']), new RegExp(`${flag} must be a number from 0 to 1, got 1.5`));
    assert.equal(why, null, `${cmd} ${flag}: ${why}`);
  }
});
