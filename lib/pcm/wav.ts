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

/** Sample formats a WAV may hold that we can turn into 16-bit PCM, by format tag. */
const PCM_TAG = 1;
const FLOAT_TAG = 3;
const EXTENSIBLE_TAG = 0xfffe;
const PLAYABLE_BITS: Record<number, number[]> = { [PCM_TAG]: [8, 16, 24, 32], [FLOAT_TAG]: [32, 64] };
/** Names of format tags people meet, so the error says what the file is. */
const TAG_NAMES: Record<number, string> = { 2: 'Microsoft ADPCM', 6: 'A-law', 7: 'µ-law', 0x11: 'IMA ADPCM', 0x31: 'GSM 6.10', 0x50: 'MPEG', 0x55: 'MP3' };
/** A data size a writer that could not seek back leaves in place of the real one: "to the end". */
const UNKNOWN_SIZE = 0xffffffff;

/** What the header of a WAV says, checked against the bytes that are really there. */
interface WavLayout {
  tag: number;
  channels: number;
  rate: number;
  bits: number;
  dataStart: number;
  dataBytes: number;
}

function badWav(reason: string): PcmFormatError {
  return new PcmFormatError('pcm.badWav', `payload looks like a WAV file but cannot be read: ${reason}`, { reason });
}

/**
 * Walks the RIFF chunks to `fmt ` and `data` and checks that the header tells the truth: a format
 * we can play, a bit depth that format has, and as many bytes of audio as it announces. A WAV
 * that lies is an error a user can act on, never played as noise or cut audio.
 */
function readLayout(buf: Buffer): WavLayout {
  let off = 12;
  let fmt: Omit<WavLayout, 'dataStart' | 'dataBytes'> | undefined;
  let rf64DataBytes: number | undefined;
  while (off + 8 <= buf.length) {
    const id = buf.toString('latin1', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'ds64' && body + 24 <= buf.length) {
      // RF64: the real data size is 64-bit here (the data chunk says 0xFFFFFFFF)
      rf64DataBytes = buf.readUInt32LE(body + 16) + buf.readUInt32LE(body + 20) * 2 ** 32;
    } else if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw badWav('its fmt chunk is cut short');
      let tag = buf.readUInt16LE(body);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of its sub-format GUID
      if (tag === EXTENSIBLE_TAG && size >= 40 && body + 26 <= buf.length) tag = buf.readUInt16LE(body + 24);
      fmt = { tag, channels: buf.readUInt16LE(body + 2), rate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!fmt) throw badWav('its data chunk comes before its fmt chunk');
      checkSamples(fmt);
      const present = buf.length - body;
      const declared = size === UNKNOWN_SIZE ? (rf64DataBytes ?? present) : size;
      if (declared > present) {
        throw new PcmFormatError('pcm.wavTruncated', `WAV file is cut short: its header announces ${declared} bytes of audio but only ${present} follow; send the whole file`, {
          declared,
          present,
        });
      }
      return { ...fmt, dataStart: body, dataBytes: declared };
    }
    off = body + size + (size % 2);
  }
  throw badWav(fmt ? 'it has no data chunk' : 'it has no fmt chunk');
}

function checkSamples(fmt: { tag: number; bits: number }): void {
  const bits = PLAYABLE_BITS[fmt.tag];
  if (!bits) {
    const tag = `0x${fmt.tag.toString(16).padStart(4, '0')}`;
    const name = TAG_NAMES[fmt.tag] ?? 'unknown';
    throw new PcmFormatError('pcm.wavFormat', `WAV file has format tag ${tag} (${name}), which cannot be played: send PCM (format 1) or IEEE float (format 3) audio, e.g. converted with "sox in.wav -e signed-integer -b 16 out.wav"`, {
      tag,
      name,
    });
  }
  if (!bits.includes(fmt.bits)) {
    const kind = fmt.tag === FLOAT_TAG ? 'float' : 'integer';
    throw new PcmFormatError('pcm.wavBits', `WAV file has ${fmt.bits}-bit ${kind} samples, which cannot be played: send 8, 16, 24 or 32-bit integer PCM or 32/64-bit float`, {
      bits: fmt.bits,
      kind,
    });
  }
}

/**
 * Decodes a WAV file to interleaved s16le PCM and its format. Throws a PcmFormatError for a WAV
 * whose header lies or that holds samples we cannot play (pcm.wavFormat, pcm.wavBits,
 * pcm.wavTruncated, pcm.badWav); a header with no samples gives empty PCM.
 */
export function decodeWav(buf: Buffer): { format: PcmFormat; pcm: Buffer } {
  const layout = readLayout(buf);
  const format = checkFormat({ rate: layout.rate, channels: layout.channels }, 'WAV file');
  const blockAlign = (layout.channels * layout.bits) / 8;
  const dataBytes = layout.dataBytes - (layout.dataBytes % blockAlign);
  if (layout.tag === PCM_TAG && layout.bits === 16) {
    // the common case: the samples as they are (a copy, independent of the caller's buffer)
    return { format, pcm: Buffer.from(buf.subarray(layout.dataStart, layout.dataStart + dataBytes)) };
  }
  // other depths through wavefile, from a canonical file of exactly the checked samples
  const wav = new WaveFile();
  try {
    wav.fromScratch(layout.channels, layout.rate, layout.tag === FLOAT_TAG ? `${layout.bits}f` : String(layout.bits), new Uint8Array(0));
    (wav.data as { chunkSize: number; samples: Uint8Array }).samples = new Uint8Array(buf.subarray(layout.dataStart, layout.dataStart + dataBytes));
    (wav.data as { chunkSize: number }).chunkSize = dataBytes;
    wav.toBitDepth('16');
  } catch (err) {
    throw new PcmFormatError('pcm.wavDepth', `WAV file with ${layout.bits}-bit samples cannot be converted to 16-bit: ${(err as Error).message}`, {
      bits: String(layout.bits),
      reason: (err as Error).message,
    });
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
