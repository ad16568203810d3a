// README.md (中文) and README_en.md (English) say the same things: the same sections and
// table rows, the same code (comments aside), and the same commands, flags and figures. A
// change to one README that misses the other fails here, naming what differs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.js';

const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

/** What a README states, in forms a translation keeps. */
function readmeFacts(md: string) {
  const blocks = [...md.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  const inline = [...md.replace(/^```[\s\S]*?^```/gm, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  const code = [...blocks, ...inline].join('\n');
  return {
    headings: (md.match(/^#{1,4} /gm) ?? []).length,
    tableRows: (md.match(/^\|/gm) ?? []).length,
    // code blocks line by line, with their comments left out (those are translated)
    code: blocks.map((b) => b.split('\n').map((l) => l.replace(/(^|\s+)#(?![!\w]).*$/, '').replace(/\s+$/, '')).filter(Boolean).join('\n')),
    commands: new Set([...code.matchAll(/\bminimind ([a-z][a-z-]*)/g)].map((m) => m[1])),
    flags: new Set([...md.matchAll(/(?<![\w-])--[a-z][a-z0-9_-]*/g)].map((m) => m[0])),
    figures: new Set([...md.matchAll(/\d+(?:[.,]\d+)*/g)].map((m) => m[0])),
  };
}

const missing = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();

test('README.md and README_en.md name the same commands, flags and figures, with the same code and structure', () => {
  const zh = readmeFacts(read('README.md')), en = readmeFacts(read('README_en.md'));
  assert.ok((read('README.md').match(/[\u4e00-\u9fff]/gu) ?? []).length > 5000, 'README.md is the Chinese one');
  for (const k of ['commands', 'flags', 'figures'] as const) {
    assert.deepEqual({ [`${k} only in README.md`]: missing(zh[k], en[k]), [`${k} only in README_en.md`]: missing(en[k], zh[k]) },
      { [`${k} only in README.md`]: [], [`${k} only in README_en.md`]: [] });
  }
  assert.equal(zh.headings, en.headings, 'section headings');
  assert.equal(zh.tableRows, en.tableRows, 'table rows');
  assert.deepEqual(zh.code, en.code, 'code blocks (comments aside)');
  assert.ok(en.commands.size > 15 && en.flags.size > 60 && en.figures.size > 100, 'the facts are found at all');
});

test('the README facts catch a dropped flag, figure or command', () => {
  const en = read('README_en.md');
  const base = readmeFacts(en);
  assert.ok(missing(base.flags, readmeFacts(en.replaceAll('--no_auto_tokenizer', 'the flag')).flags).includes('--no_auto_tokenizer'));
  assert.ok(missing(base.figures, readmeFacts(en.replaceAll('26,878,464', 'many')).figures).includes('26,878,464'));
  assert.ok(missing(base.commands, readmeFacts(en.replaceAll('minimind merge-lora', 'minimind')).commands).includes('merge-lora'));
  assert.notDeepEqual(readmeFacts(en.replace('npm pack                 ', 'npm pack --dry-run')).code, base.code);
});
