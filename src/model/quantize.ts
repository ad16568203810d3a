// 4-bit block quantization of linear weights for ONNX Runtime's MatMulNBits (com.microsoft):
// each output row of W [N, K] is cut into blocks of `block` inputs sharing one scale,
// values stored as unsigned nibbles with an implicit zero point of 8 (low nibble first).
import { Graph, Tensor } from '../graph/graph.js';

export interface Q4 { packed: Uint8Array; scales: Float32Array; N: number; K: number; block: number }

export function quantizeQ4(w: Float32Array, N: number, K: number, block = 32): Q4 {
  if (K % block !== 0) throw new Error(`quantizeQ4: K=${K} is not a multiple of the block size ${block}`);
  const nb = K / block;
  const packed = new Uint8Array(N * nb * (block / 2)), scales = new Float32Array(N * nb);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nb; b++) {
      const off = n * K + b * block;
      let extreme = 0;
      for (let k = 0; k < block; k++) if (Math.abs(w[off + k]) > Math.abs(extreme)) extreme = w[off + k];
      const scale = extreme === 0 ? 1 : extreme / -8; // the extreme value maps exactly to -8
      scales[n * nb + b] = scale;
      const inv = 1 / scale;
      for (let k = 0; k < block; k += 2) {
        const q0 = Math.max(0, Math.min(15, Math.round(w[off + k] * inv) + 8));
        const q1 = Math.max(0, Math.min(15, Math.round(w[off + k + 1] * inv) + 8));
        packed[(n * nb + b) * (block / 2) + k / 2] = q0 | (q1 << 4);
      }
    }
  }
  return { packed, scales, N, K, block };
}

export function dequantizeQ4(q: Q4): Float32Array {
  const { N, K, block } = q, nb = K / block, out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) for (let b = 0; b < nb; b++) for (let k = 0; k < block; k++) {
    const byte = q.packed[(n * nb + b) * (block / 2) + (k >> 1)];
    out[n * K + b * block + k] = (((k & 1) ? byte >> 4 : byte & 15) - 8) * q.scales[n * nb + b];
  }
  return out;
}

/** y = x @ W^T with W given quantized; the weights become constants of the graph. */
export function q4Linear(g: Graph, x: Tensor, q: Q4, accuracyLevel = 4): Tensor {
  const nb = q.K / q.block;
  const b = g.constant(q.packed as unknown as number[], 'uint8', [q.N, nb, q.block / 2]);
  const s = g.constant(q.scales, 'float32', [q.N * nb]);
  return g.node('MatMulNBits', [x, b, s], [{ dtype: x.dtype, shape: [...x.shape.slice(0, -1), q.N] }],
    { K: { i: q.K }, N: { i: q.N }, bits: { i: 4 }, block_size: { i: q.block }, accuracy_level: { i: accuracyLevel } }, 'com.microsoft')[0];
}
