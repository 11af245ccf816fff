/** Test signals of the resample tests: deterministic, so every run feeds the same audio. */

/** Interleaved s16le pseudo-random noise (LCG), ±8192. */
export function noise(frames: number, channels: number, seed: number): Buffer {
  let s = seed;
  const out = new Int16Array(frames * channels);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >> 18) - 8192;
  }
  return Buffer.from(out.buffer);
}
