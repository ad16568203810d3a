// Byte-level BPE training. Memory is bounded by the table of distinct pre-tokenized words,
// not by the corpus; merges update pair counts incrementally (only words containing the
// merged pair are touched), with a lazy max-heap ordered as Hugging Face's trainer
// (higher count first, then the smaller pair).
import { bytesToUnicode, GPT2_PATTERN } from './bytes.js';
import { baseVocab, SPECIAL_TOKENS, tokenizerFiles, TokenizerFiles } from './files.js';

export class WordCounter {
  readonly counts = new Map<string, number>();
  private byteChar = bytesToUnicode();
  private enc = new TextEncoder();
  private specials = new RegExp(SPECIAL_TOKENS.map((t) => t.replace(/[|<>/]/g, (c) => `\\${c}`)).join('|'), 'g');

  add(text: string): void {
    for (const part of text.split(this.specials)) {
      for (const m of part.matchAll(GPT2_PATTERN)) {
        let w = '';
        for (const b of this.enc.encode(m[0])) w += this.byteChar[b];
        this.counts.set(w, (this.counts.get(w) ?? 0) + 1);
      }
    }
  }

  merge(other: Map<string, number>): void {
    for (const [w, c] of other) this.counts.set(w, (this.counts.get(w) ?? 0) + c);
  }
}

class MaxHeap {
  private a: [number, number][] = []; // [count, pair]
  push(count: number, pair: number): void {
    const a = this.a;
    a.push([count, pair]);
    let i = a.length - 1;
    while (i > 0) { const p = (i - 1) >> 1; if (!this.before(a[i], a[p])) break; [a[i], a[p]] = [a[p], a[i]]; i = p; }
  }
  pop(): [number, number] | undefined {
    const a = this.a;
    if (!a.length) return undefined;
    const top = a[0], last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l], a[m])) m = l;
        if (r < a.length && this.before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
  private before(x: [number, number], y: [number, number]): boolean { return x[0] !== y[0] ? x[0] > y[0] : x[1] < y[1]; }
}

const KEY = 1 << 20; // ids < 2^20, pair key = a * KEY + b

export interface TrainResult { files: TokenizerFiles; merges: number; words: number }

/** Learn merges until the vocabulary has vocabSize entries. */
export function trainBpe(counts: Map<string, number>, vocabSize: number, onProgress?: (done: number, total: number) => void): TrainResult {
  const vocab = baseVocab();
  const base = Object.keys(vocab).length;
  if (vocabSize < base) throw new RangeError(`vocab_size ${vocabSize} is smaller than the ${base} special and byte tokens`);
  const idToTok: string[] = [];
  for (const [t, i] of Object.entries(vocab)) idToTok[i] = t;
  // words as symbol arrays merged in place (len[] tracks their current length)
  const words: Int32Array[] = [], len: number[] = [], freq: number[] = [];
  for (const [w, c] of counts) { const arr = Int32Array.from([...w], (ch) => vocab[ch]); words.push(arr); len.push(arr.length); freq.push(c); }

  const pairCount = new Map<number, number>();
  // words that contain a pair (may list a word twice or after it stopped containing it:
  // checked when used)
  const where = new Map<number, number[]>();
  const bump = (pair: number, wi: number, by: number) => {
    pairCount.set(pair, (pairCount.get(pair) ?? 0) + by);
    if (by > 0) { const l = where.get(pair); if (l) { if (l[l.length - 1] !== wi) l.push(wi); } else where.set(pair, [wi]); }
  };
  words.forEach((w, wi) => { for (let i = 0; i + 1 < w.length; i++) bump(w[i] * KEY + w[i + 1], wi, freq[wi]); });
  const heap = new MaxHeap();
  for (const [p, c] of pairCount) heap.push(c, p);

  const stamp = new Int32Array(words.length).fill(-1);
  const merges: [string, string][] = [];
  const total = vocabSize - base;
  while (idToTok.length < vocabSize) {
    const top = heap.pop();
    if (!top) break; // nothing left to merge: the corpus is too small for this vocabulary
    const [c, pair] = top;
    if (pairCount.get(pair) !== c || c <= 0) continue; // stale heap entry
    const a = Math.floor(pair / KEY), b = pair % KEY;
    const id = idToTok.length;
    idToTok.push(idToTok[a] + idToTok[b]);
    merges.push([idToTok[a], idToTok[b]]);
    const changed = new Set<number>();
    for (const wi of where.get(pair) ?? []) {
      if (stamp[wi] === id) continue;
      stamp[wi] = id;
      const w = words[wi], f = freq[wi], n = len[wi];
      let out = 0;
      for (let i = 0; i < n; i++) {
        if (i + 1 < n && w[i] === a && w[i + 1] === b) {
          // left neighbour: a fresh merge (id) means (b, a) was already taken off, and (id, a) never counted
          if (out > 0 && w[out - 1] !== id) { const p = w[out - 1] * KEY + a; bump(p, wi, -f); changed.add(p); }
          if (i + 2 < n) { const p = b * KEY + w[i + 2]; bump(p, wi, -f); changed.add(p); }
          w[out] = id;
          if (out > 0) { const p = w[out - 1] * KEY + id; bump(p, wi, f); changed.add(p); }
          // the pair to the right is counted when its left symbol is written (below or next merge)
          i++;
        } else {
          w[out] = w[i];
          if (out > 0 && w[out - 1] === id) { const p = id * KEY + w[out]; bump(p, wi, f); changed.add(p); }
        }
        out++;
      }
      len[wi] = out;
    }
    pairCount.delete(pair);
    where.delete(pair);
    for (const p of changed) { const cnt = pairCount.get(p) ?? 0; if (cnt > 0) heap.push(cnt, p); }
    if (onProgress && merges.length % 100 === 0) onProgress(merges.length, total);
  }
  const finalVocab: Record<string, number> = {};
  idToTok.forEach((t, i) => { finalVocab[t] = i; });
  return { files: tokenizerFiles(merges, finalVocab), merges: merges.length, words: words.length };
}
