// A C-Eval/CMMLU run: load the questions (and few-shot examples), tokenize every prompt,
// score them batch by batch, and append each batch's results to a progress file so that an
// interrupted run (Ctrl-C) keeps its work and `--resume` continues where it stopped.
import fs from 'node:fs';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { ChoiceScorer, lengthBuckets } from './choice-scorer.js';
import { listSubjects, Question, readSubject } from './mcq-data.js';
import { choose, Scored } from './mcq-report.js';
import { letterIds, PromptStyle, promptIds } from './prompt.js';
import { Benchmark } from './subjects.js';

export interface McqSelection {
  benchmark: Benchmark;
  dataDir: string;
  split: string;
  /** only these subjects (default: all in the split) */
  subjects?: string[];
  /** few-shot examples from the dev split of the same subject */
  shots: number;
  /** the first `limit` questions of each subject */
  limit?: number;
}

export interface LoadedMcq { questions: Question[]; shotsOf: (q: Question) => Question[]; skipped: string[] }

export function loadMcq(o: McqSelection): LoadedMcq {
  const needAnswer = o.split !== 'test';
  let files = listSubjects(o.dataDir, o.split);
  if (o.subjects?.length) {
    const known = new Set(files.map((f) => f.subject));
    const missing = o.subjects.filter((s) => !known.has(s));
    if (missing.length) throw new UserError(`--subjects: no ${missing.join(', ')} in ${o.dataDir}/${o.split} (it has ${[...known].slice(0, 8).join(', ')}${known.size > 8 ? ', ...' : ''})`);
    files = files.filter((f) => o.subjects!.includes(f.subject));
  }
  const questions: Question[] = [], skipped: string[] = [];
  for (const f of files) {
    let qs = readSubject(f, needAnswer);
    if (!qs.length) { skipped.push(`${f.file}:1: no questions; subject ${f.subject} skipped`); continue; }
    if (o.limit !== undefined) qs = qs.slice(0, o.limit);
    questions.push(...qs);
  }
  if (!questions.length) throw new UserError(`${o.dataDir}/${o.split}: no questions to score`);
  const shots = new Map<string, Question[]>();
  if (o.shots > 0) {
    const dev = new Map(listSubjects(o.dataDir, 'dev').map((f) => [f.subject, f]));
    for (const s of new Set(questions.map((q) => q.subject))) {
      const f = dev.get(s);
      if (!f) throw new UserError(`--shots ${o.shots}: no dev file for subject ${s} in ${o.dataDir}/dev`);
      const ex = readSubject(f, true);
      if (ex.length < o.shots + (o.split === 'dev' ? 1 : 0)) throw new UserError(`${f.file}: ${ex.length} examples, --shots ${o.shots} needs more`);
      shots.set(s, ex);
    }
  }
  // on the dev split itself a question is never its own example
  const shotsOf = (q: Question) => (shots.get(q.subject) ?? []).filter((e) => e.file !== q.file || e.id !== q.id).slice(0, o.shots);
  return { questions, shotsOf, skipped };
}

export interface ScoreOptions {
  prompt: PromptStyle;
  /** prompts are cut to their last maxLen tokens (the model's context) */
  maxLen: number;
  /** tokens (rows x longest prompt) per forward pass */
  tokenBudget?: number;
  maxRows?: number;
  /** append results here as batches finish; with `resume`, skip the questions already in it */
  progressFile?: string;
  resume?: boolean;
  /** written at the top of the progress file; a resume must match it */
  settings?: Record<string, unknown>;
  onBatch?: (questionsDone: number, questionsTotal: number, tokensDone: number, tokensTotal: number) => void;
  shouldStop?: () => boolean;
}

const key = (q: Question) => `${q.subject}\u0000${q.id}`;

function readProgress(file: string, settings: Record<string, unknown>): Map<string, number[]> {
  const done = new Map<string, number[]>();
  if (!fs.existsSync(file)) return done;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  lines.forEach((l, i) => {
    let v: { settings?: unknown; s?: string; id?: string; lp?: number[] };
    try { v = JSON.parse(l); } catch { if (i === lines.length - 1) return; throw new UserError(`${file}:${i + 1}: not JSON; delete the file to start over`); } // a cut last line is redone
    if (i === 0) {
      if (JSON.stringify(v.settings) !== JSON.stringify(settings)) throw new UserError(`${file}: made with other settings (${JSON.stringify(v.settings)}); run without --resume to start over`);
    } else if (v.s !== undefined && v.id !== undefined && Array.isArray(v.lp)) done.set(`${v.s}\u0000${v.id}`, v.lp);
  });
  return done;
}

/** Score questions; `complete` is false when shouldStop ended the run early. */
export async function scoreMcq(tok: MiniTokenizer, scorer: ChoiceScorer, questions: Question[], shotsOf: (q: Question) => Question[], o: ScoreOptions): Promise<{ results: Scored[]; complete: boolean }> {
  const settings = o.settings ?? {};
  const done = o.resume && o.progressFile ? readProgress(o.progressFile, settings) : new Map<string, number[]>();
  if (o.progressFile && !(o.resume && fs.existsSync(o.progressFile))) fs.writeFileSync(o.progressFile, JSON.stringify({ settings }) + '\n');
  const todo = questions.filter((q) => !done.has(key(q)));
  const ids = await promptIds(tok, todo, shotsOf, o.prompt, o.maxLen);
  const batches = lengthBuckets(ids.map((x) => x.length), o.tokenBudget ?? 1024, o.maxRows ?? 64);
  const tokensTotal = batches.reduce((s, b) => s + b.length * ids[b[b.length - 1]].length, 0);
  let tokensDone = 0, qDone = questions.length - todo.length, complete = true;
  o.onBatch?.(qDone, questions.length, 0, tokensTotal);
  for (const b of batches) {
    if (o.shouldStop?.()) { complete = false; break; }
    const lps = await scorer.logProbs(b.map((i) => ids[i]));
    b.forEach((i, j) => done.set(key(todo[i]), lps[j]));
    if (o.progressFile) fs.appendFileSync(o.progressFile, b.map((i, j) => JSON.stringify({ s: todo[i].subject, id: todo[i].id, lp: lps[j] })).join('\n') + '\n');
    tokensDone += b.length * ids[b[b.length - 1]].length; qDone += b.length;
    o.onBatch?.(qDone, questions.length, tokensDone, tokensTotal);
  }
  const results: Scored[] = [];
  for (const q of questions) {
    const lp = done.get(key(q));
    if (!lp) continue;
    const probs = lp.map(Math.exp);
    results.push({ q, probs, choice: choose(probs) });
  }
  return { results, complete };
}

export { letterIds };
