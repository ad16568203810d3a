// Reports of a multiple-choice run, in the layout of MiniMind v1's README: the per-subject
// table (Type / Data / T/A / Accuracy, T/A = correct/total), v1's 总题数/总正确数/总正确率 lines
// and a category table (category | correct | question_count | accuracy). Written as Markdown,
// a per-question CSV and JSON; the test split (no answers) gets C-Eval's submission JSON.
import fs from 'node:fs';
import path from 'node:path';
import Papa from 'papaparse';
import { writeFileAtomic } from '../io/atomic.js';
import { Letter, LETTERS, Question } from './mcq-data.js';
import { Benchmark, CATEGORIES, categoriesOf } from './subjects.js';

export interface Scored { q: Question; /** p(letter) under the full softmax, A-D */ probs: number[]; choice: Letter }

export interface Tally { name: string; correct: number; total: number; accuracy: number }

export interface Summary { subjects: Tally[]; categories: Tally[]; total: Tally }

/** The choice v1 makes: the highest probability, the first letter on ties (Python's max). */
export function choose(probs: number[]): Letter {
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
  return LETTERS[best];
}

const tally = (name: string, rs: Scored[]): Tally => {
  const correct = rs.filter((r) => r.choice === r.q.answer).length;
  return { name, correct, total: rs.length, accuracy: rs.length ? correct / rs.length : 0 };
};

/** Per subject (in order of first appearance), per category (those with questions) and overall. */
export function summarize(b: Benchmark, results: Scored[]): Summary {
  const bySubject = new Map<string, Scored[]>();
  for (const r of results) { let l = bySubject.get(r.q.subject); if (!l) bySubject.set(r.q.subject, (l = [])); l.push(r); }
  const subjects = [...bySubject].map(([s, rs]) => tally(s, rs));
  const categories = CATEGORIES[b].map((c) => tally(c, results.filter((r) => categoriesOf(b, r.q.subject).includes(c)))).filter((t) => t.total > 0);
  return { subjects, categories, total: tally('total', results) };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The report as Markdown: the seed's wide subject table, the totals and the category table. */
export function markdown(s: Summary, modelName: string): string {
  const n = s.subjects.length, row = (cells: (string | number)[]) => `${cells.join(' | ')} |`;
  const sep = row(Array(n + 1).fill('---'));
  return [
    row(['Type', ...s.subjects.map((_, i) => i + 1)]), sep,
    row(['Data', ...s.subjects.map((t) => t.name)]),
    row(['T/A', ...s.subjects.map((t) => `${t.correct}/${t.total}`)]),
    row(['Accuracy', ...s.subjects.map((t) => pct(t.accuracy))]),
    '',
    `总题数: ${s.total.total}`, `总正确数: ${s.total.correct}`, `总正确率: ${pct(s.total.accuracy)}`,
    '',
    'category | correct | question_count | accuracy |', '---|---|---|---|',
    ...s.categories.map((t) => row([t.name, t.correct, t.total, pct(t.accuracy)])),
    row([modelName, s.total.correct, s.total.total, pct(s.total.accuracy)]),
    '',
  ].join('\n');
}

/** The same figures for a terminal: one subject per line. */
export function terminalTable(s: Summary): string {
  const w = Math.max(8, ...s.subjects.map((t) => t.name.length), ...s.categories.map((t) => t.name.length));
  const line = (t: Tally) => `${t.name.padEnd(w)}  ${`${t.correct}/${t.total}`.padStart(9)}  ${pct(t.accuracy).padStart(7)}`;
  return [`${'subject'.padEnd(w)}  ${'T/A'.padStart(9)}  ${'accuracy'.padStart(7)}`, ...s.subjects.map(line), '',
    ...s.categories.map(line), line({ ...s.total, name: 'total' }), ''].join('\n');
}

export function perQuestionCsv(results: Scored[]): string {
  return Papa.unparse({
    fields: ['subject', 'id', 'answer', 'choice', 'p_A', 'p_B', 'p_C', 'p_D'],
    data: results.map((r) => [r.q.subject, r.q.id, r.q.answer ?? '', r.choice, ...r.probs.map((p) => p.toPrecision(8))]),
  }, { newline: '\n' }) + '\n';
}

/** C-Eval's submission format: {subject: {id: letter}}. */
export function submission(results: Scored[]): Record<string, Record<string, Letter>> {
  const out: Record<string, Record<string, Letter>> = {};
  for (const r of results) (out[r.q.subject] ??= {})[r.q.id] = r.choice;
  return out;
}

/** Write results.md/.csv/.json (or submission.json for unanswered splits); returns the files. */
export function writeReports(dir: string, b: Benchmark, split: string, modelName: string, results: Scored[], meta: Record<string, unknown>): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, text: string) => { const f = path.join(dir, name); writeFileAtomic(f, text); files.push(f); };
  put(`${b}_${split}_questions.csv`, perQuestionCsv(results));
  if (results.some((r) => r.q.answer === null)) {
    put(`${b}_${split}_submission.json`, JSON.stringify(submission(results), null, 1) + '\n');
    return files;
  }
  const s = summarize(b, results);
  put(`${b}_${split}_results.md`, markdown(s, modelName));
  put(`${b}_${split}_results.json`, JSON.stringify({ benchmark: b, split, model: modelName, ...meta, total: s.total, categories: s.categories, subjects: s.subjects }, null, 1) + '\n');
  return files;
}
