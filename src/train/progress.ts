// Training progress: a cli-progress bar on a terminal (loss, lr, tokens/s, ETA), plain
// log lines otherwise (CI, pipes).
import cliProgress from 'cli-progress';
import chalk from 'chalk';

export interface ProgressFields { loss: number; lr: number; tps: number; [k: string]: number }

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private t0 = performance.now();
  private s0: number;

  constructor(private label: string, private total: number, start: number, private stream: NodeJS.WriteStream = process.stderr, enabled = true) {
    this.s0 = start;
    if (enabled && stream.isTTY) {
      this.bar = new cliProgress.SingleBar({
        stream, hideCursor: true, etaBuffer: 50, fps: 5,
        format: `${chalk.cyan(label)} ${chalk.gray('{bar}')} {value}/{total} | loss ${chalk.yellow('{loss}')}{extra} | lr {lr} | {tps} tok/s | ETA {eta_formatted}`,
      }, cliProgress.Presets.shades_classic);
      this.bar.start(total, start, { loss: '-', lr: '-', tps: '-', extra: '' });
    }
  }

  get interactive(): boolean { return this.bar !== null; }

  update(step: number, f: ProgressFields, log: boolean): void {
    const vals = { loss: f.loss.toFixed(4), lr: f.lr.toExponential(2), tps: Math.round(f.tps).toString() };
    const extra = Object.entries(f).filter(([k]) => !['loss', 'lr', 'tps'].includes(k)).map(([k, v]) => ` ${k} ${v.toFixed(4)}`).join('');
    if (this.bar) { this.bar.update(step, { ...vals, extra }); return; }
    if (!log) return;
    const elapsed = (performance.now() - this.t0) / 1000, rate = (step - this.s0) / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - step) / rate : 0;
    this.stream.write(`${this.label} step ${step}/${this.total} loss ${vals.loss}${extra} lr ${vals.lr} ${vals.tps} tok/s ETA ${formatSeconds(eta)}\n`);
  }

  stop(): void { this.bar?.stop(); }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '-';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.round(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}
