/**
 * Streaming resampler for interleaved s16le PCM: any rate 8–192 kHz to any rate, 1–8 channels to
 * mono, stereo or the same channels.
 *
 * Structure (per output channel, f32, in fir.wasm with SIMD):
 *   s16 -> downmix/pick -> [half-rate FIR stages while the rate is >= 3x the output rate]
 *       -> polyphase FIR to the output rate -> s16 (rounded, saturated)
 * The half-rate stages make the common 48 kHz -> 16 kHz case cheap: the sharp 7.2 -> 8 kHz
 * filter then runs on 24 kHz input instead of 48 kHz, halving its length.
 *
 * Chunk invariance: every output sample is a dot product of a fixed window of input computed in
 * a fixed order, with positions kept in exact integer arithmetic, so the output of a stream cut
 * into any chunks is bit-identical to the output of the whole stream in one piece. Each stage
 * starts with `center` zeros of history, so output sample n is centred on input instant
 * n * inRate / outRate (no delay to compensate), and flush() emits exactly
 * ceil(inputFrames * outRate / inRate) frames in total.
 */
import type { PcmFormat } from '../pcm/contract';
import { MAX_CHANNELS, MAX_RATE, MIN_RATE } from '../pcm/contract';
import { CodedError } from '../util/errors';
import { DEFAULT_QUALITY, QUALITY, QUALITY_NAMES, type Quality, designPolyphase, gcd } from './design';
import { type FirExports, instantiate } from './kernel';

export type OutChannels = 1 | 2 | 'same';
export type Mix = 'average' | 'left' | 'right';
export const MIX_MODES: readonly Mix[] = ['average', 'left', 'right'];

export interface ResamplerOptions {
  inRate: number;
  inChannels: number;
  outRate: number;
  /** 1, 2 or 'same' as the input (default 'same') */
  outChannels?: OutChannels;
  /** how to make mono from several channels (default 'average') */
  mix?: Mix;
  quality?: Quality;
  /** for the benchmark: another implementation of the kernel (default: fir.wasm) */
  kernel?: () => FirExports;
}

/** Ratios whose reduced numerator L is at most this get one exact phase per output offset. */
const MAX_EXACT_PHASES = 1024;
/** Otherwise: this many tabulated phases, interpolated linearly. */
const INTERP_PHASES = 512;
/** Input frames handled per kernel call; longer chunks are cut (the output does not depend on it). */
const BLOCK = 4096;

interface Stage {
  L: number;
  M: number;
  taps: number;
  phases: number;
  interp: boolean;
  coef: number;
  hist: number[]; // per channel: byte offset of the history region
  have: number; // samples in each history region
  pos: number; // index of the first input sample of the next output's window
  acc: number; // next output's phase numerator (0 .. L-1)
  center: number;
  /** samples each history region holds at most */
  histCap: number;
}

function align16(n: number): number {
  return (n + 15) & ~15;
}

export class ResamplerError extends CodedError {
  override name = 'ResamplerError';
}

export function checkResamplerOptions(o: ResamplerOptions): void {
  for (const [k, v] of [['inRate', o.inRate], ['outRate', o.outRate]] as const) {
    if (!Number.isInteger(v) || v < MIN_RATE || v > MAX_RATE) {
      throw new ResamplerError('resample.badRate', `${k} ${v}: expected a whole number of Hz from ${MIN_RATE} to ${MAX_RATE}`, { what: k, rate: String(v), min: MIN_RATE, max: MAX_RATE });
    }
  }
  if (!Number.isInteger(o.inChannels) || o.inChannels < 1 || o.inChannels > MAX_CHANNELS) {
    throw new ResamplerError('resample.badChannels', `input channels ${o.inChannels}: expected 1 to ${MAX_CHANNELS}`, { channels: String(o.inChannels), max: MAX_CHANNELS });
  }
  if (o.outChannels !== undefined && o.outChannels !== 1 && o.outChannels !== 2 && o.outChannels !== 'same') {
    throw new ResamplerError('resample.badOutChannels', `output channels ${String(o.outChannels)}: expected 1, 2 or "same"`, { channels: String(o.outChannels) });
  }
  if (o.mix !== undefined && !MIX_MODES.includes(o.mix)) {
    throw new ResamplerError('resample.badMix', `mix ${String(o.mix)}: expected one of ${MIX_MODES.join(', ')}`, { mix: String(o.mix), modes: MIX_MODES.join(', ') });
  }
  if (o.quality !== undefined && !QUALITY_NAMES.includes(o.quality)) {
    throw new ResamplerError('resample.badQuality', `quality ${String(o.quality)}: expected one of ${QUALITY_NAMES.join(', ')}`, { quality: String(o.quality), presets: QUALITY_NAMES.join(', ') });
  }
}

export class Resampler {
  readonly inFormat: PcmFormat;
  readonly outFormat: PcmFormat;
  readonly quality: Quality;
  readonly mix: Mix;
  /** true when the input already has the output format: process() returns its input unchanged */
  readonly passthrough: boolean;
  private framesIn = 0;
  private framesOut = 0;
  private readonly stages: Stage[] = [];
  private k!: FirExports;
  private f32!: Float32Array;
  private u8!: Uint8Array;
  private in16 = 0;
  private out: number[] = [];
  private out16 = 0;
  private outCap = 0;

  constructor(opts: ResamplerOptions) {
    checkResamplerOptions(opts);
    const outChannels = opts.outChannels === undefined || opts.outChannels === 'same' ? opts.inChannels : opts.outChannels;
    this.inFormat = { rate: opts.inRate, channels: opts.inChannels };
    this.outFormat = { rate: opts.outRate, channels: outChannels };
    this.quality = opts.quality ?? DEFAULT_QUALITY;
    this.mix = opts.mix ?? 'average';
    this.passthrough = opts.inRate === opts.outRate && opts.inChannels === outChannels;
    if (!this.passthrough) this.setup(opts.kernel ?? instantiate);
  }

  /** Input frames accepted and output frames produced since the start (or the last flush). */
  get counts(): { framesIn: number; framesOut: number } {
    return { framesIn: this.framesIn, framesOut: this.framesOut };
  }

  /** Number of filter stages (0 when only channels change), for status and tests. */
  get stageCount(): number {
    return this.stages.length;
  }

  private setup(kernel: () => FirExports): void {
    const spec = QUALITY[this.quality];
    const { rate: inRate } = this.inFormat;
    const { rate: outRate, channels: outCh } = this.outFormat;
    const plans: Array<Omit<Stage, 'coef' | 'hist' | 'have' | 'pos' | 'acc' | 'histCap'> & { coefData: Float32Array }> = [];
    if (inRate !== outRate) {
      const nyq = Math.min(inRate, outRate) / 2;
      const passHz = spec.passband * nyq;
      let r = inRate;
      // half-rate stages: pass [0, nyq], stop from r/2 - nyq (what would fold onto [0, nyq])
      while (r >= 3 * outRate && r % 2 === 0) {
        const t = designPolyphase(r, nyq, r / 2 - nyq, spec.attenuationDb, 1);
        plans.push({ L: 1, M: 2, taps: t.taps, phases: 1, interp: false, center: t.center, coefData: t.coef });
        r /= 2;
      }
      const g = gcd(r, outRate);
      const L = outRate / g;
      const M = r / g;
      const interp = L > MAX_EXACT_PHASES;
      const t = designPolyphase(r, passHz, nyq, spec.attenuationDb, interp ? INTERP_PHASES : L, interp);
      plans.push({ L, M, taps: t.taps, phases: t.phases, interp, center: t.center, coefData: t.coef });
    }
    this.k = kernel();
    let off = align16(this.k.heapBase());
    const alloc = (bytes: number): number => {
      const o = off;
      off = align16(off + bytes);
      return o;
    };
    this.in16 = alloc(BLOCK * this.inFormat.channels * 2);
    let inMax = BLOCK;
    for (const p of plans) {
      const histCap = p.taps + Math.ceil(p.M / p.L) + 4 + inMax;
      const stage: Stage = { ...p, histCap, coef: alloc(p.coefData.length * 4), hist: [], have: 0, pos: 0, acc: 0 };
      for (let c = 0; c < outCh; c++) stage.hist.push(alloc(histCap * 4));
      (stage as Stage & { coefData?: Float32Array }).coefData = p.coefData;
      this.stages.push(stage);
      inMax = Math.ceil(((histCap + 1) * p.L) / p.M) + 2;
    }
    this.outCap = inMax;
    for (let c = 0; c < outCh; c++) this.out.push(alloc(inMax * 4));
    this.out16 = alloc(inMax * outCh * 2);
    const mem = this.k.memory;
    const need = Math.ceil(off / 65536) - mem.buffer.byteLength / 65536;
    if (need > 0) mem.grow(need);
    this.f32 = new Float32Array(mem.buffer);
    this.u8 = new Uint8Array(mem.buffer);
    for (const s of this.stages) {
      const withData = s as Stage & { coefData?: Float32Array };
      this.f32.set(withData.coefData!, s.coef >> 2);
      delete withData.coefData;
    }
    this.reset();
  }

  /** Back to the initial state (history = zeros), as after construction. */
  private reset(): void {
    this.framesIn = 0;
    this.framesOut = 0;
    for (const s of this.stages) {
      s.pos = 0;
      s.acc = 0;
      s.have = s.center;
      for (const h of s.hist) this.f32.fill(0, h >> 2, (h >> 2) + s.center);
    }
  }

  /**
   * Resamples one chunk (interleaved s16le, whole frames of the input format) and returns the
   * output frames it completes (possibly none). In pass-through the input Buffer itself is returned.
   */
  process(pcm: Buffer): Buffer {
    const fb = this.inFormat.channels * 2;
    if (pcm.length % fb !== 0) {
      throw new ResamplerError('pcm.partialFrame', `payload has ${pcm.length} bytes, not a whole number of ${this.inFormat.channels}-channel 16-bit frames (${fb} bytes each)`, {
        bytes: pcm.length,
        channels: this.inFormat.channels,
        frameBytes: fb,
      });
    }
    if (this.passthrough) return pcm;
    const frames = pcm.length / fb;
    const parts: Buffer[] = [];
    for (let f = 0; f < frames; f += BLOCK) {
      const n = Math.min(BLOCK, frames - f);
      this.u8.set(pcm.subarray(f * fb, (f + n) * fb), this.in16);
      this.framesIn += n;
      const out = this.run(n, false);
      if (out.length) parts.push(out);
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /**
   * The stream ended: emits the rest (the filters' look-ahead, fed with silence) so that in total
   * exactly ceil(inputFrames * outRate / inRate) frames came out, then starts afresh.
   */
  flush(): Buffer {
    if (this.passthrough || this.stages.length === 0) {
      this.framesIn = this.framesOut = 0;
      return Buffer.alloc(0);
    }
    const expected = Math.ceil((this.framesIn * this.outFormat.rate) / this.inFormat.rate);
    const parts: Buffer[] = [];
    // bounded: each round pushes BLOCK frames of silence; the look-ahead is far shorter
    for (let round = 0; round < 64 && this.framesOut < expected; round++) {
      const before = this.framesOut;
      const out = this.run(BLOCK, true);
      const keep = Math.min(this.framesOut, expected) - before;
      if (keep > 0) parts.push(out.subarray(0, keep * this.outFormat.channels * 2));
    }
    this.reset();
    return Buffer.concat(parts);
  }

  /** Feeds n frames (from in16, or silence) through the stages; returns the s16 output. */
  private run(n: number, silence: boolean): Buffer {
    const k = this.k;
    const inCh = this.inFormat.channels;
    const outCh = this.outFormat.channels;
    const first = this.stages[0];
    for (let c = 0; c < outCh; c++) {
      const dst = first ? first.hist[c] + first.have * 4 : this.out[c];
      if (silence) this.f32.fill(0, dst >> 2, (dst >> 2) + n);
      else if (outCh === inCh) k.pick(this.in16, n, inCh, c, dst);
      else if (inCh === 1) k.pick(this.in16, n, 1, 0, dst);
      else if (outCh === 2) k.pick(this.in16, n, inCh, c, dst);
      else if (this.mix === 'average') k.average(this.in16, n, inCh, dst);
      else k.pick(this.in16, n, inCh, this.mix === 'left' ? 0 : 1, dst);
    }
    let count = n;
    if (first) first.have += n;
    for (let i = 0; i < this.stages.length; i++) {
      const s = this.stages[i];
      const next = this.stages[i + 1];
      count = this.step(s, next);
      if (next) next.have += count;
    }
    for (let c = 0; c < outCh; c++) k.toS16(this.out[c], count, this.out16, outCh, c);
    this.framesOut += count;
    return Buffer.from(this.u8.slice(this.out16, this.out16 + count * outCh * 2).buffer);
  }

  /** Runs one stage on what its history holds; writes into the next stage's history (or out). */
  private step(s: Stage, next: Stage | undefined): number {
    const K = s.have - s.taps - s.pos;
    if (K < 0) return 0;
    const n = Math.floor((K * s.L + s.L - 1 - s.acc) / s.M) + 1;
    // the regions are sized for the largest block; exceeding them would be a bug here, not bad input
    if (next ? next.have + n > next.histCap : n > this.outCap) throw new Error(`resampler: stage output ${n} exceeds its buffer`);
    for (let c = 0; c < s.hist.length; c++) {
      const dst = next ? next.hist[c] + next.have * 4 : this.out[c];
      if (s.interp) this.k.firInterp(s.hist[c], s.coef, s.taps, s.phases, dst, n, s.pos, s.acc, s.L, s.M);
      else this.k.fir(s.hist[c], s.coef, s.taps, dst, n, s.pos, s.acc, s.L, s.M);
    }
    const total = s.acc + n * s.M;
    const used = s.pos + Math.floor(total / s.L);
    s.acc = total % s.L;
    // keep only what later outputs still need
    for (const h of s.hist) this.f32.copyWithin(h >> 2, (h >> 2) + used, (h >> 2) + s.have);
    s.have -= used;
    s.pos = 0;
    return n;
  }
}
