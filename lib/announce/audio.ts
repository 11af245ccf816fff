/** Small PCM helpers of the announcer: gain, silence, the built-in chime, rate conversion. */
import { asInt16, int16ToBuffer } from '../pcm';
import { resampleMono, resampleMonoAsync } from './resample';

/** `ms` of silence, mono s16le at `rate`. */
export function silence(rate: number, ms: number): Buffer {
  return Buffer.alloc(Math.round((rate * ms) / 1000) * 2);
}

/** Applies a gain in percent (100 = unchanged), clipping to 16 bits. Returns a new buffer. */
export function applyVolume(pcm: Buffer, percent: number): Buffer {
  if (percent === 100) return pcm;
  const g = Math.max(0, percent) / 100;
  const src = asInt16(pcm);
  const out = new Int16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Math.round(src[i] * g);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return int16ToBuffer(out);
}

/**
 * The built-in two-tone chime ("ding-dong", G5 then E5, as public-address systems use): two
 * 350 ms bell-like tones with a fundamental and a softer octave, decaying, then 150 ms of quiet
 * before the speech. Generated, so the package ships no audio file.
 */
export function twoToneChime(rate: number): Buffer {
  const toneMs = 350;
  const tones = [784, 659.25];
  const n = Math.round((rate * toneMs) / 1000);
  const quiet = Math.round((rate * 150) / 1000);
  const out = new Int16Array(n * tones.length + quiet);
  const attack = Math.round(rate * 0.005);
  tones.forEach((f, k) => {
    for (let i = 0; i < n; i++) {
      const t = i / rate;
      const env = (i < attack ? i / attack : 1) * Math.exp(-t * 6) * (i > n - attack ? (n - i) / attack : 1);
      const s = Math.sin(2 * Math.PI * f * t) + 0.35 * Math.sin(2 * Math.PI * 2 * f * t);
      out[k * n + i] = Math.round(s * env * 0.5 * 32767 * 0.74);
    }
  });
  return int16ToBuffer(out);
}

/** Mono s16le from `fromRate` to `toRate` (unchanged when equal). */
export function toRate(pcm: Buffer, fromRate: number, toRateHz: number): Buffer {
  if (fromRate === toRateHz) return pcm;
  return resampleMono(pcm, fromRate, toRateHz);
}

/** Mono s16le from `fromRate` to `toRate`, yielding to the event loop while it works. */
export function toRateAsync(pcm: Buffer, fromRate: number, toRateHz: number): Promise<Buffer> {
  return resampleMonoAsync(pcm, fromRate, toRateHz);
}

/** Mono mix of interleaved s16le with `channels` channels. */
export function toMono(pcm: Buffer, channels: number): Buffer {
  if (channels === 1) return pcm;
  const src = asInt16(pcm);
  const frames = Math.floor(src.length / channels);
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += src[i * channels + c];
    out[i] = Math.round(s / channels);
  }
  return int16ToBuffer(out);
}
