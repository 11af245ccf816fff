/**
 * G.711 µ-law and A-law encoders (ITU-T G.711), 16-bit linear PCM in, one byte per sample out.
 * Hand-written because each is a few lines of bit arithmetic; the 64 KiB lookup tables built
 * once at load make encoding a table read per sample (a 20 ms frame at 8 kHz is 160 reads).
 */

function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let sign = (sample >> 8) & 0x80;
  if (sign) sample = -sample;
  if (sample > CLIP) sample = CLIP;
  sample += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (sample & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (sample >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function linearToAlaw(sample: number): number {
  let mask: number;
  if (sample >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    sample = -sample - 1;
  }
  if (sample > 32767) sample = 32767;
  let seg = 0;
  for (let v = sample >> 8; v > 0 && seg < 8; v >>= 1) seg++;
  // seg: 0 for |x| < 256, then one per doubling, capped at 7
  if (seg > 7) seg = 7;
  const aval = seg < 2 ? (sample >> 4) & 0x0f : (sample >> (seg + 3)) & 0x0f;
  return ((seg << 4) | aval) ^ mask;
}

function table(fn: (s: number) => number): Uint8Array {
  const t = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = fn(i < 32768 ? i : i - 65536);
  return t;
}

const ULAW = table(linearToUlaw);
const ALAW = table(linearToAlaw);

/** s16le PCM → µ-law bytes. */
export function encodeUlaw(pcm: Buffer): Buffer {
  const out = Buffer.allocUnsafe(pcm.length >> 1);
  for (let i = 0, j = 0; j < out.length; i += 2, j++) out[j] = ULAW[pcm[i] | (pcm[i + 1] << 8)];
  return out;
}

/** s16le PCM → A-law bytes. */
export function encodeAlaw(pcm: Buffer): Buffer {
  const out = Buffer.allocUnsafe(pcm.length >> 1);
  for (let i = 0, j = 0; j < out.length; i += 2, j++) out[j] = ALAW[pcm[i] | (pcm[i + 1] << 8)];
  return out;
}

/** µ-law byte → linear sample (for tests and diagnostics). */
export function decodeUlaw(u: number): number {
  u = ~u & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

/** A-law byte → linear sample (for tests and diagnostics). */
export function decodeAlaw(a: number): number {
  a ^= 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}
