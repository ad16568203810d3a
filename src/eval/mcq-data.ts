// C-Eval / CMMLU question files: `{dir}/{split}/{subject}_{split}.csv` (C-Eval: id, question,
// A, B, C, D, answer, explanation) or `{dir}/{split}/{subject}.csv` (CMMLU: an unnamed index
// column, Question, A, B, C, D, Answer). Column names are matched case-insensitively; the test
// split has no answers. Errors name the file and line.
import fs from 'node:fs';
import path from 'node:path';
import Papa from 'papaparse';
import { UserError } from '../util/errors.js';

export const LETTERS = ['A', 'B', 'C', 'D'] as const;
export type Letter = typeof LETTERS[number];

export interface Question {
  subject: string;
  /** the file's id column, or the row's position when there is none */
  id: string;
  question: string;
  options: [string, string, string, string];
  answer: Letter | null;
  file: string;
  line: number;
}

export interface SubjectFile { subject: string; file: string }

/** The subjects of a split, sorted by name. */
export function listSubjects(dataDir: string, split: string): SubjectFile[] {
  const dir = path.join(dataDir, split);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UserError(`${dir}: no "${split}" split folder (get C-Eval with \`minimind download ceval\`, or point --data_dir at a folder with ${split}/<subject>_${split}.csv files)`);
  }
  const out: SubjectFile[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    if (!f.endsWith('.csv')) continue;
    const subject = f.endsWith(`_${split}.csv`) ? f.slice(0, -`_${split}.csv`.length) : f.slice(0, -4);
    out.push({ subject, file: path.join(dir, f) });
  }
  if (!out.length) throw new UserError(`${dir}: no .csv files`);
  return out;
}

/** 1-based line number of each offset in `starts` (ascending). */
function lineNumbers(text: string, starts: number[]): number[] {
  const out: number[] = [];
  let line = 1, pos = 0;
  for (const s of starts) {
    for (; pos < s; pos++) if (text.charCodeAt(pos) === 10) line++;
    out.push(line);
  }
  return out;
}

/**
 * The questions of one subject file. With `needAnswer`, every row must have an answer A-D.
 * An empty file gives no questions (the caller reports the skip).
 */
export function readSubject(sf: SubjectFile, needAnswer: boolean): Question[] {
  const text = fs.readFileSync(sf.file, 'utf8').replace(/^\uFEFF/, '');
  const rows: string[][] = [], starts: number[] = [];
  let prev = 0;
  const errors: { row: number; message: string }[] = [];
  Papa.parse<string[]>(text, {
    skipEmptyLines: true,
    step: (r) => {
      if (r.errors.length) errors.push({ row: rows.length, message: r.errors[0].message });
      // a skipped blank line leaves the cursor past it: the row starts after leading newlines
      let s = prev;
      while (s < text.length && (text[s] === '\n' || text[s] === '\r')) s++;
      rows.push(r.data); starts.push(s); prev = r.meta.cursor;
    },
  });
  const lines = lineNumbers(text, starts);
  if (errors.length) throw new UserError(`${sf.file}:${lines[errors[0].row] ?? '?'}: malformed CSV (${errors[0].message})`);
  if (!rows.length) return [];
  const header = rows[0].map((h) => h.trim().toLowerCase());
  const col = (name: string, required: boolean) => {
    const i = header.indexOf(name);
    if (i < 0 && required) throw new UserError(`${sf.file}:1: no "${name}" column (columns: ${rows[0].join(', ')}); expected id, question, A, B, C, D, answer`);
    return i;
  };
  const qi = col('question', true), oi = LETTERS.map((l) => col(l.toLowerCase(), true));
  const ai = col('answer', needAnswer), idi = col('id', false);
  const out: Question[] = [];
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r], at = `${sf.file}:${lines[r]}`;
    if (row.length < header.length) throw new UserError(`${at}: ${row.length} fields, the header has ${header.length}`);
    let answer: Letter | null = null;
    if (ai >= 0 && (needAnswer || row[ai].trim())) {
      const a = row[ai].trim().toUpperCase();
      if (!(LETTERS as readonly string[]).includes(a)) throw new UserError(`${at}: answer "${row[ai]}" is not one of A, B, C, D`);
      answer = a as Letter;
    }
    out.push({
      subject: sf.subject, id: idi >= 0 ? row[idi].trim() : String(r - 1), question: row[qi],
      options: oi.map((i) => row[i]) as Question['options'], answer, file: sf.file, line: lines[r],
    });
  }
  return out;
}
