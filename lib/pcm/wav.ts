/**
 * WAV in and out of the PCM contract, through `wavefile` (pure JS): a WAV Buffer that arrives at
 * a node is read as PCM in its own format, converted to 16-bit signed if it is 8/24/32-bit or float.
 */
import { WaveFile } from 'wavefile';
import type { PcmFormat } from './contract';
import { PcmFormatError, checkFormat } from './contract';

/** True for a RIFF/WAVE (or RF64) buffer. */
export function isWav(buf: Buffer): boolean {
  return buf.length >= 12 && (buf.toString('latin1', 0, 4) === 'RIFF' || buf.toString('latin1', 0, 4) === 'RF64') && buf.toString('latin1', 8, 12) === 'WAVE';
}

interface WaveFmt {
  numChannels: number;
  sampleRate: number;
  audioFormat: number;
}

/** Decodes a WAV file to interleaved s16le PCM and its format. */
export function decodeWav(buf: Buffer): { format: PcmFormat; pcm: Buffer } {
  const wav = new WaveFile();
  try {
    wav.fromBuffer(buf);
  } catch (err) {
    throw new PcmFormatError('pcm.badWav', `payload looks like a WAV file but cannot be read: ${(err as Error).message}`, { reason: (err as Error).message });
  }
  const fmt = wav.fmt as WaveFmt;
  const format = checkFormat({ rate: fmt.sampleRate, channels: fmt.numChannels }, 'WAV file');
  if (wav.bitDepth !== '16') {
    try {
      wav.toBitDepth('16');
    } catch (err) {
      throw new PcmFormatError('pcm.wavDepth', `WAV file with ${wav.bitDepth}-bit samples cannot be converted to 16-bit: ${(err as Error).message}`, {
        bits: wav.bitDepth,
        reason: (err as Error).message,
      });
    }
  }
  const data = (wav.data as { samples: Uint8Array }).samples;
  const pcm = Buffer.from(data.buffer, data.byteOffset, data.byteLength - (data.byteLength % (2 * format.channels)));
  return { format, pcm };
}

/** Wraps interleaved s16le PCM into a WAV file. */
export function encodeWav(pcm: Buffer, format: PcmFormat): Buffer {
  return Buffer.concat([wavHeader(format, pcm.length), pcm]);
}

/**
 * The 44-byte canonical header of a 16-bit PCM WAV holding `dataBytes` bytes. Written by hand
 * (not via wavefile) because chunked senders prepend it to every chunk and must not copy the
 * audio through a sample array to get it.
 */
export function wavHeader(format: PcmFormat, dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  const blockAlign = 2 * format.channels;
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(format.channels, 22);
  h.writeUInt32LE(format.rate, 24);
  h.writeUInt32LE(format.rate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}
