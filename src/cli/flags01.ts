// How the CLI's flags parse and show: MiniMind's 0/1 flags, and the help's layout. Kept apart
// from common.ts (which loads the model and runtime modules) so that the CLI's entry can set
// yargs up without loading any command.
import type { Argv, CommandModule } from 'yargs';

/** A 0/1 flag value as MiniMind's scripts write it (`--use_moe 1`), or our boolean forms
 * (`--flag`, `--no-flag`, `--flag true`); anything else is returned as is, for yargs' choices
 * check to reject with the flag's name. */
export function parse01(v: unknown): unknown {
  if (v === true || v === 1 || v === '1' || v === 'true' || v === '') return true;
  if (v === false || v === 0 || v === '0' || v === 'false') return false;
  return v;
}

/** Defaults of the 0/1 flags, by name: filled in by `apply01Defaults` (see bool01). */
const DEFAULTS_01 = new Map<string, boolean>();

/**
 * A 0/1 flag: `--flag 1`, `--flag 0`, `--flag`, `--no-flag`, `--flag true` all work; other
 * values are refused naming the flag. Spread it into `.option`:
 *   .option(...bool01('use_moe', 'mixture-of-experts FFN'))           // undefined when not given
 *   .option(...bool01('progress', 'show a progress bar', true, 'Training:'))
 */
export function bool01<K extends string>(name: K, describe: string, dflt?: boolean, group?: string) {
  // No yargs type: a typed boolean would not take a following 1/0, and no yargs default:
  // yargs gives a bare --flag of an untyped option its default. apply01Defaults fills it in.
  if (dflt !== undefined) DEFAULTS_01.set(name, dflt);
  return [name, {
    describe: `${describe} (1/0)`, coerce: parse01 as (v: unknown) => boolean,
    choices: [1, 0, true, false] as unknown as true[], // checked after coerce (yargs' Choices type leaves out false)
    ...(dflt === undefined ? {} : { defaultDescription: dflt ? '1' : '0' }), ...(group ? { group } : {}),
  }] as const;
}

/** yargs middleware (before validation): the defaults of the command's 0/1 flags not given. */
export function apply01Defaults(argv: Record<string, unknown>, y?: YargsInternals): void {
  const known = y!.getOptions().key; // yargs passes its instance (its typings leave it out)
  for (const [k, d] of DEFAULTS_01) if (argv[k] === undefined && k in known) argv[k] = d;
}

interface YargsInternals { getGroups(): Record<string, string[]>; getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }

/** The help's groups, in the order they are shown: the command's own flags first, model shape last. */
const HELP_GROUPS = ['Positionals:', 'Options:', 'Training:', 'LoRA:', 'DPO:', 'Distillation:', 'GRPO:', 'PPO:', 'RL:', 'Reward:', 'Sampling:', 'Runtime:', 'MiniMind compatibility:', 'Model:'];

/**
 * A command whose --help lists its own flags first (under "Options:", ahead of the global
 * --help and --version) and the model-shape flags last: yargs shows groups in the order they
 * were created, and ungrouped flags after the global ones.
 */
export function helpLayout<C extends CommandModule<any, any>>(c: C): C { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (typeof c.builder !== 'function') return c;
  const build = c.builder;
  return { ...c, builder: (y: Argv) => {
    for (const g of HELP_GROUPS) y.group([], g);
    const out = (build(y) ?? y) as Argv;
    const { getGroups, getOptions } = out as unknown as YargsInternals; // (yargs' typings leave these out)
    const grouped = new Set(Object.values(getGroups.call(out)).flat());
    const { key, alias } = getOptions.call(out);
    const aliases = new Set(Object.values(alias).flat());
    const own = Object.keys(key).filter((k) => !grouped.has(k) && !aliases.has(k) && k !== 'help' && k !== 'version');
    return out.group(own, 'Options:');
  } };
}

