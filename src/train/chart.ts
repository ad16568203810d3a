// Loss curves: an SVG picture for the run directory (loss, eval loss, learning rate) and a
// compact chart for the terminal.
const esc = (s: string) => s.replace(/[<&>]/g, (c) => ({ '<': '&lt;', '&': '&amp;', '>': '&gt;' }[c]!));

export interface Series { name: string; points: [number, number][] }

/**
 * A run's curves: `left` series (losses) on the left axis, and `right` (the learning rate)
 * dashed on an axis of its own on the right. Non-finite points are left out.
 */
export function lossSvg(left: Series[], title: string, right?: Series): string {
  const W = 720, H = 400, L = 60, R = right ? 70 : 20, T = 40, B = 50;
  const finite = (ss: Series[]) => ss.flatMap((x) => x.points).filter((p) => Number.isFinite(p[1]));
  const all = finite(left);
  if (!all.length) return '';
  const xs = [...all, ...finite(right ? [right] : [])].map((p) => p[0]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const scale = (ys: number[]) => { const y0 = Math.min(...ys), y1 = Math.max(...ys, y0 + 1e-9); return { y0, y1, py: (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B) }; };
  const ly = scale(all.map((p) => p[1]));
  const rPoints = right ? finite([right]) : [];
  const ry = rPoints.length ? scale(rPoints.map((p) => p[1])) : null;
  const colors = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'], lrColor = '#6b7280';
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`;
  svg += `<rect width="100%" height="100%" fill="white"/><text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`;
  for (let i = 0; i <= 5; i++) {
    const y = ly.y0 + ((ly.y1 - ly.y0) * i) / 5, yy = ly.py(y);
    svg += `<line x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}" stroke="#e5e7eb"/><text x="${L - 6}" y="${yy + 4}" text-anchor="end">${y.toFixed(2)}</text>`;
    if (ry) svg += `<text x="${W - R + 6}" y="${yy + 4}" fill="${lrColor}">${(ry.y0 + ((ry.y1 - ry.y0) * i) / 5).toExponential(1)}</text>`;
    const x = x0 + ((x1 - x0) * i) / 5;
    svg += `<text x="${px(x)}" y="${H - B + 18}" text-anchor="middle">${Math.round(x)}</text>`;
  }
  svg += `<text x="${W / 2}" y="${H - 10}" text-anchor="middle">step</text><text x="16" y="${H / 2}" transform="rotate(-90 16 ${H / 2})" text-anchor="middle">loss</text>`;
  const path = (pts: [number, number][], py: (y: number) => number) => pts.filter((p) => Number.isFinite(p[1])).map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join('');
  const legend = (k: number, name: string, color: string) => `<text x="${W - R - 4}" y="${T + 16 * (k + 1)}" text-anchor="end" fill="${color}">${esc(name)}</text>`;
  left.forEach((x, k) => {
    const color = colors[k % colors.length];
    svg += `<path d="${path(x.points, ly.py)}" fill="none" stroke="${color}" stroke-width="1.8"/>` + legend(k, x.name, color);
  });
  if (right && ry) {
    svg += `<path d="${path(right.points, ry.py)}" fill="none" stroke="${lrColor}" stroke-width="1.2" stroke-dasharray="5 3"/>` + legend(left.length, `${right.name} (right axis)`, lrColor);
    svg += `<text x="${W - 14}" y="${H / 2}" transform="rotate(90 ${W - 14} ${H / 2})" text-anchor="middle" fill="${lrColor}">${esc(right.name)}</text>`;
  }
  return svg + '</svg>\n';
}

/** A run's loss.svg from its metrics entries: train loss, eval loss where logged, learning rate. */
export function runChart(metrics: Record<string, number>[], stage: string): string {
  const series = (key: string): [number, number][] => metrics.filter((e) => e[key] !== undefined).map((e) => [e.step, e[key]]);
  const evalLoss = series('eval_loss');
  return lossSvg([{ name: 'train loss', points: series('loss') }, ...(evalLoss.length ? [{ name: 'eval loss', points: evalLoss }] : [])], `${stage} loss`,
    { name: 'learning rate', points: series('lr') });
}

/** A small multi-line terminal chart of a series (rows x cols of braille-free blocks). */
export function terminalChart(values: number[], rows = 8, cols = 60): string {
  const v = values.filter(Number.isFinite);
  if (v.length < 2) return '';
  const buckets: number[] = [];
  for (let c = 0; c < Math.min(cols, v.length); c++) {
    const a = Math.floor((c * v.length) / Math.min(cols, v.length)), b = Math.max(a + 1, Math.floor(((c + 1) * v.length) / Math.min(cols, v.length)));
    buckets.push(v.slice(a, b).reduce((s, x) => s + x, 0) / (b - a));
  }
  const lo = Math.min(...buckets), hi = Math.max(...buckets), span = hi - lo || 1;
  const lines: string[] = [];
  for (let r = rows - 1; r >= 0; r--) {
    const label = r === rows - 1 ? hi.toFixed(2).padStart(7) : r === 0 ? lo.toFixed(2).padStart(7) : ' '.repeat(7);
    lines.push(`${label} │${buckets.map((b) => ((b - lo) / span) * (rows - 1) >= r - 0.5 ? '█' : ' ').join('')}`);
  }
  lines.push(`${' '.repeat(8)}└${'─'.repeat(buckets.length)} step →`);
  return lines.join('\n');
}
