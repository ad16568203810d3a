// Every op's gradient against float64 central differences (max rel error < 1e-6 on
// entries with |g| >= 1e-3).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkGrad, runGraph } from './gradcheck.js';
import { Rng } from '../src/util/rng.js';
import { attention, causalBias, crossEntropy, dpoLoss, linear, lmHeadCrossEntropy, sequenceLogProbs, softplus, rmsNorm, rope, ropeTables, swigluAct } from '../src/graph/nn.js';

const i64 = (v: number[]) => BigInt64Array.from(v.map(BigInt));
const f64 = (v: ArrayLike<number>) => Float64Array.from(v);

const unary: [string, (g: any, x: any) => any, boolean?][] = [
  ['Neg', (g, x) => g.neg(x)], ['Exp', (g, x) => g.exp(x)], ['Sigmoid', (g, x) => g.sigmoid(x)],
  ['Log', (g, x) => g.log(x), true], ['Sqrt', (g, x) => g.sqrt(x), true], ['Reciprocal', (g, x) => g.reciprocal(x), true],
  ['Pow', (g, x) => g.pow(x, 3)], ['SwiGLU activation', (g, x) => swigluAct(g, x, g.exp(x))], ['Identity', (g, x) => g.identity(x)],
  ['Softmax', (g, x) => g.softmax(x, -1)], ['Softmax axis 0', (g, x) => g.softmax(x, 0)], ['LogSoftmax', (g, x) => g.logSoftmax(x, 1)],
  ['ReduceSum', (g, x) => g.reduceSum(x, [1], false)], ['ReduceSum keepdims', (g, x) => g.reduceSum(x, [0, 2], true)],
  ['ReduceMean', (g, x) => g.reduceMean(x, [2], false)], ['ReduceMax', (g, x) => g.reduceMax(x, [1], true)],
  ['Reshape', (g, x) => g.reshape(x, [0, -1])], ['Transpose', (g, x) => g.transpose(x, [2, 0, 1])],
  ['Slice', (g, x) => g.slice(x, 2, 1, 3)], ['Unsqueeze', (g, x) => g.unsqueeze(x, [1])],
  ['Squeeze', (g, x) => g.squeeze(g.slice(x, 1, 0, 1), [1])], ['Split', (g, x) => { const [a, b] = g.split(x, 2, [1, 3]); return g.mul(g.reduceSum(a, [2], true), b); }],
  ['Concat', (g, x) => g.concat([x, g.exp(x)], 1)], ['Expand', (g, x) => g.expand(g.slice(x, 1, 0, 1), g.ints([2, 3, 4]), [2, 3, 4])],
  ['TopK', (g, x) => g.topk(x, 2, -1)[0]], ['Relu', (g, x) => g.relu(x)], ['Abs', (g, x) => g.abs(x)], ['softplus', (g, x) => softplus(g, g.mul(x, 8))],
];

test('the gradient check fails on a wrong gradient, naming input and index, and on a check of nothing', async () => {
  const x = [{ name: 'x', shape: [2, 3, 4] }];
  // a large entry off by 1e-4 relative
  await assert.rejects(checkGrad(x, (g, [v]) => g.exp(v), { tamper: (_n, a) => { a[5] *= 1 + 1e-4; } }), /x\[5\]: analytic .* \(rel 1\.00e-4/);
  // a zero entry made 1e-5: too small for the relative test, caught by the absolute one
  let at = -1;
  await assert.rejects(checkGrad(x, (g, [v]) => g.reduceMax(v, [1], true), { tamper: (_n, a) => { at = a.indexOf(0); a[at] = 1e-5; } }),
    (e: Error) => at >= 0 && e.message.startsWith(`x[${at}]: analytic 0.00001 vs finite difference 0 `));
  // gradients everywhere below the comparison threshold: nothing would be compared
  await assert.rejects(checkGrad(x, (g, [v]) => g.mul(v, 1e-5)), /x: only 0 of 24 gradient entries have \|g\| >= 0\.001 \(need 2\)/);
  await assert.rejects(checkGrad([{ name: 'w', shape: [2, 3], diff: false }], (g, [w]) => g.exp(w)), /no differentiable input/);
  // the second input of two is named
  await assert.rejects(checkGrad([{ name: 'a', shape: [3] }, { name: 'b', shape: [3] }], (g, [a, b]) => g.mul(a, b), { tamper: (n, a) => { if (n === 'b') a[2] += 0.5; } }),
    /^AssertionError.*b\[2\]: analytic/s);
});

for (const [name, fn, positive] of unary) {
  test(`grad ${name}`, async () => {
    await checkGrad([{ name: 'x', shape: [2, 3, 4], positive }], (g, [x]) => fn(g, x));
  });
}

test('grad SwiGLU with the down projection inside the group', async () => {
  await checkGrad([{ name: 'gate', shape: [2, 3, 6] }, { name: 'up', shape: [2, 3, 6] }, { name: 'down', shape: [4, 6] }],
    (g, [gate, up, down]) => swigluAct(g, gate, up, down));
});

test('grad broadcasting binary ops (Add Sub Mul Div Max Pow)', async () => {
  await checkGrad([{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [3, 1], positive: true }], (g, [a, b]) =>
    g.add(g.add(g.sub(g.mul(a, b), b), g.div(a, b)), g.add(g.max(a, g.mul(b, 0.3)), g.pow(b, g.add(g.mul(a, 0.1), 1)))));
});

test('grad MatMul batched, 3-D x 2-D, and Gemm with transposes', async () => {
  await checkGrad([{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [2, 4, 5] }, { name: 'w', shape: [4, 6] }],
    (g, [a, b, w]) => g.add(g.reduceSum(g.matmul(a, b), [2], false), g.reduceSum(g.matmul(a, w), [2], false)));
  for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
    await checkGrad([{ name: 'a', shape: tA ? [4, 3] : [3, 4] }, { name: 'b', shape: tB ? [5, 4] : [4, 5] }],
      (g, [a, b]) => g.gemm(a, b, tA, tB, 0.7));
  }
});

test('grad Cast (linear, so a large step is exact despite float32 rounding)', async () => {
  await checkGrad([{ name: 'x', shape: [2, 3] }], (g, [x]) => g.cast(g.cast(x, 'float32'), 'float64'), { eps: 0.5 });
});

test('grad Where', async () => {
  await checkGrad([{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4] }], (g, [a, b]) => g.where(g.greater(a, 0), a, g.mul(b, 2)));
});

test('grad Gather (embedding with repeated ids) and GatherElements', async () => {
  await checkGrad([{ name: 'E', shape: [7, 3] }, { name: 'ids', shape: [2, 3], dtype: 'int64', data: i64([1, 4, 1, 6, 0, 4]) }],
    (g, [E, ids]) => g.gather(E, ids));
  await checkGrad([{ name: 'x', shape: [3, 5] }, { name: 'idx', shape: [3, 2], dtype: 'int64', data: i64([0, 4, 2, 2, 1, 3]) }],
    (g, [x, idx]) => g.gatherElements(x, idx, 1));
  // int32 ids (training graphs): the gradient is a ScatterElements over rows, also for rank-3 tables
  await checkGrad([{ name: 'E', shape: [7, 3] }, { name: 'ids', shape: [2, 3], dtype: 'int32', data: i64([1, 4, 1, 6, 0, 4]) }],
    (g, [E, ids]) => g.gather(E, ids));
  await checkGrad([{ name: 'E', shape: [5, 2, 3] }, { name: 'ids', shape: [4], dtype: 'int32', data: i64([3, 0, 3, 4]) }],
    (g, [E, ids]) => g.gather(E, ids));
});

test('grad ReduceMean over a dim known only at run time', async () => {
  await checkGrad([{ name: 'x', shape: [6, 4] }], (g, [x]) => {
    const dyn = g.reshapeTo(x, g.shapeOf(x), ['?n', 4]);
    return g.add(g.reduceMean(dyn, [0], false), g.squeeze(g.reduceMean(g.mul(dyn, dyn), [0, 1], true), [0]));
  });
});

test('grad Linear, weight [out, in], with the weight frozen or trained', async () => {
  await checkGrad([{ name: 'x', shape: [2, 3, 4] }, { name: 'w', shape: [5, 4] }], (g, [x, w]) => linear(g, x, w));
  await checkGrad([{ name: 'x', shape: [2, 3, 4] }, { name: 'w', shape: [5, 4], diff: false }], (g, [x, w]) => linear(g, x, w));
});

test('grad RMSNorm', async () => {
  await checkGrad([{ name: 'x', shape: [2, 3, 8] }, { name: 'w', shape: [8] }], (g, [x, w]) => rmsNorm(g, x, w, 1e-5));
});

test('grad rotary embedding (rotate-half)', async () => {
  const { cos, sin } = ropeTables(4, 3, 3, 10000);
  await checkGrad([{ name: 'x', shape: [2, 3, 2, 4] }, { name: 'cos', shape: [3, 4], data: f64(cos), diff: false },
    { name: 'sin', shape: [3, 4], data: f64(sin), diff: false }], (g, [x, c, s]) => rope(g, x, c, s));
});

test('grad causal grouped-query attention, with and without a padding bias', async () => {
  const T = 3, H = 4, KV = 2, hd = 4;
  const bias = f64(causalBias(H / KV, T, T));
  await checkGrad([{ name: 'q', shape: [2, T, H, hd] }, { name: 'k', shape: [2, T, KV, hd] }, { name: 'v', shape: [2, T, KV, hd] },
    { name: 'bias', shape: [H / KV * T, T], data: bias, diff: false }], (g, [q, k, v, b]) => attention(g, q, k, v, b));
  const padded = new Float64Array(2 * H / KV * T * T);
  padded.set(bias, 0); padded.set(bias, bias.length);
  for (let r = 0; r < H / KV * T; r++) padded[bias.length + r * T + 2] = -1e9; // second row: key 2 is padding
  await checkGrad([{ name: 'q', shape: [2, T, H, hd] }, { name: 'k', shape: [2, T, KV, hd] }, { name: 'v', shape: [2, T, KV, hd] },
    { name: 'bias', shape: [2, 1, H / KV * T, T], data: padded, diff: false }], (g, [q, k, v, b]) => attention(g, q, k, v, b));
});

test('grad causal attention computed in query blocks equals the unblocked one', async () => {
  const T = 6, H = 4, KV = 2, hd = 4;
  const bias = f64(causalBias(H / KV, T, T));
  const inputs = [{ name: 'q', shape: [2, T, H, hd] }, { name: 'k', shape: [2, T, KV, hd] }, { name: 'v', shape: [2, T, KV, hd] },
    { name: 'bias', shape: [1, 1, H / KV * T, T], data: bias, diff: false }];
  await checkGrad(inputs, (g, [q, k, v, b]) => attention(g, q, k, v, b, 3));
  const rng = new Rng(3);
  const values = inputs.map((i) => i.data ?? Float64Array.from({ length: i.shape.reduce((p, d) => p * d, 1) }, () => rng.normal()));
  const [blocked, plain] = await Promise.all([3, 1].map((chunks) => runGraph(inputs.map((i, k) => ({ ...i, data: values[k] })),
    (g, [q, k, v, b]) => attention(g, q, k, v, b, chunks))));
  let diff = 0;
  for (let i = 0; i < plain.length; i++) diff = Math.max(diff, Math.abs(plain[i] - blocked[i]));
  assert.ok(diff < 1e-12, `blocked attention differs by ${diff}`);
});

test('grad cross-entropy with ignore_index -100', async () => {
  await checkGrad([{ name: 'logits', shape: [5, 7] }, { name: 'labels', shape: [5], dtype: 'int64', data: i64([3, -100, 0, 6, -100]) }],
    (g, [l, y]) => crossEntropy(g, l, y));
  await checkGrad([{ name: 'logits', shape: [5, 7] }, { name: 'labels', shape: [5], dtype: 'int32', data: i64([3, -100, 0, 6, -100]) }],
    (g, [l, y]) => crossEntropy(g, l, y));
});

test('grad blocked LM head + cross-entropy, and it equals the unblocked one', async () => {
  const labels = i64([3, -100, 0, 6, -100, 2, 5, 1, -100, 4, 4, 0]);
  const inputs = [{ name: 'h', shape: [2, 6, 4] }, { name: 'E', shape: [7, 4] }, { name: 'labels', shape: [2, 6], dtype: 'int64' as const, data: labels }];
  await checkGrad(inputs, (g, [h, E, y]) => lmHeadCrossEntropy(g, h, E, y, 3));
  await checkGrad(inputs.map((i) => (i.name === 'labels' ? { ...i, dtype: 'int32' as const } : i)), (g, [h, E, y]) => lmHeadCrossEntropy(g, h, E, y, 3));
  const rng = new Rng(9);
  const vals = inputs.map((i) => (i as { data?: BigInt64Array }).data ?? Float64Array.from({ length: i.shape.reduce((p, d) => p * d, 1) }, () => rng.normal()));
  const [blocked, plain] = await Promise.all([
    runGraph(inputs.map((i, k) => ({ ...i, data: vals[k] })), (g, [h, E, y]) => lmHeadCrossEntropy(g, h, E, y, 3)),
    runGraph(inputs.map((i, k) => ({ ...i, data: vals[k] })), (g, [h, E, y]) => crossEntropy(g, g.reshape(linear(g, h, E), [-1, 7]), g.reshape(y, [-1]))),
  ]);
  assert.ok(Math.abs(blocked[0] - plain[0]) < 1e-12, `${blocked[0]} vs ${plain[0]}`);
});

test('grad sequence log-probs and the DPO loss', async () => {
  const labels = i64([3, -100, 0, 6, 2, 2, -100, 1, 5, 4, 0, -100, 1, 1, 2, 3]);
  await checkGrad([{ name: 'h', shape: [4, 4, 3] }, { name: 'E', shape: [7, 3] }, { name: 'labels', shape: [4, 4], dtype: 'int64', data: labels },
    { name: 'ref', shape: [4] }], (g, [h, E, y, ref]) => dpoLoss(g, sequenceLogProbs(g, h, E, y), ref, 0.15).loss);
  await checkGrad([{ name: 'h', shape: [4, 4, 3] }, { name: 'E', shape: [7, 3] }, { name: 'labels', shape: [4, 4], dtype: 'int32', data: labels },
    { name: 'ref', shape: [4] }], (g, [h, E, y, ref]) => dpoLoss(g, sequenceLogProbs(g, h, E, y), ref, 0.15).loss);
});
