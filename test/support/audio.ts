/** Analysis helpers for decoded audio, shared by the tests of every area. */

/** RMS per `windowMs` window of mono s16le (a trailing partial window is left out). */
export function envelope(pcm: Buffer, rate: number, windowMs = 10): number[] {
  const n = Math.round((rate * windowMs) / 1000);
  const out: number[] = [];
  for (let off = 0; off + n * 2 <= pcm.length; off += n * 2) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const v = pcm.readInt16LE(off + i * 2);
      sum += v * v;
    }
    out.push(Math.sqrt(sum / n));
  }
  return out;
}
