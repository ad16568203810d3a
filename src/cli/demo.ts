// `minimind demo`: the whole pipeline on the machine at hand, no download: generate a
// corpus, train a tokenizer, pretrain a tiny model, and measure held-out facts.
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import { ChatProbe, demoCorpus, Probe } from '../demo/corpus.js';
import { prepareShards } from '../data/prepare.js';
import { TokenSamples } from '../data/samples.js';
import { Generator } from '../model/generate.js';
import { Params } from '../model/params.js';
import { MiniMindConfig } from '../model/config.js';
import { Scorer } from '../model/score.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { runLMStage } from '../train/lm-stage.js';
import { Args, handler, rel } from './common.js';
import { streamText } from './generate-text.js';
import { trainTokenizer } from './train-tokenizer.js';

export interface HeldOut { accuracy: number; chance: number; n: number }

/** Share of questions where the right answer's log-likelihood beats every distractor's. */
async function choiceAccuracy(c: MiniMindConfig, params: Params, items: { prompt: number[]; answer: number[]; distractors: number[][] }[], threads: number): Promise<HeldOut> {
  const scorer = await Scorer.create(c, params, { threads });
  let right = 0;
  for (const it of items) {
    const truth = await scorer.logLikelihood(it.prompt, it.answer);
    let best = true;
    for (const d of it.distractors) if ((await scorer.logLikelihood(it.prompt, d)) >= truth) best = false;
    if (best) right++;
  }
  await scorer.release();
  return { accuracy: right / items.length, chance: 1 / (1 + items[0].distractors.length), n: items.length };
}

/** 4-way choice by log-likelihood on facts about countries the model never saw. */
export async function heldOutAccuracy(c: MiniMindConfig, params: Params, tok: MiniTokenizer, probes: Probe[], threads = 0): Promise<HeldOut> {
  const items = await Promise.all(probes.map(async (p) => ({ prompt: [tok.bosId, ...(await tok.encode(p.prompt))], answer: await tok.encode(p.answer),
    distractors: await Promise.all(p.distractors.map((d) => tok.encode(d))) })));
  return choiceAccuracy(c, params, items, threads);
}

/** The same in chat format: the assistant's answer after the user's question. */
export async function heldOutChatAccuracy(c: MiniMindConfig, params: Params, tok: MiniTokenizer, probes: ChatProbe[], threads = 0): Promise<HeldOut> {
  const items = await Promise.all(probes.map(async (p) => ({ prompt: await tok.encode(tok.applyChatTemplate(p.messages, { addGenerationPrompt: true })),
    answer: await tok.encode(p.answer + '<|im_end|>'), distractors: await Promise.all(p.distractors.map((d) => tok.encode(d + '<|im_end|>'))) })));
  return choiceAccuracy(c, params, items, threads);
}

export const demoCommand = {
  command: 'demo',
  describe: 'train a tiny model on a generated corpus in a few minutes and show that it learned',
  builder: (y: Argv) => y
    .option('out_dir', { type: 'string', default: 'out/demo', describe: 'where the demo writes its data and models' })
    .option('steps', { type: 'number', default: 900, describe: 'pretraining steps' })
    .option('sft_steps', { type: 'number', default: 400, describe: 'supervised fine-tuning steps (0 = stop after pretraining)' })
    .option('threads', { type: 'number', default: 0, describe: 'CPU threads (0 = all cores)' })
    .option('progress', { type: 'boolean', default: true }),
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
    const args: Args = {
      preset: 'tiny', tokenizer: tokDir, out_dir: out, save_weight: 'pretrain', epochs: 1, max_steps: a.steps, batch_size: 16,
      learning_rate: 2e-3, schedule: 'cosine', warmup_steps: 20, weight_decay: 0.01, accumulation_steps: 1, grad_clip: 1.0,
      max_seq_len: 128, log_interval: 25, save_interval: 250, keep_checkpoints: 1, from_resume: '0', seed: 42,
      progress: a.progress, device: 'cpu', threads: a.threads,
    };
    const r = await runLMStage({
      stage: 'pretrain', args, log: say,
      samples: async (tok, T, runDir) => new TokenSamples(await prepareShards(corpus, tok, path.join(runDir, 'data'), 'pretrain', { progress: false }), T, 'pack', tok.padId),
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
        stage: 'full_sft', args: { ...args, save_weight: 'full_sft', max_steps: a.sft_steps, learning_rate: 1e-3, warmup_steps: 10, max_seq_len: 64, save_interval: 1000 },
        fromWeight: r.runDir, log: say,
        samples: async (tok, T, runDir) => new TokenSamples(await prepareShards(sftData, tok, path.join(runDir, 'data'), 'sft', { progress: false }), T, 'pad', tok.padId, false),
      });
      if (s.code !== 0) return s.code;
      const chat = await Generator.create(s.config, s.params, { threads: a.threads as number });
      for (const p of chatProbes.slice(0, 3)) {
        process.stdout.write(`  ${chalk.cyan('👶 ' + p.messages[0].content)}\n  ${chalk.green('🤖')} `);
        const ids = await s.tokenizer.encode(s.tokenizer.applyChatTemplate(p.messages, { addGenerationPrompt: true }));
        await streamText(chat, s.tokenizer, ids, { temperature: 0, maxNewTokens: 32 }, (t) => process.stdout.write(chalk.yellow(t)));
        process.stdout.write('\n');
      }
      await chat.release();
      const cr = await heldOutChatAccuracy(s.config, s.params, s.tokenizer, chatProbes, a.threads as number);
      process.stdout.write(`\nheld-out chat accuracy: ${chalk.bold.green(pct(cr.accuracy))} on ${cr.n} questions about unseen countries (4-way choice; chance ${pct(cr.chance)})\n`);
      finalDir = s.runDir;
    }
    say(`demo finished in ${((performance.now() - t0) / 1000 / 60).toFixed(1)} min; chat with it: npx minimind eval --load_from ${rel(finalDir)}`);
  }),
};
