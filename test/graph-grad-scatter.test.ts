// Finite-difference checks of the gradients the MoE routing relies on: GatherND (tokens
// gathered for an expert, repeated indices included) and ScatterND with reduction "add"
// (expert outputs summed back, duplicates accumulate), and both around NonZero indices.
import { test } from 'node:test';
import { checkGrad } from './gradcheck.js';

const i64 = (v: number[]) => BigInt64Array.from(v.map(BigInt));

test('grad GatherND with repeated row indices', async () => {
  await checkGrad([{ name: 'x', shape: [5, 3] }, { name: 'idx', shape: [4, 1], dtype: 'int64', data: i64([3, 0, 3, 4]) }],
    (g, [x, idx]) => g.mul(g.gatherND(x, idx), g.gatherND(x, idx)));
});

test('grad ScatterND add into data and from updates, with a duplicate index', async () => {
  await checkGrad([{ name: 'data', shape: [5, 3] }, { name: 'upd', shape: [3, 3] }, { name: 'idx', shape: [3, 1], dtype: 'int64', data: i64([1, 4, 1]) }],
    (g, [data, upd, idx]) => { const y = g.scatterND(data, idx, g.mul(upd, upd), 'add'); return g.mul(y, y); });
});

test('grad gather -> transform -> scatter-add over NonZero indices (one MoE expert)', async () => {
  await checkGrad([{ name: 'x', shape: [6, 4] }, { name: 'w', shape: [4, 4] }, { name: 'sel', shape: [6], data: Float64Array.from([1, 0, 0, 1, 1, 0]), diff: false }],
    (g, [x, w, sel]) => {
      const idx = g.transpose(g.nonzero(g.greater(sel, g.scalar(0, 'float64'))), [1, 0]);
      const ye = g.matmul(g.gatherND(x, idx), w);
      return g.scatterND(g.mul(x, 0.5), idx, g.mul(ye, ye), 'add');
    });
});
