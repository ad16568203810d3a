// KvWindow against a plain model of its contents: rows of (key, value) vectors per layer,
// through appends, growth, row removal (the last row moves in) and shrinking.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../src/model/config.js';
import { KvWindow } from '../src/model/kv-window.js';
import { ort } from '../src/runtime/session.js';
import { Rng } from '../src/util/rng.js';

const c = resolveConfig('tiny', { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 50, max_position_embeddings: 200 });
const KV = 2, hd = 8, L = 2;

/** a run's outputs key.<l>/value.<l> [n, T, KV*hd] with fresh random values */
function outputs(rng: Rng, n: number, T: number): Record<string, ort.Tensor> {
  const o: Record<string, ort.Tensor> = {};
  for (let l = 0; l < L; l++) for (const k of ['key', 'value']) o[`${k}.${l}`] = new ort.Tensor('float32', Float32Array.from({ length: n * T * KV * hd }, () => rng.next()), [n, T, KV * hd]);
  return o;
}

test('the window holds what was appended, row by row, through growth, removal and shrinking', () => {
  const rng = new Rng(3), w = new KvWindow(c);
  // model[row][tensor index 2l or 2l+1][position] = KV*hd floats
  const model: Float32Array[][][] = [];
  const append = (row: number, out: Record<string, ort.Tensor>, src: number, T: number, from: number, count: number) => {
    w.reserve(w.rows, w.length(row) + count);
    w.append(row, out, src, T, from, count);
    for (let l = 0; l < L; l++) {
      ['key', 'value'].forEach((k, i) => {
        const d = out[`${k}.${l}`].data as Float32Array;
        for (let t = 0; t < count; t++) model[row][2 * l + i].push(d.slice((src * T + from + t) * KV * hd, (src * T + from + t + 1) * KV * hd));
      });
    }
  };
  const check = (what: string) => {
    const f = w.feeds(), M = w.slots;
    assert.deepEqual(f['past_key.0'].dims, [w.rows, 1, KV, M, hd], what);
    assert.deepEqual(f.past_bias.dims, [w.rows, 1, 1, 1, M], what);
    const bias = f.past_bias.data as Float32Array;
    model.forEach((tensors, b) => {
      assert.equal(w.length(b), tensors[0].length, `${what}: row ${b} length`);
      for (let p = 0; p < M; p++) assert.equal(bias[b * M + p], p < w.length(b) ? 0 : -1e9, `${what}: bias row ${b} slot ${p}`);
      for (let l = 0; l < L; l++) {
        ['key', 'value'].forEach((k, i) => {
          const d = f[`past_${k}.${l}`].data as Float32Array;
          tensors[2 * l + i].forEach((vec, p) => {
            for (let h = 0; h < KV; h++) for (let e = 0; e < hd; e++) {
              assert.equal(d[((b * KV + h) * M + p) * hd + e], vec[h * hd + e], `${what}: ${k} layer ${l} row ${b} slot ${p}`);
            }
          });
        });
      }
    });
  };
  const add = () => { model.push(Array.from({ length: 2 * L }, () => [])); return w.addRow(); };
  // three rows prefilled from one padded run: columns from T-len on
  const pre = outputs(rng, 3, 10);
  for (const [j, len] of [[0, 10], [1, 4], [2, 7]]) append(add(), pre, j, 10, 10 - len, len);
  check('after prefill');
  assert.equal(w.slots, 32);
  for (let s = 0; s < 30; s++) { const out = outputs(rng, w.rows, 1); for (let b = 0; b < w.rows; b++) append(b, out, b, 1, 0, 1); }
  check('after 30 steps (grown)');
  assert.ok(w.slots >= 40 && w.slots % 32 === 0, `slots ${w.slots}`);
  // a fourth and fifth row: the row capacity grows past four
  const more = outputs(rng, 2, 3);
  append(add(), more, 0, 3, 0, 3); append(add(), more, 1, 3, 1, 2);
  check('five rows');
  // row 0 (the longest) leaves: the last row takes its place
  w.removeRow(0); model[0] = model.pop()!;
  check('after removing row 0');
  w.removeRow(3); model.splice(3, 1); // the last row itself
  w.removeRow(1); model[1] = model.pop()!;
  w.fit();
  check('after removing two more and fitting');
  assert.equal(w.rows, 2);
  assert.equal(w.slots, 64, 'rows of 34 and 3 tokens: 64 slots of 96 are kept');
  w.removeRow(1); model.splice(1, 1);
  w.removeRow(0); model.splice(0, 1);
  w.fit();
  assert.equal(w.rows, 0);
  assert.ok(w.bytes <= KvWindow.bytesFor(c, 4, 32), `an empty window keeps little (${w.bytes} bytes)`);
  assert.throws(() => w.reserve(1, 201), /exceed the context window/);
});
