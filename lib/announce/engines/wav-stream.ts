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
