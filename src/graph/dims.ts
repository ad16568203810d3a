// Symbolic tensor dimensions. A dim is a number or a monomial over named symbols
// written canonically ("T", "B*T", "2*T"), so one graph serves every batch shape and
// reshapes with -1 can still be checked at build time.

export type Dim = number | string;

interface Mono { c: number; syms: string[] }

function parse(d: Dim): Mono {
  if (typeof d === 'number') return { c: d, syms: [] };
  let c = 1;
  const syms: string[] = [];
  for (const part of d.split('*')) {
    if (/^\d+$/.test(part)) c *= Number(part);
    else syms.push(part);
  }
  return { c, syms: syms.sort() };
}

function format(m: Mono): Dim {
  if (m.syms.length === 0) return m.c;
  return (m.c === 1 ? [] : [String(m.c)]).concat(m.syms).join('*');
}

export function mulDims(a: Dim, b: Dim): Dim {
  const x = parse(a), y = parse(b);
  return format({ c: x.c * y.c, syms: x.syms.concat(y.syms).sort() });
}

/** a / b, or undefined when b does not divide a symbolically. */
export function divDims(a: Dim, b: Dim): Dim | undefined {
  const x = parse(a), y = parse(b);
  if (y.c === 0 || x.c % y.c !== 0) return undefined;
  const rest = x.syms.slice();
  for (const s of y.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return format({ c: x.c / y.c, syms: rest });
}

export function prodDims(ds: Dim[]): Dim {
  return ds.reduce<Dim>((p, d) => mulDims(p, d), 1);
}

/** Dims whose size only the runtime knows (NonZero counts, concatenations) start with '?'. */
export const isUnknown = (d: Dim): boolean => typeof d === 'string' && d.startsWith('?');

export function sameDim(a: Dim, b: Dim): boolean {
  return isUnknown(a) || isUnknown(b) || format(parse(a)) === format(parse(b));
}

export function isStatic(shape: Dim[]): shape is number[] {
  return shape.every((d) => typeof d === 'number');
}

export function shapeStr(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}

/** Resolve symbolic dims with concrete values, e.g. {B: 4, T: 512}. */
export function resolveShape(shape: Dim[], env: Record<string, number>): number[] {
  return shape.map((d) => {
    const m = parse(d);
    let v = m.c;
    for (const s of m.syms) {
      if (!(s in env)) throw new Error(`no value for symbolic dimension "${s}"`);
      v *= env[s];
    }
    return v;
  });
}
