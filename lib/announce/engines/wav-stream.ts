/** WAV output of speech engines, which may be written to a pipe with placeholder sizes. */
import { decodeWav, isWav } from '../../pcm';
import type { PcmFormat } from '../../pcm';

/**
 * Decodes the WAV a speech engine wrote. espeak-ng --stdout (and other tools writing to a pipe)
 * cannot seek back to fill in the RIFF/data sizes and leave 0x7fffffff-like placeholders there,
 * which a strict reader rejects: those sizes are fixed up from the real length first.
 */
export function decodeEngineWav(buf: Buffer): { format: PcmFormat; pcm: Buffer } {
  if (!isWav(buf)) throw new Error(`output is not a WAV file (${buf.length} bytes)`);
  const fixed = Buffer.from(buf);
  if (fixed.readUInt32LE(4) !== fixed.length - 8) fixed.writeUInt32LE(fixed.length - 8, 4);
  // walk the chunks to the data chunk and clamp its size to what is there
  let off = 12;
  while (off + 8 <= fixed.length) {
    const id = fixed.toString('latin1', off, off + 4);
    const size = fixed.readUInt32LE(off + 4);
    if (id === 'data') {
      const avail = fixed.length - off - 8;
      if (size > avail) fixed.writeUInt32LE(avail - (avail % 2), off + 4);
      break;
    }
    off += 8 + size + (size % 2);
  }
  return decodeWav(fixed);
}

/**
 * The common case without copying the samples through wavefile's arrays (a few ms per sentence
 * on the pacer's thread): a 16-bit PCM WAV read straight from its chunks. Anything else (8/24/32
 * bit, float, WAVE_FORMAT_EXTENSIBLE) goes through decodeEngineWav.
 */
export function decodeEngineWavFast(buf: Buffer): { format: PcmFormat; pcm: Buffer } {
  if (isWav(buf)) {
    let off = 12;
    let fmt: { tag: number; channels: number; rate: number; bits: number } | undefined;
    while (off + 8 <= buf.length) {
      const id = buf.toString('latin1', off, off + 4);
      const size = buf.readUInt32LE(off + 4);
      if (id === 'fmt ' && off + 24 <= buf.length) {
        fmt = { tag: buf.readUInt16LE(off + 8), channels: buf.readUInt16LE(off + 10), rate: buf.readUInt32LE(off + 12), bits: buf.readUInt16LE(off + 22) };
      } else if (id === 'data' && fmt && fmt.tag === 1 && fmt.bits === 16 && fmt.channels >= 1 && fmt.rate >= 8000) {
        const start = off + 8;
        let end = Math.min(buf.length, start + size);
        end -= (end - start) % (2 * fmt.channels);
        // a copy, 2-byte aligned, independent of the engine's buffer
        const pcm = Buffer.alloc(end - start);
        buf.copy(pcm, 0, start, end);
        return { format: { rate: fmt.rate, channels: fmt.channels }, pcm };
      }
      off += 8 + size + (size % 2);
    }
  }
  return decodeEngineWav(buf);
}
