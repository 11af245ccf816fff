/**
 * Payload encoders: one frame of s16le mono PCM in, RTP payloads out, plus what the SDP says
 * about them. One encoder per stream: a frame is encoded once, whatever the number of listeners.
 */
import OpusScript from 'opusscript';
import { CodedError } from '../util/errors';
import { encodeAlaw, encodeUlaw } from './g711';

export type RtspCodec = 'opus' | 'pcmu' | 'pcma' | 'l16' | 'aac';
export const RTSP_CODECS: readonly RtspCodec[] = ['opus', 'pcmu', 'pcma', 'l16', 'aac'];

/** One RTP payload with its timestamp in the codec's clock units. */
export interface EncodedUnit {
  payload: Buffer;
  timestamp: number;
  /** RTP marker bit forced on (RFC 3640: set on every packet that ends an access unit) */
  marker?: boolean;
}

export interface PayloadEncoder {
  readonly payloadType: number;
  readonly clockRate: number;
  /** `a=rtpmap` value after the payload type, e.g. `opus/48000/2` */
  readonly rtpmap: string;
  /** `a=fmtp` value after the payload type, if any */
  readonly fmtp?: string;
  /**
   * Encodes one frame whose first sample has clock time `timestamp`. Synchronous encoders call
   * `emit` before returning; the AAC encoder (an ffmpeg child) calls it when ffmpeg answers.
   */
  encode(pcm: Buffer, timestamp: number): void;
  /**
   * Up to `frames` frames of digital silence as ONE packet whose first sample has clock time
   * `timestamp`; returns how many frames it covered, 0 when the codec cannot (then the caller
   * encodes a silent frame the ordinary way). Only Opus has it (see OpusPayloadEncoder).
   */
  encodeSilence?(frames: number, timestamp: number): number;
  /** frees the encoder (the AAC one resolves once its ffmpeg child has exited) */
  close(): void | Promise<void>;
}

export type Emit = (unit: EncodedUnit) => void;

/** Largest RTP payload we send: keeps a packet (with IP/UDP/RTP headers) inside a 1500-byte MTU. */
export const MAX_PAYLOAD = 1400;

/** silent frames the Opus encoder gets before its silent packet is reused */
const SILENT_SETTLE = 10;
/** An Opus packet holds at most 120 ms (RFC 6716 §3.2.5). */
const OPUS_MAX_PACKET_MS = 120;
const OPUS_RATES = [8000, 12000, 16000, 24000, 48000];
const OPUS_FRAME_MS = [2.5, 5, 10, 20, 40, 60];
/** MPEG-4 sampling frequency index (ISO 14496-3 §1.6.3.4). */
export const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Throws rtsp.badConfig when the codec cannot take PCM at this rate and frame length. */
export function checkCodecInput(codec: RtspCodec, rate: number, frameMs: number): void {
  switch (codec) {
    case 'opus':
      if (!OPUS_RATES.includes(rate)) throw badConfig('Opus input rate', rate, `one of ${OPUS_RATES.join(', ')} Hz (48000 recommended)`);
      if (!OPUS_FRAME_MS.includes(frameMs)) throw badConfig('Opus frame length', `${frameMs} ms`, `one of ${OPUS_FRAME_MS.join(', ')} ms`);
      return;
    case 'pcmu':
    case 'pcma':
      if (rate !== 8000) throw badConfig(`${codec.toUpperCase()} input rate`, rate, 'G.711 is 8000 Hz only');
      return;
    case 'l16':
      if (!Number.isInteger(rate) || rate < 8000 || rate > 96000) throw badConfig('L16 input rate', rate, 'a whole number of Hz from 8000 to 96000');
      return;
    case 'aac':
      if (!AAC_RATES.includes(rate) || rate < 8000) throw badConfig('AAC input rate', rate, 'a standard AAC rate such as 48000 or 44100 Hz');
      return;
  }
}

export function badConfig(what: string, value: string | number, expected: string): CodedError {
  return new CodedError('rtsp.badConfig', `RTSP output: ${what} ${value} is not supported: ${expected}`, { what, value, expected });
}

/**
 * Opus (RFC 7587): the RTP clock is always 48 kHz and the rtpmap always says 2 channels; a mono
 * encoder's packets are valid stereo-decodable packets and `sprop-stereo=0` tells receivers.
 */
export class OpusPayloadEncoder implements PayloadEncoder {
  readonly payloadType = 96;
  readonly clockRate = 48000;
  readonly rtpmap = 'opus/48000/2';
  readonly fmtp = 'minptime=10;useinbandfec=0;sprop-stereo=0;stereo=0';
  private readonly enc: OpusScript;
  private readonly frameSamples: number;
  private readonly maxFramesPerPacket: number;

  constructor(
    rate: number,
    frameMs: number,
    private readonly emit: Emit,
    bitrate = 32000,
  ) {
    checkCodecInput('opus', rate, frameMs);
    this.enc = new OpusScript(rate as 48000, 1, OpusScript.Application.AUDIO);
    this.enc.setBitrate(bitrate);
    this.frameSamples = (rate * frameMs) / 1000;
    this.maxFramesPerPacket = Math.floor(OPUS_MAX_PACKET_MS / frameMs);
    this.zero = Buffer.alloc(this.frameSamples * 2);
  }

  /** consecutive all-zero frames encoded, and the packet the last of them gave */
  private silentRun = 0;
  private silentPacket: Buffer | undefined;
  private readonly zero: Buffer;

  encode(pcm: Buffer, timestamp: number): void {
    // Between announcements the stream is digital silence for minutes. Once the encoder has
    // settled on silence (a few frames), every further silent frame encodes to the same bytes:
    // reuse them instead of running the encoder 50 times a second (bench/rtsp: idle CPU).
    if (pcm.equals(this.zero)) {
      if (this.silentRun >= SILENT_SETTLE && this.silentPacket) {
        this.emit({ payload: this.silentPacket, timestamp });
        return;
      }
      this.silentRun++;
    } else {
      this.silentRun = 0;
    }
    // opusscript returns a view into its wasm heap: copy before the next call reuses it
    const out = Buffer.from(this.enc.encode(pcm, this.frameSamples));
    if (this.silentRun > 0) this.silentPacket = out;
    this.emit({ payload: out, timestamp });
  }

  /** multi-frame silent packets already built, by frame count */
  private readonly silentPackets = new Map<number, Buffer>();

  /**
   * Between announcements the idle stream sends one packet per 2–6 frames instead of one per
   * frame (bench/announce: a write per player per packet is most of the idle CPU). The packet is
   * the settled silent frame repeated, as an Opus code-3 packet (RFC 6716 §3.2.5: TOC with c=3,
   * a frame-count byte, then equal-sized frames; at most 120 ms), so the timeline stays continuous
   * (no DTX gap for players to conceal) and decodes to the very samples the single frames would.
   * Until the encoder has settled on silence it answers 0 and the caller sends single frames.
   */
  encodeSilence(frames: number, timestamp: number): number {
    const one = this.silentRun >= SILENT_SETTLE ? this.silentPacket : undefined;
    const k = Math.min(Math.floor(frames), this.maxFramesPerPacket, 48);
    // a code-0 (single frame) packet with at least one byte of frame data is what repeats cleanly
    if (!one || k < 2 || (one[0] & 0x03) !== 0 || one.length < 2) return 0;
    let packet = this.silentPackets.get(k);
    if (!packet || packet.length !== 2 + k * (one.length - 1) || packet[0] !== ((one[0] & 0xfc) | 3)) {
      packet = Buffer.allocUnsafe(2 + k * (one.length - 1));
      packet[0] = (one[0] & 0xfc) | 3; // same configuration and stereo flag, code 3: M frames
      packet[1] = k; // v=0 (constant bit rate: all frames one size), p=0 (no padding), M=k
      for (let i = 0; i < k; i++) one.copy(packet, 2 + i * (one.length - 1), 1);
      this.silentPackets.set(k, packet);
    }
    this.emit({ payload: packet, timestamp });
    return k;
  }

  close(): void {
    this.enc.delete();
  }
}

/** G.711 µ-law (static PT 0) or A-law (static PT 8), 8 kHz only (RFC 3551). */
export class G711PayloadEncoder implements PayloadEncoder {
  readonly payloadType: number;
  readonly clockRate = 8000;
  readonly rtpmap: string;

  constructor(
    private readonly law: 'pcmu' | 'pcma',
    rate: number,
    private readonly emit: Emit,
  ) {
    checkCodecInput(law, rate, 20);
    this.payloadType = law === 'pcmu' ? 0 : 8;
    this.rtpmap = law === 'pcmu' ? 'PCMU/8000' : 'PCMA/8000';
  }

  encode(pcm: Buffer, timestamp: number): void {
    const bytes = this.law === 'pcmu' ? encodeUlaw(pcm) : encodeAlaw(pcm);
    splitPayload(bytes, 1, timestamp, this.emit);
  }

  close(): void {}
}

/**
 * L16 (RFC 3551 §4.5.11): 16-bit big-endian samples. Static PT 11 is L16/44100/1; any other rate
 * gets dynamic PT 97 with its own rtpmap. A 20 ms frame above ~35 kHz is split over packets.
 */
export class L16PayloadEncoder implements PayloadEncoder {
  readonly payloadType: number;
  readonly clockRate: number;
  readonly rtpmap: string;

  constructor(
    rate: number,
    private readonly emit: Emit,
  ) {
    checkCodecInput('l16', rate, 20);
    this.clockRate = rate;
    this.payloadType = rate === 44100 ? 11 : 97;
    this.rtpmap = `L16/${rate}/1`;
  }

  encode(pcm: Buffer, timestamp: number): void {
    const be = Buffer.from(pcm);
    be.swap16();
    splitPayload(be, 2, timestamp, this.emit);
  }

  close(): void {}
}

/** Cuts sample bytes into payloads of at most MAX_PAYLOAD bytes, each with its own timestamp. */
function splitPayload(bytes: Buffer, bytesPerSample: number, timestamp: number, emit: Emit): void {
  const max = MAX_PAYLOAD - (MAX_PAYLOAD % bytesPerSample);
  for (let off = 0; off < bytes.length; off += max) {
    emit({ payload: bytes.subarray(off, Math.min(bytes.length, off + max)), timestamp: timestamp + off / bytesPerSample });
  }
}
