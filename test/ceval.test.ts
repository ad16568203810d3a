// `minimind ceval`: per-question probabilities equal those of MiniMind v1's eval_ceval.py run
// with v1's own model code (fixture), batching with padding changes nothing, the tables and
// files, Ctrl-C/--resume, CMMLU's layout and categories, and bad input.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadModelDir } from '../src/io/model-dir.js';
import { resolveConfig } from '../src/model/config.js';
import { initParams } from '../src/model/params.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { ChoiceScorer, lengthBuckets } from '../src/eval/choice-scorer.js';
import { listSubjects, readSubject } from '../src/eval/mcq-data.js';
import { markdown, summarize } from '../src/eval/mcq-report.js';
import { letterIds, loadMcq, scoreMcq } from '../src/eval/mcq-run.js';
import { promptIds } from '../src/eval/prompt.js';
import { categoriesOf, CEVAL_SUBJECTS, CMMLU_SUBJECTS } from '../src/eval/subjects.js';
import { cli, isCleanError, ROOT, tmpDir } from './helpers.js';

const FIX = path.join(ROOT, 'test/fixtures/ceval');
const DATA = path.join(FIX, 'data');
interface Row { subject: string; id: string; input_ids: number[]; probs: number[]; choice: string }
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Record<string, Row[]>;

async function fixtureScorer(fused = true) {
  const { config, params } = loadModelDir(path.join(FIX, 'model'));
  const tok = MiniTokenizer.load(path.join(FIX, 'model'));
  const letters = await letterIds(tok);
  return { config, params, tok, letters, scorer: await ChoiceScorer.create(config, params, letters, { threads: 1, constWeights: true, fused }) };
}

// fused: ONNX Runtime's GroupQueryAttention kernel (the default); otherwise the graph's own attention
for (const [shots, fused] of [[0, true], [2, true], [0, false]] as const) {
  test(`eval_ceval.py's probabilities and choices, ${shots}-shot (fixture from MiniMind v1's model code), batched with padding${fused ? '' : ', unfused attention'}`, async () => {
    const want = expected[`shots${shots}`];
    const { config, tok, scorer } = await fixtureScorer(fused);
    const { questions, shotsOf } = loadMcq({ benchmark: 'ceval', dataDir: DATA, split: 'val', shots });
    assert.deepEqual(questions.map((q) => `${q.subject}/${q.id}`), want.map((r) => `${r.subject}/${r.id}`));
    // the prompt: v1's system message, question format, chat template, cut to max_seq_len from the left
    const ids = await promptIds(tok, questions, shotsOf, 'chat', config.max_position_embeddings);
    ids.forEach((x, i) => assert.deepEqual(x, want[i].input_ids, `prompt of ${want[i].subject}/${want[i].id}`));
    // a small token budget: several batches, rows of different lengths padded together
    const { results, complete } = await scoreMcq(tok, scorer, questions, shotsOf, { prompt: 'chat', maxLen: config.max_position_embeddings, tokenBudget: 400 });
    assert.ok(complete);
    results.forEach((r, i) => {
      for (let k = 0; k < 4; k++) {
        // probabilities are ~1e-3 here: compare log-probabilities, which is stricter than 1e-4 absolute
        assert.ok(Math.abs(Math.log(r.probs[k]) - Math.log(want[i].probs[k])) < 1e-4, `${want[i].subject}/${want[i].id} p_${'ABCD'[k]}: ${r.probs[k]} vs ${want[i].probs[k]}`);
      }
      assert.equal(r.choice, want[i].choice, `${want[i].subject}/${want[i].id}`);
    });
    await scorer.release();
  });
}

for (const fused of [true, false]) test(`a batch of padded prompts gives each prompt what it gets alone${fused ? '' : ', unfused attention'}`, async () => {
  const { scorer } = await fixtureScorer(fused);
  const prompts = [[5, 9, 30, 41], [7, 8, 9, 10, 11, 12, 13, 14, 15], [100]];
  const together = await scorer.logProbs(prompts);
  for (let i = 0; i < prompts.length; i++) {
    const alone = (await scorer.logProbs([prompts[i]]))[0];
    alone.forEach((v, k) => assert.ok(Math.abs(v - together[i][k]) < 1e-5, `prompt ${i} choice ${k}: ${v} vs ${together[i][k]}`));
  }
  await scorer.release();
});

test('the fused kernel with its own RoPE (head size 16) gives the unfused graph\'s log-probabilities, padded batch', async () => {
  const c = resolveConfig('tiny', { hidden_size: 64, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 });
  const params = initParams(c, 9), letters = [10, 11, 12, 13];
  const prompts = [[5, 9, 30, 41, 7, 7, 2], Array.from({ length: 40 }, (_, i) => (i * 37) % 300), [100], Array.from({ length: 23 }, (_, i) => (i * 11 + 3) % 300)];
  const fused = await ChoiceScorer.create(c, params, letters, { threads: 1, constWeights: true });
  const plain = await ChoiceScorer.create(c, params, letters, { threads: 1, constWeights: true, fused: false });
  const a = await fused.logProbs(prompts), b = await plain.logProbs(prompts);
  a.forEach((r, i) => r.forEach((v, k) => assert.ok(Math.abs(v - b[i][k]) < 1e-4, `prompt ${i} choice ${k}: ${v} vs ${b[i][k]}`)));
  await fused.release(); await plain.release();
});

test('length buckets: every prompt once, ascending length, within the token budget', () => {
  const lengths = [50, 3, 400, 20, 20, 100, 7, 300, 60];
  const b = lengthBuckets(lengths, 200, 3);
  assert.deepEqual(b.flat().sort((x, y) => x - y), lengths.map((_, i) => i));
  const flat = b.flat().map((i) => lengths[i]);
  assert.deepEqual(flat, [...flat].sort((x, y) => x - y));
  for (const batch of b) {
    assert.ok(batch.length <= 3);
    if (batch.length > 1) assert.ok(batch.length * Math.max(...batch.map((i) => lengths[i])) <= 200, `batch ${batch}`);
  }
});

test('ceval command: the seed tables, per-question CSV and JSON agree with the fixture', () => {
  const out = tmpDir('ceval-out');
  const r = cli(['ceval', '--load_from', path.join(FIX, 'model'), '--data_dir', DATA, '--out', out, '--threads', '1', '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  const want = expected.shots0, correct = want.filter((w) => {
    const q = readSubject({ subject: w.subject, file: path.join(DATA, 'val', `${w.subject}_val.csv`) }, true).find((x) => x.id === w.id)!;
    return q.answer === w.choice;
  }).length;
  const md = fs.readFileSync(path.join(out, 'ceval_val_results.md'), 'utf8');
  assert.match(md, /^Type \| 1 \| 2 \| 3 \|/);
  assert.match(md, /Data \| computer_network \| logic \| marxism \|/);
  assert.match(md, new RegExp(`总题数: 11\\n总正确数: ${correct}\\n`));
  assert.match(md, /STEM \| \d+ \| 4 \| /);
  assert.match(md, /Humanities \| \d+ \| 4 \| /);
  assert.match(md, /Social Science \| \d+ \| 3 \| /);
  const json = JSON.parse(fs.readFileSync(path.join(out, 'ceval_val_results.json'), 'utf8'));
  assert.equal(json.total.total, 11);
  assert.equal(json.total.correct, correct);
  const csv = fs.readFileSync(path.join(out, 'ceval_val_questions.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'subject,id,answer,choice,p_A,p_B,p_C,p_D');
  assert.deepEqual(csv.slice(1).map((l) => l.split(',')[3]), want.map((w) => w.choice));
  assert.match(r.stdout, /total\s+\d+\/11/);
  assert.ok(!fs.existsSync(path.join(out, 'ceval_val_progress.jsonl')), 'progress file left behind');
});

test('stopped after the first batch, --resume scores only the rest and ends with the same results', async () => {
  const { config, tok, scorer } = await fixtureScorer();
  const { questions, shotsOf } = loadMcq({ benchmark: 'ceval', dataDir: DATA, split: 'val', shots: 0 });
  const dir = tmpDir('ceval-resume'), progressFile = path.join(dir, 'p.jsonl');
  const base = { prompt: 'chat' as const, maxLen: config.max_position_embeddings, tokenBudget: 250, progressFile, settings: { run: 1 } };
  let batches = 0;
  const first = await scoreMcq(tok, scorer, questions, shotsOf, { ...base, onBatch: () => batches++, shouldStop: () => batches >= 2 });
  assert.ok(!first.complete);
  const kept = first.results.length;
  assert.ok(kept > 0 && kept < questions.length, `kept ${kept}`);
  let scored = 0;
  const counting = { logProbs: (p: number[][]) => { scored += p.length; return scorer.logProbs(p); } } as unknown as ChoiceScorer;
  const resumed = await scoreMcq(tok, counting, questions, shotsOf, { ...base, resume: true });
  assert.ok(resumed.complete);
  assert.equal(scored, questions.length - kept, 'questions scored again on resume');
  assert.deepEqual(resumed.results.map((r) => r.choice), expected.shots0.map((w) => w.choice));
  await assert.rejects(scoreMcq(tok, scorer, questions, shotsOf, { ...base, resume: true, settings: { run: 2 } }), /other settings/);
  await scorer.release();
});

test('CMMLU layout (index column, Question/Answer, <subject>.csv) and its categories', () => {
  const dir = tmpDir('cmmlu');
  fs.mkdirSync(path.join(dir, 'test'));
  fs.writeFileSync(path.join(dir, 'test', 'agronomy.csv'), ',Question,A,B,C,D,Answer\n0,农作物生长需要的三大营养元素不包括____,氮,磷,钾,金,D\n1,水稻属于____,禾本科,豆科,十字花科,蔷薇科,A\n');
  fs.writeFileSync(path.join(dir, 'test', 'chinese_history.csv'), ',Question,A,B,C,D,Answer\n0,秦朝建立于公元前____年,221,206,202,246,A\n');
  const { questions } = loadMcq({ benchmark: 'cmmlu', dataDir: dir, split: 'test', shots: 0 });
  assert.deepEqual(questions.map((q) => [q.subject, q.id, q.answer]), [['agronomy', '0', 'D'], ['agronomy', '1', 'A'], ['chinese_history', '0', 'A']]);
  assert.deepEqual(categoriesOf('cmmlu', 'chinese_history'), ['Humanities', 'China specific']);
  const s = summarize('cmmlu', questions.map((q) => ({ q, probs: [0.4, 0.3, 0.2, 0.1], choice: 'A' as const })));
  assert.deepEqual(s.categories.map((t) => [t.name, t.correct, t.total]), [['Humanities', 1, 1], ['Other', 1, 2], ['China specific', 1, 1]]);
  assert.match(markdown(s, 'm'), /m \| 2 \| 3 \| 66.67% \|/);
  assert.equal(Object.keys(CEVAL_SUBJECTS).length, 52);
  assert.equal(Object.keys(CMMLU_SUBJECTS).length, 67);
});

test('bad data: missing split folder, missing column, answer outside A-D, empty subject', () => {
  const dir = tmpDir('ceval-bad');
  assert.throws(() => listSubjects(dir, 'val'), /ceval-bad.*\/val: no "val" split folder/);
  fs.mkdirSync(path.join(dir, 'val'));
  const file = path.join(dir, 'val', 'law_val.csv');
  fs.writeFileSync(file, 'id,question,A,B,C,answer\n0,q,a,b,c,A\n');
  assert.throws(() => readSubject({ subject: 'law', file }, true), /law_val\.csv:1: no "d" column/);
  fs.writeFileSync(file, 'id,question,A,B,C,D,answer\n0,q,a,b,c,d,A\n1,"two\nlines",a,b,c,d,E\n');
  assert.throws(() => readSubject({ subject: 'law', file }, true), /law_val\.csv:3: answer "E" is not one of A, B, C, D/);
  fs.writeFileSync(file, 'id,question,A,B,C,D,answer\n0,q,a,b,c,d,B\n');
  fs.writeFileSync(path.join(dir, 'val', 'logic_val.csv'), '');
  const m = loadMcq({ benchmark: 'ceval', dataDir: dir, split: 'val', shots: 0 });
  assert.equal(m.questions.length, 1);
  assert.match(m.skipped[0], /logic_val\.csv:1: no questions; subject logic skipped/);
  const r = cli(['ceval', '--load_from', path.join(FIX, 'model'), '--data_dir', dir, '--split', 'dev', '--no-progress']);
  assert.equal(isCleanError(r, /no "dev" split folder/), null);
  const r2 = cli(['ceval', '--load_from', path.join(FIX, 'model'), '--data_dir', DATA, '--shots', '7', '--no-progress']);
  assert.equal(isCleanError(r2, /--shots must be 0 to 5/), null);
});

test('test split: no answers, C-Eval submission JSON', () => {
  const dir = tmpDir('ceval-test'), out = path.join(dir, 'out');
  fs.mkdirSync(path.join(dir, 'test'));
  fs.writeFileSync(path.join(dir, 'test', 'logic_test.csv'), 'id,question,A,B,C,D\n0,q1,a,b,c,d\n1,q2,a,b,c,d\n');
  const r = cli(['ceval', '--load_from', path.join(FIX, 'model'), '--data_dir', dir, '--split', 'test', '--out', out, '--threads', '1', '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  const sub = JSON.parse(fs.readFileSync(path.join(out, 'ceval_test_submission.json'), 'utf8'));
  assert.deepEqual(Object.keys(sub), ['logic']);
  assert.deepEqual(Object.keys(sub.logic), ['0', '1']);
  for (const v of Object.values(sub.logic)) assert.match(v as string, /^[ABCD]$/);
});

const SHARED = path.join(ROOT, '../shared/reference/ceval');
test('C-Eval val from ../shared: 52 subjects, 1346 questions read', { skip: fs.existsSync(SHARED) ? false : `${SHARED} absent` }, () => {
  const { questions } = loadMcq({ benchmark: 'ceval', dataDir: SHARED, split: 'val', shots: 5 });
  assert.equal(questions.length, 1346);
  assert.equal(new Set(questions.map((q) => q.subject)).size, 52);
  for (const q of questions) assert.ok(categoriesOf('ceval', q.subject).length === 1, q.subject);
});
