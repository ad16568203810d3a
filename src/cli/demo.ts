// `minimind demo`: the whole pipeline on the machine at hand, no download: generate a
// corpus, train a tokenizer, pretrain a tiny model, and measure held-out facts; fine-tune it
// to chat (country questions and single-digit sums), then reinforce its sums with GRPO and
// a verifiable reward, measured on sums it never trained on.
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import { demoCorpus } from '../demo/corpus.js';
import { TokenSamples } from '../data/samples.js';
import { heldOutAccuracy, heldOutChatAccuracy, heldOutChatExactMatch, sampledChatExactMatch } from '../eval/held-out.js';
import { streamText } from '../eval/generate-text.js';
import { Generator } from '../model/generate.js';
import { trainTokenizer } from '../tokenizer/train-corpus.js';
import { arithmeticTask, ArithmeticTask, sumChats, sumProbes, sumPrompts, sumReward } from '../demo/arithmetic.js';
import { loadModelDir } from '../io/model-dir.js';
import { GrpoTrainee } from '../train/grpo-trainee.js';
import { runLMStage } from '../train/lm-stage.js';
import { TrainOptions } from '../train/options.js';
import { runRLStage } from '../train/rl-stage.js';
import { SessionOptions } from '../runtime/session.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { Args, bool01, handler, modelConfig, rel } from './common.js';
import { commandInfo } from './command-info.js';

export const demoCommand = {
  ...commandInfo('demo'),
  builder: (y: Argv) => y
    .option('out_dir', { type: 'string', default: 'out/demo', describe: 'where the demo writes its data and models' })
    .option('steps', { type: 'number', default: 900, describe: 'pretraining steps' })
    .option('sft_steps', { type: 'number', default: 800, describe: 'supervised fine-tuning steps (0 = stop after pretraining)' })
    .option('grpo_steps', { type: 'number', default: 300, describe: 'GRPO steps on sums after fine-tuning (0 = stop after fine-tuning)' })
    .option('threads', { type: 'number', default: 0, describe: 'CPU threads (0 = all cores)' })
    .option(...bool01('progress', 'show progress bars', true)),
  handler: handler(async (a: Args) => {
    const t0 = performance.now();
    const out = a.out_dir as string, say = (m: string) => process.stderr.write(m + '\n');
    fs.mkdirSync(out, { recursive: true });
    say(chalk.bold('1/6 corpus') + ': templated facts about fictional countries (English and Chinese) and arithmetic');
    const { docs, probes, chats, chatProbes } = demoCorpus();
    const corpus = path.join(out, 'corpus.jsonl');
    fs.writeFileSync(corpus, docs.map((text) => JSON.stringify({ text })).join('\n') + '\n');
    say(`  ${docs.length} documents -> ${rel(corpus)}; ${probes.length} held-out probes about ${probes.length / 2} unseen countries`);

    say(chalk.bold('2/6 tokenizer') + ': byte-level BPE');
    const tokDir = path.join(out, 'tokenizer');
    const tr = await trainTokenizer([corpus], 1024, tokDir, { progress: a.progress as boolean });
    say(`  ${tr.merges} merges in ${tr.seconds.toFixed(1)} s -> ${rel(tokDir)}`);

    say(chalk.bold('3/6 pretrain') + ': tiny MiniMind (dim 128, 4 layers)');
    const train: TrainOptions = {
      tokenizer: tokDir, outDir: out, saveWeight: 'pretrain', epochs: 1, maxSteps: a.steps as number, batchSize: 16,
      learningRate: 2e-3, schedule: 'cosine', warmupSteps: 20, weightDecay: 0.01, accumulationSteps: 1, gradClip: 1.0,
      maxSeqLen: 128, logInterval: 25, saveInterval: 250, keepCheckpoints: 1, fromResume: false, seed: 42, progress: a.progress as boolean,
    };
    const session = { provider: 'cpu' as const, threads: a.threads as number };
    const r = await runLMStage({
      stage: 'pretrain', train, session, log: say, model: (vocab) => modelConfig({ preset: 'tiny' }, vocab),
      data: { dataPath: corpus, progress: false }, dataStage: 'pretrain',
      samples: (shards, tok, T) => new TokenSamples(shards, T, 'pack', tok.padId),
    });
    if (r.code !== 0) return r.code;

    say(chalk.bold('4/6 evaluation') + ': facts about countries that never appeared in training');
    const res = await heldOutAccuracy(r.config, r.params, r.tokenizer, probes, a.threads as number);
    const gen = await Generator.create(r.config, r.params, { threads: a.threads as number });
    for (const p of probes.slice(0, 4)) {
      process.stdout.write(`  ${chalk.cyan(p.prompt)}`);
      await streamText(gen, r.tokenizer, [r.tokenizer.bosId, ...(await r.tokenizer.encode(p.prompt))], { temperature: 0, maxNewTokens: 12 },
        (s) => process.stdout.write(chalk.yellow(s)), (text) => /[.。]/.test(text));
      process.stdout.write(chalk.gray(`   (expected${p.answer})\n`));
    }
    await gen.release();
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    process.stdout.write(`\nheld-out accuracy: ${chalk.bold.green(pct(res.accuracy))} on ${res.n} probes (4-way choice; chance ${pct(res.chance)})\n\n`);
    let finalDir = r.runDir;
    if ((a.sft_steps as number) > 0) {
      say(chalk.bold('5/6 supervised fine-tuning') + ': questions and answers in chat format, then a chat about unseen countries');
      const sftData = path.join(out, 'sft.jsonl');
      // the training sums three times over: ~8% of the records
      const sums = arithmeticTask(), sumSft = sumChats(sums.train);
      fs.writeFileSync(sftData, [...chats, ...sumSft, ...sumSft, ...sumSft].map((c) => JSON.stringify(c)).join('\n') + '\n');
      const s = await runLMStage({
        stage: 'full_sft', train: { ...train, saveWeight: 'full_sft', maxSteps: a.sft_steps as number, learningRate: 3e-3, warmupSteps: 10, maxSeqLen: 64, saveInterval: 1000 },
        session, fromWeight: r.runDir, log: say, data: { dataPath: sftData, progress: false }, dataStage: 'sft',
        samples: (shards, tok, T) => new TokenSamples(shards, T, 'pad', tok.padId),
      });
      if (s.code !== 0) return s.code;
      const em = await heldOutChatExactMatch(s.config, s.params, s.tokenizer, chatProbes, a.threads as number);
      chatProbes.slice(0, 3).forEach((p, i) => {
        const ok = em.answers[i] === p.answer;
        process.stdout.write(`  ${chalk.cyan('👶 ' + p.messages[0].content)}\n  ${chalk.green('🤖')} ${chalk.yellow(em.answers[i])}${ok ? chalk.green('  ✓') : chalk.red(`  ✗ (expected ${p.answer})`)}\n`);
      });
      const cr = await heldOutChatAccuracy(s.config, s.params, s.tokenizer, chatProbes, a.threads as number);
      process.stdout.write(`\nheld-out chat, ${cr.n} questions about unseen countries: exact answer ${chalk.bold.green(pct(em.accuracy))} (free-form, greedy); `
        + `4-way choice ${chalk.bold.green(pct(cr.accuracy))} (chance ${pct(cr.chance)})\n`);
      finalDir = s.runDir;
      if ((a.grpo_steps as number) > 0) finalDir = await grpoSums(a, out, s.runDir, sums, say, { provider: 'cpu', threads: a.threads as number }) ?? finalDir;
    }
    say(`demo finished in ${((performance.now() - t0) / 1000 / 60).toFixed(1)} min; chat with it: npx minimind eval --load_from ${rel(finalDir)}`);
  }),
};

/**
 * Step 6: GRPO on the training sums with a verifiable reward (1 when the answer's last number
 * is the sum), from the fine-tuned model; exact answers on the held-out sums before and after,
 * greedy (one per question) and sampled (16 per question at the rollouts' temperature).
 * Returns the run directory (undefined when interrupted).
 */
async function grpoSums(a: Args, out: string, sftDir: string, sums: ArithmeticTask, say: (m: string) => void, session: SessionOptions): Promise<string | undefined> {
  say(chalk.bold('6/6 reinforcement learning') + `: GRPO on ${sums.train.length} sums asked in chat, rewarded when the number is right`);
  const data = path.join(out, 'sums.jsonl');
  fs.writeFileSync(data, sumPrompts(sums.train).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const probes = sumProbes(sums.heldOut), threads = a.threads as number, temperature = 0.7;
  const measure = async (dir: string) => {
    const { config, params } = loadModelDir(dir), tok = MiniTokenizer.load(dir);
    return { greedy: (await heldOutChatExactMatch(config, params, tok, probes, threads, 16)).accuracy, sampled: (await sampledChatExactMatch(config, params, tok, probes, 16, temperature, threads, 16)).accuracy };
  };
  const before = await measure(sftDir);
  const t0 = performance.now();
  const g = await runRLStage({
    stage: 'grpo', session, dataPath: [data], systemPromptRatio: 0, thinkingRatio: 0, fromWeight: sftDir, log: say,
    train: { tokenizer: sftDir, outDir: out, saveWeight: 'grpo', epochs: 1, maxSteps: a.grpo_steps as number, batchSize: 8, learningRate: 3e-4, schedule: 'cosine',
      warmupSteps: 0, weightDecay: 0.01, accumulationSteps: 1, gradClip: 1.0, maxSeqLen: 64, logInterval: 10, saveInterval: 1000, keepCheckpoints: 1, fromResume: false,
      seed: 42, progress: a.progress as boolean },
    trainee: (c, params, tok, build, so) => GrpoTrainee.create(c, params, tok, {
      lossType: 'grpo', beta: 0, epsilon: 0.2, epsilonHigh: 5, maxPromptLen: 64, seed: 42, rolloutWeights: 'live',
      rollout: { numGenerations: 16, maxNewTokens: 16, temperature, topK: 0, topP: 1, stopIds: [tok.eosId], vocabLimit: tok.vocabSize },
      rewards: { rules: false, source: { name: 'sum', score: async (samples) => samples.map((x) => ({ score: sumReward(x.answer, x.reference) })) } },
    }, build, so, () => {}),
  });
  if (g.code !== 0) return undefined;
  const seconds = (performance.now() - t0) / 1000, after = await measure(g.runDir);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  process.stdout.write(`\nheld-out sums (${probes.length} never trained): exact answer ${chalk.bold.green(`${pct(before.greedy)} -> ${pct(after.greedy)}`)} (greedy), `
    + `${chalk.bold.green(`${pct(before.sampled)} -> ${pct(after.sampled)}`)} (16 samples each at temperature ${temperature}); ${a.grpo_steps} GRPO steps in ${seconds.toFixed(0)} s\n\n`);
  return g.runDir;
}
