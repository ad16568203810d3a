// `minimind demo`: the whole pipeline on the machine at hand, no download: generate a
// corpus, train a tokenizer, pretrain a tiny model, and measure held-out facts.
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import { demoCorpus } from '../demo/corpus.js';
import { TokenSamples } from '../data/samples.js';
import { heldOutAccuracy, heldOutChatAccuracy, heldOutChatExactMatch } from '../eval/held-out.js';
import { streamText } from '../eval/generate-text.js';
import { Generator } from '../model/generate.js';
import { trainTokenizer } from '../tokenizer/train-corpus.js';
import { runLMStage } from '../train/lm-stage.js';
import { TrainOptions } from '../train/options.js';
import { Args, bool01, handler, modelConfig, rel } from './common.js';

export const demoCommand = {
  command: 'demo',
  describe: 'train a tiny model on a generated corpus in a few minutes and show that it learned',
  builder: (y: Argv) => y
    .option('out_dir', { type: 'string', default: 'out/demo', describe: 'where the demo writes its data and models' })
    .option('steps', { type: 'number', default: 900, describe: 'pretraining steps' })
    .option('sft_steps', { type: 'number', default: 800, describe: 'supervised fine-tuning steps (0 = stop after pretraining)' })
    .option('threads', { type: 'number', default: 0, describe: 'CPU threads (0 = all cores)' })
    .option(...bool01('progress', 'show progress bars', true)),
  handler: handler(async (a: Args) => {
    const t0 = performance.now();
    const out = a.out_dir as string, say = (m: string) => process.stderr.write(m + '\n');
    fs.mkdirSync(out, { recursive: true });
    say(chalk.bold('1/5 corpus') + ': templated facts about fictional countries (English and Chinese) and arithmetic');
    const { docs, probes, chats, chatProbes } = demoCorpus();
    const corpus = path.join(out, 'corpus.jsonl');
    fs.writeFileSync(corpus, docs.map((text) => JSON.stringify({ text })).join('\n') + '\n');
    say(`  ${docs.length} documents -> ${rel(corpus)}; ${probes.length} held-out probes about ${probes.length / 2} unseen countries`);

    say(chalk.bold('2/5 tokenizer') + ': byte-level BPE');
    const tokDir = path.join(out, 'tokenizer');
    const tr = await trainTokenizer([corpus], 1024, tokDir, { progress: a.progress as boolean });
    say(`  ${tr.merges} merges in ${tr.seconds.toFixed(1)} s -> ${rel(tokDir)}`);

    say(chalk.bold('3/5 pretrain') + ': tiny MiniMind (dim 128, 4 layers)');
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

    say(chalk.bold('4/5 evaluation') + ': facts about countries that never appeared in training');
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
      say(chalk.bold('5/5 supervised fine-tuning') + ': questions and answers in chat format, then a chat about unseen countries');
      const sftData = path.join(out, 'sft.jsonl');
      fs.writeFileSync(sftData, chats.map((c) => JSON.stringify(c)).join('\n') + '\n');
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
    }
    say(`demo finished in ${((performance.now() - t0) / 1000 / 60).toFixed(1)} min; chat with it: npx minimind eval --load_from ${rel(finalDir)}`);
  }),
};
