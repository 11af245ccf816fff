/**
 * Re-chunks one stream's PCM into chunks of a fixed size (bytes or milliseconds), keeping the
 * capture timestamp of each chunk's first sample. Per-stream: keep one Chunker per stream key
 * (see StreamTable).
 *
 * A chunk is shorter than the size only in three cases: the stream ended (flush), the format
 * changed, or the audio jumped in time. A message whose timestamp does not continue the buffered
 * audio (a publisher pause, a reconnect, an overlap) by more than the tolerance ends the buffered
 * part as a short chunk of its own, so every chunk's timestamp stays the capture time of its
 * first sample instead of lagging by the gap from then on.
 */
import type { PcmFormat } from './contract';
import { bytesForMs, frameBytes, PcmFormatError } from './contract';

export type ChunkSize = { bytes: number } | { ms: number };

export interface Chunk {
  pcm: Buffer;
  format: PcmFormat;
  /** capture time (ms since epoch) of the first sample, when the input carried timestamps */
  timestamp?: number;
  /** 0-based sequence number of this chunk among the chunks this Chunker produced */
  seq: number;
}

/** Throws a RangeError unless the chunk size is a positive finite number of bytes or ms. */
export function assertChunkSize(size: ChunkSize): void {
  const n = 'bytes' in size ? size.bytes : size.ms;
  if (!(n > 0) || !Number.isFinite(n)) throw new RangeError(`chunk size must be a positive number, got ${n}`);
}

/** How far (ms) a message's timestamp may differ from where the buffered audio ends before it counts as a jump (default). */
export const GAP_TOLERANCE_MS = 50;

export class Chunker {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private format: PcmFormat | undefined;
  /** timestamp of the first pending byte */
  private pendingTimestamp: number | undefined;
  private nextSeq = 0;

  constructor(
    private readonly size: ChunkSize,
    private readonly gapToleranceMs = GAP_TOLERANCE_MS,
  ) {
    assertChunkSize(size);
  }

  /** Bytes per chunk in the given format (whole frames). */
  chunkBytes(format: PcmFormat): number {
    const fb = frameBytes(format);
    if ('bytes' in this.size) return Math.max(fb, Math.floor(this.size.bytes / fb) * fb);
    return bytesForMs(format, this.size.ms);
  }

  /** Bytes waiting for a chunk to fill. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /**
   * Adds PCM (a whole number of frames) and returns the full chunks it completes. A change of
   * format mid-stream first flushes what was pending in the old format, so no chunk mixes two.
   */
  push(pcm: Buffer, format: PcmFormat, timestamp?: number): Chunk[] {
    if (pcm.length % frameBytes(format) !== 0) {
      throw new PcmFormatError(
        'pcm.partialFrame',
        `payload has ${pcm.length} bytes, not a whole number of ${format.channels}-channel 16-bit frames (${frameBytes(format)} bytes each)`,
        { bytes: pcm.length, channels: format.channels, frameBytes: frameBytes(format) },
      );
    }
    const out: Chunk[] = [];
    if (this.format && (this.format.rate !== format.rate || this.format.channels !== format.channels)) {
      const tail = this.flush();
      if (tail) out.push(tail);
    }
    this.format = format;
    if (pcm.length === 0) return out;
    if (this.pendingBytes > 0 && timestamp !== undefined && this.pendingTimestamp !== undefined) {
      const expected = this.pendingTimestamp + (this.pendingBytes / frameBytes(format) / format.rate) * 1000;
      if (Math.abs(timestamp - expected) > this.gapToleranceMs) {
        const tail = this.flush();
        if (tail) out.push(tail);
      }
    }
    if (this.pendingBytes === 0) this.pendingTimestamp = timestamp;
    this.pending.push(pcm);
    this.pendingBytes += pcm.length;
    const size = this.chunkBytes(format);
    if (this.pendingBytes < size) return out;
    let all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    let offset = 0;
    while (all.length - offset >= size) {
      out.push(this.make(all.subarray(offset, offset + size), format));
      offset += size;
    }
    all = all.subarray(offset);
    this.pending = all.length ? [all] : [];
    this.pendingBytes = all.length;
    return out;
  }

  /** Returns the partial chunk (if any) and empties the buffer: the stream ended. */
  flush(): Chunk | undefined {
    if (!this.format || this.pendingBytes === 0) return undefined;
    const pcm = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return this.make(pcm, this.format);
  }

  private make(pcm: Buffer, format: PcmFormat): Chunk {
    const chunk: Chunk = { pcm, format, seq: this.nextSeq++ };
    if (this.pendingTimestamp !== undefined) {
      chunk.timestamp = this.pendingTimestamp;
      this.pendingTimestamp += (pcm.length / frameBytes(format) / format.rate) * 1000;
    }
    return chunk;
  }
}
