/**
 * Opus decoding through opusscript (libopus compiled to wasm: no install scripts, no compiler).
 * libopus decodes natively to 8/12/16/24/48 kHz, so a 16 kHz mono output for speech services
 * costs no resampling (and a quarter of the decode time of 48 kHz stereo).
 */
import OpusScript from 'opusscript';
import { CodedError } from '../util/errors';

export type OpusRate = 8000 | 12000 | 16000 | 24000 | 48000;
export const OPUS_RATES: readonly number[] = [8000, 12000, 16000, 24000, 48000];

/** Samples (at 48 kHz) in an Opus packet, from its TOC byte (RFC 6716 §3.1); 960 when unreadable. */
export function opusPacketSamples(packet: Buffer): number {
  if (packet.length < 1) return 960;
  const toc = packet[0];
  const config = toc >> 3;
  let frame: number;
  if (config < 12) frame = [480, 960, 1920, 2880][config & 3]; // SILK: 10/20/40/60 ms
  else if (config < 16) frame = [480, 960][config & 1]; // hybrid: 10/20 ms
  else frame = [120, 240, 480, 960][config & 3]; // CELT: 2.5/5/10/20 ms
  const code = toc & 3;
  let frames = 1;
  if (code === 1 || code === 2) frames = 2;
  else if (code === 3) frames = packet.length > 1 ? packet[1] & 0x3f : 1;
  return Math.max(1, Math.min(5760, frame * frames));
}

export class OpusDecoder {
  private readonly dec: OpusScript;
  private closed = false;
  /** bytes per output frame (all channels) */
  readonly frameBytes: number;

  constructor(
    readonly rate: OpusRate,
    readonly channels: 1 | 2,
  ) {
    if (!OPUS_RATES.includes(rate)) {
      throw new CodedError('whep.opusRate', `Opus decodes to 8000, 12000, 16000, 24000 or 48000 Hz, not ${rate}`, { rate });
    }
    this.dec = new OpusScript(rate, channels);
    this.frameBytes = 2 * channels;
  }

  /** Decodes one packet to interleaved s16le (a fresh Buffer). */
  decode(packet: Buffer): Buffer {
    return this.dec.decode(packet);
  }

  /**
   * Fills `samples48k` of lost audio: libopus packet-loss concealment for the first 120 ms of a
   * gap (it fades to silence anyway), plain silence beyond.
   */
  conceal(samples48k: number): Buffer {
    const frames = Math.round((samples48k * this.rate) / 48000);
    const out = Buffer.alloc(frames * this.frameBytes);
    let done = 0;
    const plcFrames = Math.min(frames, (this.rate * 120) / 1000);
    while (done < plcFrames) {
      // opusscript asks libopus for up to 60 ms of concealment; keep what the gap needs
      const plc = this.dec.decode(Buffer.alloc(0));
      const take = Math.min(plc.length, (plcFrames - done) * this.frameBytes);
      if (take <= 0) break;
      plc.copy(out, done * this.frameBytes, 0, take);
      done += take / this.frameBytes;
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dec.delete();
  }
}
