// AssemblyScript source of fir.wasm (built by scripts/build-wasm.js; not part of the tsc build).
//
// Why wasm: a 48 kHz -> 16 kHz filter that rejects aliases by >= 90 dB with a 7.2 -> 8 kHz
// transition needs a few hundred multiply-adds per output sample. Scalar JS does about one per
// nanosecond here (measured), i.e. ~300x real time; f32x4 SIMD does four at a time.
//
// Memory is laid out by the JS side (lib/resample/kernel.ts); these functions only read and write
// the regions they are given. Every output sample is a fixed dot product of a fixed window of
// input, computed in a fixed order, so the result never depends on how the stream was chunked.

/** First free byte after the module's own data: where the JS side starts its regions. */
export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of linear memory now (the JS side grows it with memory.grow). */
export function memoryBytes(): usize {
  return <usize>memory.size() << 16;
}

/** One channel of interleaved s16 (`stride` channels) -> f32 in [-1, 1). */
export function pick(src: usize, frames: i32, stride: i32, ch: i32, dst: usize): void {
  const scale: f32 = 1.0 / 32768.0;
  let s = src + (<usize>ch << 1);
  const step = <usize>stride << 1;
  for (let i = 0; i < frames; i++) {
    store<f32>(dst + (<usize>i << 2), <f32>load<i16>(s) * scale);
    s += step;
  }
}

/** Average of all `stride` channels of interleaved s16 -> f32 mono. */
export function average(src: usize, frames: i32, stride: i32, dst: usize): void {
  const scale: f32 = <f32>(1.0 / (32768.0 * <f64>stride));
  let s = src;
  const step = <usize>stride << 1;
  if (stride == 2) {
    for (let i = 0; i < frames; i++) {
      const sum = <i32>load<i16>(s) + <i32>load<i16>(s, 2);
      store<f32>(dst + (<usize>i << 2), <f32>sum * scale);
      s += 4;
    }
    return;
  }
  for (let i = 0; i < frames; i++) {
    let sum: i32 = 0;
    for (let c = 0; c < stride; c++) sum += <i32>load<i16>(s + (<usize>c << 1));
    store<f32>(dst + (<usize>i << 2), <f32>sum * scale);
    s += step;
  }
}

/** f32 -> one channel of interleaved s16, rounded to nearest and saturated. */
export function toS16(src: usize, n: i32, dst: usize, stride: i32, ch: i32): void {
  let d = dst + (<usize>ch << 1);
  const step = <usize>stride << 1;
  for (let i = 0; i < n; i++) {
    let v = nearest<f32>(load<f32>(src + (<usize>i << 2)) * 32768.0);
    if (v > 32767.0) v = 32767.0;
    if (v < -32768.0) v = -32768.0;
    store<i16>(d, <i16>(<i32>v));
    d += step;
  }
}

// @ts-ignore: decorator
@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * Polyphase FIR, one phase per output (L phases, each `taps` long, taps a multiple of 4):
 * output j = dot(phase[acc], x[pos ..]), then acc += M, carrying whole input samples into pos.
 * Returns nothing; the caller knows where pos/acc end (same integer arithmetic).
 */
export function fir(x: usize, coef: usize, taps: i32, out: usize, n: i32, pos: i32, acc: i32, L: i32, M: i32): void {
  const phaseBytes = <usize>taps << 2;
  const step = M / L;
  const rest = M % L;
  for (let j = 0; j < n; j++) {
    let h = coef + <usize>acc * phaseBytes;
    let p = x + (<usize>pos << 2);
    // four independent accumulators: the adds of one do not wait for another's (latency-bound
    // otherwise); the order of the sums is fixed, so results are reproducible
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let s2 = f32x4.splat(0);
    let s3 = f32x4.splat(0);
    let k = 0;
    for (; k + 16 <= taps; k += 16) {
      s0 = f32x4.add(s0, f32x4.mul(v128.load(p), v128.load(h)));
      s1 = f32x4.add(s1, f32x4.mul(v128.load(p, 16), v128.load(h, 16)));
      s2 = f32x4.add(s2, f32x4.mul(v128.load(p, 32), v128.load(h, 32)));
      s3 = f32x4.add(s3, f32x4.mul(v128.load(p, 48), v128.load(h, 48)));
      p += 64;
      h += 64;
    }
    for (; k < taps; k += 4) {
      s0 = f32x4.add(s0, f32x4.mul(v128.load(p), v128.load(h)));
      p += 16;
      h += 16;
    }
    store<f32>(out + (<usize>j << 2), hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3))));
    pos += step;
    acc += rest;
    if (acc >= L) {
      acc -= L;
      pos++;
    }
  }
}

/**
 * Polyphase FIR for ratios with too many phases to tabulate (L > the table's P phases): the
 * table holds P + 1 phases at offsets 0, 1/P, ... 1, and each output interpolates linearly
 * between the two phases around its exact offset acc / L.
 */
export function firInterp(x: usize, coef: usize, taps: i32, P: i32, out: usize, n: i32, pos: i32, acc: i32, L: i32, M: i32): void {
  const phaseBytes = <usize>taps << 2;
  const step = M / L;
  const rest = M % L;
  const invL: f32 = <f32>(1.0 / <f64>L);
  for (let j = 0; j < n; j++) {
    const q = <i64>acc * <i64>P;
    const p0 = <i32>(q / <i64>L);
    const frac = <f32>(<i32>(q - <i64>p0 * <i64>L)) * invL;
    let h0 = coef + <usize>p0 * phaseBytes;
    let h1 = h0 + phaseBytes;
    let p = x + (<usize>pos << 2);
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    for (let k = 0; k < taps; k += 4) {
      const v = v128.load(p);
      s0 = f32x4.add(s0, f32x4.mul(v, v128.load(h0)));
      s1 = f32x4.add(s1, f32x4.mul(v, v128.load(h1)));
      p += 16;
      h0 += 16;
      h1 += 16;
    }
    const a = hsum(s0);
    const b = hsum(s1);
    store<f32>(out + (<usize>j << 2), a + frac * (b - a));
    pos += step;
    acc += rest;
    if (acc >= L) {
      acc -= L;
      pos++;
    }
  }
}
