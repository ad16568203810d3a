#!/usr/bin/env node
// run.sh's recorder: turn one check's output (stdout and stderr together) into lines of
// results.jsonl, one per JSON object the check printed, each wrapped with the run's name, exit
// status and time; a check that printed none (a crash, a hang killed by its timeout) still
// gets one line, with the end of its output as the error.
// Usage: node record.mjs NAME RC SECONDS TIMEOUT_S OUTPUT_FILE RESULTS_FILE
import fs from 'node:fs';

const [name, rc, seconds, timeoutS, file, results] = process.argv.slice(2);
const code = Number(rc);
const head = { run: name, rc: code, seconds: Number(seconds), timedOut: code === 124 || code === 137, timeoutS: Number(timeoutS) };
let text = '';
try { text = fs.readFileSync(file, 'utf8'); } catch { /* no output at all */ }
const found = [], other = [];
for (const line of text.split('\n')) {
  const t = line.trim();
  if (t.startsWith('{')) { try { found.push(JSON.parse(t)); continue; } catch { /* not JSON after all */ } }
  if (t) other.push(line);
}
const lines = found.length ? found.map((result) => ({ ...head, result }))
  : [{ ...head, result: null, error: other.slice(-15).join('\n').slice(-3000) || '(no output)' }];
fs.appendFileSync(results, lines.map((l) => JSON.stringify(l) + '\n').join(''));
