/**
 * The resampler's kernel (lib/resample/kernel/fir.ts) written in plain scalar JavaScript, for the
 * benchmark only: the same filters, stages and memory layout, so the difference it shows is what
 * the wasm SIMD kernel buys (why the package ships a .wasm instead of this).
 */
import type { FirExports } from '../../lib/resample/kernel';

export function jsKernel(): FirExports {
  let buffer = new ArrayBuffer(65536);
  let f32 = new Float32Array(buffer);
  let i16 = new Int16Array(buffer);
  const memory = {
    get buffer() {
      return buffer;
    },
    grow(pages: number): number {
      const old = buffer.byteLength / 65536;
      const next = new ArrayBuffer(buffer.byteLength + pages * 65536);
      new Uint8Array(next).set(new Uint8Array(buffer));
      buffer = next;
      f32 = new Float32Array(buffer);
      i16 = new Int16Array(buffer);
      return old;
    },
  };
  return {
    memory,
    heapBase: () => 16,
    pick(src, frames, stride, ch, dst) {
      const s = (src >> 1) + ch;
      const d = dst >> 2;
      for (let i = 0; i < frames; i++) f32[d + i] = i16[s + i * stride] / 32768;
    },
    average(src, frames, stride, dst) {
      const s = src >> 1;
      const d = dst >> 2;
      const scale = 1 / (32768 * stride);
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < stride; c++) sum += i16[s + i * stride + c];
        f32[d + i] = sum * scale;
      }
    },
    toS16(src, n, dst, stride, ch) {
      const s = src >> 2;
      const d = (dst >> 1) + ch;
      for (let i = 0; i < n; i++) {
        const v = Math.round(f32[s + i] * 32768);
        i16[d + i * stride] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
    },
    fir(x, coef, taps, out, n, pos, acc, L, M) {
      const step = Math.floor(M / L);
      const rest = M % L;
      const xb = x >> 2;
      const cb = coef >> 2;
      const ob = out >> 2;
      for (let j = 0; j < n; j++) {
        const h = cb + acc * taps;
        const p = xb + pos;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let k = 0; k < taps; k += 4) {
          s0 += f32[p + k] * f32[h + k];
          s1 += f32[p + k + 1] * f32[h + k + 1];
          s2 += f32[p + k + 2] * f32[h + k + 2];
          s3 += f32[p + k + 3] * f32[h + k + 3];
        }
        f32[ob + j] = s0 + s1 + (s2 + s3);
        pos += step;
        acc += rest;
        if (acc >= L) {
          acc -= L;
          pos++;
        }
      }
    },
    firInterp() {
      throw new Error('not needed for the 48k -> 16k benchmark');
    },
  };
}
