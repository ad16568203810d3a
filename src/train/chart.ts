// Loss curves: an SVG picture for the run directory and a compact chart for the terminal.
const esc = (s: string) => s.replace(/[<&>]/g, (c) => ({ '<': '&lt;', '&': '&amp;', '>': '&gt;' }[c]!));

export function lossSvg(series: { name: string; points: [number, number][] }[], title: string): string {
  const W = 720, H = 400, L = 60, R = 20, T = 40, B = 50;
  const all = series.flatMap((s) => s.points);
  if (!all.length) return '';
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]).filter(Number.isFinite);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), y0 = Math.min(...ys), y1 = Math.max(...ys, y0 + 1e-9);
  const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R), py = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const colors = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`;
  svg += `<rect width="100%" height="100%" fill="white"/><text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`;
  for (let i = 0; i <= 5; i++) {
    const y = y0 + ((y1 - y0) * i) / 5, yy = py(y);
    svg += `<line x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}" stroke="#e5e7eb"/><text x="${L - 6}" y="${yy + 4}" text-anchor="end">${y.toFixed(2)}</text>`;
    const x = x0 + ((x1 - x0) * i) / 5;
    svg += `<text x="${px(x)}" y="${H - B + 18}" text-anchor="middle">${Math.round(x)}</text>`;
  }
  svg += `<text x="${W / 2}" y="${H - 10}" text-anchor="middle">step</text><text x="16" y="${H / 2}" transform="rotate(-90 16 ${H / 2})" text-anchor="middle">loss</text>`;
  series.forEach((s, k) => {
    const d = s.points.filter((p) => Number.isFinite(p[1])).map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join('');
    svg += `<path d="${d}" fill="none" stroke="${colors[k % colors.length]}" stroke-width="1.8"/>`;
    svg += `<text x="${W - R - 4}" y="${T + 16 * (k + 1)}" text-anchor="end" fill="${colors[k % colors.length]}">${esc(s.name)}</text>`;
  });
  return svg + '</svg>\n';
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
