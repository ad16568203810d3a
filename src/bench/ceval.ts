// C-Eval scoring speed: every question of a split (default the 1346 val questions), 0-shot
// chat prompts, a model of the given size with random weights (speed does not depend on
// them). Batched (the `ceval` command's way) or one question at a time through the KV-cache
// decode graph with the full LM head (how a plain scorer does it), for comparison.
import { ChoiceScorer } from '../eval/choice-scorer.js';
import { loadMcq, scoreMcq } from '../eval/mcq-run.js';
import { choose } from '../eval/mcq-report.js';
import { letterIds, promptIds } from '../eval/prompt.js';
import { MiniMindConfig } from '../model/config.js';
import { DecodeRunner } from '../model/decode-runner.js';
import { initParams } from '../model/params.js';
import { SessionOptions } from '../runtime/session.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { machine, peakRssMb } from './stats.js';

export interface CevalBenchOptions { dataDir: string; tokenizer: string; split?: string; batchTokens?: number; oneAtATime?: boolean; limit?: number }

export async function benchCeval(c: MiniMindConfig, so: SessionOptions, o: CevalBenchOptions): Promise<Record<string, unknown>> {
  const tok = MiniTokenizer.load(o.tokenizer);
  if (tok.vocabSize > c.vocab_size) throw new UserError(`${o.tokenizer}: the tokenizer has ${tok.vocabSize} tokens, the model ${c.vocab_size}`);
  const { questions, shotsOf } = loadMcq({ benchmark: 'ceval', dataDir: o.dataDir, split: o.split ?? 'val', shots: 0, limit: o.limit });
  const params = initParams(c), letters = await letterIds(tok);
  const ids = await promptIds(tok, questions, shotsOf, 'chat', c.max_position_embeddings);
  const tokens = ids.reduce((s, x) => s + x.length, 0);
  let seconds: number, answers: string[];
  const cpu0 = process.cpuUsage();
  if (o.oneAtATime) {
    const runner = await DecodeRunner.create(c, params, so);
    const t0 = performance.now();
    answers = [];
    for (const x of ids) {
      const logits = await runner.run(x, runner.emptyCache());
      answers.push(choose(letters.map((l) => logits[l])));
    }
    seconds = (performance.now() - t0) / 1000;
    await runner.release();
  } else {
    const scorer = await ChoiceScorer.create(c, params, letters, { ...so, constWeights: true });
    const t0 = performance.now();
    const { results } = await scoreMcq(tok, scorer, questions, shotsOf, { prompt: 'chat', maxLen: c.max_position_embeddings, tokenBudget: o.batchTokens });
    seconds = (performance.now() - t0) / 1000;
    answers = results.map((r) => r.choice);
    await scorer.release();
  }
  const correct = answers.filter((a, i) => a === questions[i].answer).length;
  return {
    bench: 'ceval', mode: o.oneAtATime ? 'one-at-a-time' : 'batched', questions: questions.length, prompt_tokens: tokens,
    questions_per_s: questions.length / seconds, tokens_per_s: tokens / seconds, seconds, accuracy: correct / questions.length,
    // CPU seconds of the whole run (threads summed): on a shared machine, wall time alone misleads
    cpu_seconds: (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6,
    peak_rss_mb: peakRssMb(), ...machine(),
  };
}
