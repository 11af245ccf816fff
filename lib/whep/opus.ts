/**
 * Opus decoding with libopus compiled to wasm, as shipped by opusscript (no install scripts, no
 * compiler). libopus decodes natively to 8/12/16/24/48 kHz, so a 16 kHz mono output for speech
 * services costs no resampling.
 *
 * We drive opusscript's wasm module directly instead of its OpusScript class: that class keeps
 * views of the wasm heap made at construction, which are detached when the heap grows (with
 * ~100+ decoders in one process: "Cannot perform %TypedArray%.prototype.set on a detached
 * ArrayBuffer"), and it addresses its output buffer at twice the allocated pointer. Here every
 * call takes the current heap and writes only inside what it allocated.
 */
import { CodedError } from '../util/errors';

interface OpusWasm {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  OpusScriptHandler: {
    new (rate: number, channels: number, application: number): OpusHandler;
    destroy_handler(h: OpusHandler): void;
  };
}
interface OpusHandler {
  /** decodes `len` bytes at `inPtr` (0 = conceal a lost packet); writes each output byte into a 16-bit slot at `outPtr`; returns frames */
  _decode(inPtr: number, len: number, outPtr: number): number;
}

let wasm: OpusWasm | undefined;
function opusWasm(): OpusWasm {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  wasm ??= (require('opusscript/build/opusscript_native_wasm.js') as () => OpusWasm)();
  return wasm;
}

const MAX_PACKET = 4000;
const MAX_FRAMES = 5760; // 120 ms at 48 kHz, the most one call produces

export type OpusRate = 8000 | 12000 | 16000 | 24000 | 48000;
export const OPUS_RATES: readonly number[] = [8000, 12000, 16000, 24000, 48000];

/** The whep.opusRate error for an output rate libopus cannot decode to, undefined for one it can. */
export function opusRateError(rate: number): CodedError | undefined {
  if (OPUS_RATES.includes(rate)) return undefined;
  return new CodedError('whep.opusRate', `output rate ${rate} Hz is not possible: Opus decodes to 8000, 12000, 16000, 24000 or 48000 Hz; choose one in the node's Output setting`, { rate: String(rate) });
}

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
  private readonly mod: OpusWasm;
  private handler: OpusHandler | undefined;
  private readonly inPtr: number;
  private readonly outPtr: number;
  /** bytes per output frame (all channels) */
  readonly frameBytes: number;

  constructor(
    readonly rate: OpusRate,
    readonly channels: 1 | 2,
  ) {
    const bad = opusRateError(rate);
    if (bad) throw bad;
    this.mod = opusWasm();
    this.handler = new this.mod.OpusScriptHandler(rate, channels, 2049);
    this.frameBytes = 2 * channels;
    this.inPtr = this.mod._malloc(MAX_PACKET);
    this.outPtr = this.mod._malloc(MAX_FRAMES * this.frameBytes * 2);
  }

  /** Decodes one packet to interleaved s16le (a fresh Buffer). */
  decode(packet: Buffer): Buffer {
    if (packet.length > MAX_PACKET) throw new RangeError(`Opus packet of ${packet.length} bytes`);
    this.mod.HEAPU8.set(packet, this.inPtr);
    return this.run(packet.length);
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
      // libopus conceals up to 120 ms per call; keep what the gap needs
      const plc = this.run(0);
      const take = Math.min(plc.length, (plcFrames - done) * this.frameBytes);
      if (take <= 0) break;
      plc.copy(out, done * this.frameBytes, 0, take);
      done += take / this.frameBytes;
    }
    return out;
  }

  close(): void {
    if (!this.handler) return;
    this.mod.OpusScriptHandler.destroy_handler(this.handler);
    this.handler = undefined;
    this.mod._free(this.inPtr);
    this.mod._free(this.outPtr);
  }

  private run(len: number): Buffer {
    if (!this.handler) throw new Error('Opus decoder closed');
    const frames = this.handler._decode(this.inPtr, len, this.outPtr);
    if (frames < 0) throw new Error(`Opus decode error ${frames}`);
    // one output byte per 16-bit slot (opusscript's native convention): narrow them into a Buffer
    // (a hand-written loop over the heap bytes instead measured no faster: kept the library path)
    return Buffer.from(new Uint16Array(this.mod.HEAPU8.buffer, this.outPtr, frames * this.frameBytes));
  }
}
