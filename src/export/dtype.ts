// Weight formats an export can be written in, and float32 -> float16/bfloat16 rounding
// (round to nearest, ties to even, as PyTorch's .half()/.bfloat16() do).
import { UserError } from '../util/errors.js';

export type ExportDtype = 'f32' | 'f16' | 'bf16' | 'q8_0';
export const EXPORT_DTYPES: ExportDtype[] = ['f32', 'f16', 'bf16', 'q8_0'];

export function parseDtype(v: unknown): ExportDtype {
  if (!EXPORT_DTYPES.includes(v as ExportDtype)) throw new UserError(`--dtype: unknown dtype ${JSON.stringify(v)} (choose one of ${EXPORT_DTYPES.join(', ')})`);
  return v as ExportDtype;
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of one float32. */
export function halfBits(x: number): number {
  f32[0] = x;
  const b = u32[0], sign = (b >>> 16) & 0x8000, exp = (b >>> 23) & 0xff, mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);         // inf / nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;                                // overflow -> inf
  if (e <= 0) {                                                        // subnormal or zero
    if (e < -10) return sign;
    const m = mant | 0x800000, shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1), halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;               // may carry into the exponent: still right
  return sign | h;
}

export function toF16(a: Float32Array): Uint16Array {
  const out = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = halfBits(a[i]);
  return out;
}

export function toBf16(a: Float32Array): Uint16Array {
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length), out = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const b = bits[i];
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) { out[i] = (b >>> 16) | 0x40; continue; } // keep nan a nan
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** float32 values of half-precision bits (to measure what rounding did). */
export function fromF16(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const s = h[i] & 0x8000 ? -1 : 1, e = (h[i] >>> 10) & 0x1f, m = h[i] & 0x3ff;
    out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}
