// Seeded PRNG (xoshiro128**) whose state is four uint32s, so checkpoints can store it
// and a resumed run draws exactly the numbers an uninterrupted one would.
export class Rng {
  private s: Uint32Array;
  private spare: number | null = null;

  constructor(seed: number | number[] = 42) {
    if (Array.isArray(seed)) { this.s = Uint32Array.from(seed); return; }
    // splitmix32 to spread the seed over the state
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  get state(): number[] { return Array.from(this.s); }

  /** uniform uint32 */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** uniform in [0, 1) */
  next(): number { return this.nextU32() / 4294967296; }

  /** integer in [0, n) */
  int(n: number): number { return Math.floor(this.next() * n); }

  /** standard normal (Box-Muller, caching the second value) */
  normal(): number {
    if (this.spare !== null) { const v = this.spare; this.spare = null; return v; }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates permutation of 0..n-1 */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) { const j = this.int(i + 1); const t = p[i]; p[i] = p[j]; p[j] = t; }
    return p;
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }
