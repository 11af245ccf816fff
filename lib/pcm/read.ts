/** Reading a node's input message as PCM per the contract (raw s16le or a WAV buffer). */
import type { PcmFormat } from './contract';
import { PcmFormatError, checkFormat, frameBytes } from './contract';
import { decodeWav, isWav } from './wav';

export interface ReadPcm {
  format: PcmFormat;
  /** interleaved s16le, a whole number of frames (may be empty on a `complete` message) */
  pcm: Buffer;
  /** true when the payload was a WAV file and its own header gave the format */
  fromWav: boolean;
}

/**
 * Reads the audio of a message per the contract, or throws a PcmFormatError a user can act on.
 * A WAV buffer is accepted as PCM with its own format. A `complete` message may have no payload.
 */
export function readPcm(msg: Record<string, unknown>): ReadPcm | { format: undefined; pcm: Buffer; fromWav: false } {
  const payload = msg.payload;
  if ((payload === undefined || payload === null || (Buffer.isBuffer(payload) && payload.length === 0)) && msg.complete === true) {
    const format = msg.rate !== undefined ? checkFormat(msg as { rate?: unknown; channels?: unknown }) : undefined;
    return format ? { format, pcm: Buffer.alloc(0), fromWav: false } : { format: undefined, pcm: Buffer.alloc(0), fromWav: false };
  }
  if (!Buffer.isBuffer(payload)) {
    const got = payload === null ? 'null' : Array.isArray(payload) ? 'an array' : typeof payload;
    throw new PcmFormatError('pcm.notBuffer', `payload is ${got}, not a Buffer of 16-bit PCM (or a WAV file)`, { got });
  }
  if (isWav(payload)) {
    const wav = decodeWav(payload);
    return { format: wav.format, pcm: wav.pcm, fromWav: true };
  }
  if (msg.bits !== undefined && msg.bits !== 16) {
    throw new PcmFormatError('pcm.badBits', `message has bits ${JSON.stringify(msg.bits)}: only 16-bit PCM is supported (or send a WAV buffer, which is converted)`, {
      bits: JSON.stringify(msg.bits),
    });
  }
  if (msg.encoding !== undefined && msg.encoding !== 'signed-integer') {
    throw new PcmFormatError('pcm.badEncoding', `message has encoding ${JSON.stringify(msg.encoding)}: only "signed-integer" PCM is supported`, {
      encoding: JSON.stringify(msg.encoding),
    });
  }
  if (msg.endianness !== undefined && msg.endianness !== 'little') {
    throw new PcmFormatError('pcm.badEndianness', `message has endianness ${JSON.stringify(msg.endianness)}: only "little" is supported`, {
      endianness: JSON.stringify(msg.endianness),
    });
  }
  const format = checkFormat(msg as { rate?: unknown; channels?: unknown });
  const fb = frameBytes(format);
  if (payload.length % fb !== 0) {
    throw new PcmFormatError(
      'pcm.partialFrame',
      `payload has ${payload.length} bytes, not a whole number of ${format.channels}-channel 16-bit frames (${fb} bytes each)`,
      { bytes: payload.length, channels: format.channels, frameBytes: fb },
    );
  }
  return { format, pcm: payload, fromWav: false };
}

