// A progress bar for the long steps of export, eval-ppl and merge-lora, on a terminal only
// (as the training bar): each stage ("converting", "merging", ...) gets its own line.
import chalk from 'chalk';
import cliProgress from 'cli-progress';

/** Report `done` of `total` in `stage`; a new stage finishes the previous one's line. */
export interface StepBar { (stage: string, done: number, total: number): void; stop(): void }

export function stepBar(label: string, enabled = true): StepBar {
  const bar = enabled && process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr, hideCursor: true, fps: 5,
    format: `${chalk.cyan(label)} {stage} ${chalk.gray('{bar}')} {value}/{total} | ETA {eta_formatted}` }, cliProgress.Presets.shades_classic) : null;
  let current: string | null = null;
  const report = ((stage: string, done: number, total: number) => {
    if (!bar) return;
    if (stage !== current) {
      if (current !== null) bar.stop();
      bar.start(Math.max(total, 1), done, { stage: stage.padEnd(10) });
      current = stage;
    } else bar.update(done);
  }) as StepBar;
  report.stop = () => { if (current !== null) bar?.stop(); current = null; };
  return report;
}
