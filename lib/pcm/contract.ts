/**
 * The PCM message contract shared by every node of this package (see shared/DESIGN.md):
 * one message carries one chunk of one stream, as interleaved signed 16-bit little-endian PCM,
 * with its format named the way node-red-contrib-sox-utils names it.
 */

import { CodedError } from '../util/errors';

/** Sample rates we accept anywhere in the package (Hz). */
export const MIN_RATE = 8000;
export const MAX_RATE = 192000;
export const MAX_CHANNELS = 8;

export interface PcmFormat {
  /** samples per second per channel */
  rate: number;
  /** interleaved channels */
  channels: number;
}

/** The format fields every PCM message carries (sox-utils names). */
export interface PcmFormatFields {
  rate: number;
  channels: number;
  bits: 16;
  encoding: 'signed-integer';
  endianness: 'little';
}

/** The properties of a message that the contract defines. Other properties pass through. */
export interface PcmMessage extends PcmFormatFields {
  payload: Buffer;
  stmId?: string;
  traceId?: string;
  topic?: string;
  seq?: number;
  /** capture time (ms since epoch) of the chunk's first sample */
  timestamp?: number;
  /** the stream ended: flush what is buffered for it */
  complete?: boolean;
  [key: string]: unknown;
}

/** An input that does not follow the contract. The message says what is wrong and how to fix it. */
export class PcmFormatError extends CodedError {
  override name = 'PcmFormatError';
}

export function formatFields(format: PcmFormat): PcmFormatFields {
  return { rate: format.rate, channels: format.channels, bits: 16, encoding: 'signed-integer', endianness: 'little' };
}

/** Bytes in one frame (one sample of every channel). */
export function frameBytes(format: PcmFormat): number {
  return 2 * format.channels;
}

/** Bytes that `ms` milliseconds of audio take, rounded down to whole frames (at least one frame). */
export function bytesForMs(format: PcmFormat, ms: number): number {
  const frames = Math.max(1, Math.floor((format.rate * ms) / 1000));
  return frames * frameBytes(format);
}

/** Duration in ms of `bytes` of audio in `format`. */
export function msForBytes(format: PcmFormat, bytes: number): number {
  return (bytes / frameBytes(format) / format.rate) * 1000;
}

/**
 * The key under which per-stream state is kept: `stmId`, else `topic`, else the empty string
 * (a node fed by a single unnamed stream).
 */
export function streamKey(msg: { stmId?: unknown; topic?: unknown }): string {
  if (msg.stmId !== undefined && msg.stmId !== null && msg.stmId !== '') return String(msg.stmId);
  if (msg.topic !== undefined && msg.topic !== null && msg.topic !== '') return String(msg.topic);
  return '';
}

export function checkFormat(format: { rate?: unknown; channels?: unknown }, what = 'message'): PcmFormat {
  const { rate, channels } = format;
  if (rate === undefined || rate === null) {
    throw new PcmFormatError('pcm.noRate', `${what} has no "rate": set msg.rate to the sample rate in Hz (e.g. 48000), or send a WAV buffer`, { what });
  }
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new PcmFormatError('pcm.badRate', `${what} has rate ${JSON.stringify(rate)}: expected a whole number of Hz from ${MIN_RATE} to ${MAX_RATE}`, {
      what,
      rate: JSON.stringify(rate),
      min: MIN_RATE,
      max: MAX_RATE,
    });
  }
  const ch = channels === undefined || channels === null ? 1 : channels;
  if (typeof ch !== 'number' || !Number.isInteger(ch) || ch < 1 || ch > MAX_CHANNELS) {
    throw new PcmFormatError('pcm.badChannels', `${what} has channels ${JSON.stringify(channels)}: expected a whole number from 1 to ${MAX_CHANNELS}`, {
      what,
      channels: JSON.stringify(channels),
      max: MAX_CHANNELS,
    });
  }
  return { rate, channels: ch };
}

/**
 * Views a Buffer of s16le as an Int16Array without copying when it is 2-byte aligned
 * (Buffers from the pool may not be), else copies.
 */
export function asInt16(buf: Buffer): Int16Array {
  if (buf.byteOffset % 2 === 0) return new Int16Array(buf.buffer, buf.byteOffset, buf.length >> 1);
  const copy = new Int16Array(buf.length >> 1);
  Buffer.from(copy.buffer).set(buf.subarray(0, copy.length * 2));
  return copy;
}

/** Wraps an Int16Array as a Buffer without copying. */
export function int16ToBuffer(samples: Int16Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}
