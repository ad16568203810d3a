// `minimind ceval` end to end on models whose accuracy is known in advance: made-up C-Eval
// questions that state which option is right ("答案是第三个选项" -> C). A model fine-tuned in
// the test on such questions (in v1's eval prompt, answered with the letter) must score near
// 100%; a model with random weights cannot see the rule and must score near chance (25%).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { TokenSamples } from '../src/data/samples.js';
import { saveModelDir } from '../src/io/model-dir.js';
import { SYSTEM_PROMPT, questionText } from '../src/eval/prompt.js';
import { LETTERS, Question } from '../src/eval/mcq-data.js';
import { modelConfig } from '../src/cli/common.js';
import { heldOutChatExactMatch } from '../src/eval/held-out.js';
import { initParams } from '../src/model/params.js';
import { runLMStage } from '../src/train/lm-stage.js';
import { Rng } from '../src/util/rng.js';
import { trainTokenizer } from '../src/tokenizer/train-corpus.js';
import { cli, tmpDir } from './helpers.js';

const ORDINAL = ['一', '二', '三', '四'];
const FILLER = ['红色', '蓝色', '高山', '河流', '春天', '秋天', '北京', '上海', '数学', '历史', '苹果', '香蕉'];

/** n questions whose answer (uniformly random, independent of everything else) is stated in the question. */
function questions(rng: Rng, n: number, subject: string): Question[] {
  return Array.from({ length: n }, (_, i) => {
    const pos = rng.int(4);
    const options = Array.from({ length: 4 }, () => FILLER[rng.int(FILLER.length)]) as Question['options'];
    return { subject, id: String(i), file: '', line: i + 2, question: `第${i % 10}题，答案是第${ORDINAL[pos]}个选项`, options, answer: LETTERS[pos] };
  });
}

const csv = (qs: Question[]) => 'id,question,A,B,C,D,answer,explanation\n' + qs.map((q) => [q.id, q.question, ...q.options, q.answer, ''].join(',')).join('\n') + '\n';

function accuracy(outDir: string): { correct: number; total: number } {
  const json = JSON.parse(fs.readFileSync(path.join(outDir, 'ceval_val_results.json'), 'utf8'));
  return { correct: json.total.correct, total: json.total.total };
}

// n = 200 scored questions with answers uniform and independent of what a random model sees:
// its correct count is Binomial(200, 1/4), mean 50, sd 6.1; 4 sd either side is 26..74
// (13%..37%), which a chance-level scorer leaves with probability below 1e-4.
const N_PER_SUBJECT = 100, N = 2 * N_PER_SUBJECT, LOW = 26, HIGH = 74;

test(`ceval: a model fine-tuned on the rule scores near 100%, random weights near 25% (n=${N}, ${LOW}..${HIGH} correct)`, async (t) => {
  const dir = tmpDir('ceval-trained');
  const data = path.join(dir, 'ceval');
  fs.mkdirSync(path.join(data, 'val'), { recursive: true });
  const rng = new Rng(3);
  for (const s of ['logic', 'law']) fs.writeFileSync(path.join(data, 'val', `${s}_val.csv`), csv(questions(rng, N_PER_SUBJECT, s)));
  // training questions: the same rule, other draws; the conversation is v1's eval prompt
  const train = questions(new Rng(11), 3000, 'train').map((q) => ({ conversations: [
    { role: 'system', content: SYSTEM_PROMPT }, { role: 'user', content: questionText(q) }, { role: 'assistant', content: q.answer! }] }));
  const sft = path.join(dir, 'sft.jsonl');
  fs.writeFileSync(sft, train.map((c) => JSON.stringify(c)).join('\n') + '\n');
  // a tokenizer of our own (its chat template marks the assistant turns SFT learns from)
  const corpus = path.join(dir, 'corpus.jsonl'), tokenizer = path.join(dir, 'tok');
  fs.writeFileSync(corpus, train.slice(0, 500).map((c) => JSON.stringify({ text: c.conversations.map((m) => m.content).join(' ') })).join('\n') + '\n');
  await trainTokenizer([corpus], 400, tokenizer, { progress: false });

  const config = (vocab: number) => modelConfig({ preset: 'tiny', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 }, vocab);
  const r = await runLMStage({
    stage: 'full_sft', log: () => {}, model: config, data: { dataPath: sft, progress: false }, dataStage: 'sft',
    train: { tokenizer, outDir: dir, saveWeight: 'full_sft', epochs: 1, maxSteps: 300, batchSize: 16, accumulationSteps: 1, maxSeqLen: 96,
      learningRate: 3e-3, schedule: 'cosine', warmupSteps: 20, weightDecay: 0, gradClip: 1, logInterval: 100, saveInterval: 10000, keepCheckpoints: 1,
      fromResume: false, seed: 1, progress: false },
    session: { provider: 'cpu', threads: 1 },
    samples: (shards, tok, T) => new TokenSamples(shards, T, 'pad', tok.padId),
  });
  assert.equal(r.code, 0);
  // the demo's free-form score on the same model: its greedy answer is the letter and nothing else
  const probes = questions(new Rng(5), 40, 'logic').map((q) => ({ messages: [{ role: 'system', content: SYSTEM_PROMPT }, { role: 'user', content: questionText(q) }], answer: q.answer!, distractors: [] }));
  const em = await heldOutChatExactMatch(r.config, r.params, r.tokenizer, probes, 1);
  assert.deepEqual(em.answers, probes.map((p) => p.answer));
  assert.equal(em.accuracy, 1);
  const wrong = await heldOutChatExactMatch(r.config, r.params, r.tokenizer, probes.map((p) => ({ ...p, answer: p.answer + '.' })), 1);
  assert.equal(wrong.accuracy, 0, 'an answer that is only a prefix of the expected one is not an exact match');
  const randomDir = path.join(dir, 'random');
  saveModelDir(randomDir, r.config, initParams(r.config, 5), tokenizer);

  for (const [model, name] of [[r.runDir, 'trained'], [randomDir, 'random']]) {
    const out = path.join(dir, `out-${name}`);
    const res = cli(['ceval', '--load_from', model, '--data_dir', data, '--out', out, '--threads', '1', '--no-progress']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`total\\s+\\d+/${N}`));
    const { correct, total } = accuracy(out);
    assert.equal(total, N);
    t.diagnostic(`${name} model: ${correct}/${total} correct`);
    if (name === 'trained') assert.ok(correct >= 0.97 * N, `trained model: ${correct}/${N} correct, expected near 100%`);
    else assert.ok(correct >= LOW && correct <= HIGH, `random model: ${correct}/${N} correct, outside the binomial bound ${LOW}..${HIGH}`);
  }
});
