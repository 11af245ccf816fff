/**
 * TEMPORARY rate conversion for the announcer until the project's resampler (lib/resample, built
 * on its own branch) lands: linear interpolation with a 2-pole low-pass when going down. Good
 * enough for speech at the rates engines produce (16–24 kHz up to 48 kHz); replaced by
 * lib/resample when merged.
 */
import { asInt16, int16ToBuffer } from '../pcm';

export function resampleMono(pcm: Buffer, fromRate: number, toRate: number): Buffer {
  const src = asInt16(pcm);
  let input: Float32Array = Float32Array.from(src);
  if (toRate < fromRate) input = lowPass(input, fromRate, 0.45 * toRate);
  const n = Math.floor((src.length * toRate) / fromRate);
  const out = new Int16Array(n);
  const step = fromRate / toRate;
  for (let i = 0; i < n; i++) {
    const x = i * step;
    const j = Math.floor(x);
    const f = x - j;
    const a = input[j] ?? 0;
    const b = input[j + 1] ?? a;
    const v = Math.round(a + (b - a) * f);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return int16ToBuffer(out);
}

/** Two cascaded one-pole low-pass filters, forward then backward (zero phase). */
function lowPass(x: Float32Array, rate: number, cutoff: number): Float32Array {
  const a = Math.exp((-2 * Math.PI * cutoff) / rate);
  const y = Float32Array.from(x);
  for (let pass = 0; pass < 2; pass++) {
    let s = 0;
    for (let i = 0; i < y.length; i++) y[i] = s = (1 - a) * y[i] + a * s;
    s = 0;
    for (let i = y.length - 1; i >= 0; i--) y[i] = s = (1 - a) * y[i] + a * s;
  }
  return y;
}
