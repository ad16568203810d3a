// The command line before yargs reads it: every flag also in its kebab-case spelling
// (`--data-path` is `--data_path`, `--no-auto-tokenizer` and `--no_auto_tokenizer` are
// `--no-auto_tokenizer`), and a flag given twice refused (yargs would add the values).
import { UserError } from '../util/errors.js';

/** Flags that may repeat (their values make a list). */
const LIST_OPTIONS = new Set(['data', 'input']);

/** The flag names given on this command line (after normalizeFlags), for "was it given?" */
const given = new Set<string>();

export function flagGiven(name: string): boolean {
  return given.has(name);
}

/** One flag token in the spelling the options are declared with (snake_case). */
function snakeFlag(token: string): string {
  const m = /^--(no[-_])?([A-Za-z][\w-]*)(=.*)?$/s.exec(token);
  if (!m) return token;
  const name = m[2].replace(/-/g, '_');
  return `--${m[1] ? 'no-' : ''}${name}${m[3] ?? ''}`;
}

/**
 * The arguments as yargs should see them: flags in snake_case (values and everything after
 * a bare `--` untouched). Throws a UserError for a flag given twice.
 */
export function normalizeFlags(argv: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  given.clear();
  let rest = false;
  for (const a of argv) {
    if (rest || a === '--') { rest = true; out.push(a); continue; }
    const t = snakeFlag(a);
    out.push(t);
    const m = /^--(?:no-)?(\w+)/.exec(t);
    if (!m) continue;
    given.add(m[1]);
    if (LIST_OPTIONS.has(m[1])) continue;
    if (seen.has(m[1])) throw new UserError(`--${m[1]} is given more than once`);
    seen.add(m[1]);
  }
  return out;
}
