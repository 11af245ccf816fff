/**
 * Measuring a downsampler the way the figures in docs/benchmarks.md are measured, the same for our presets and
 * for every contender in bench/resample: one test signal made of consecutive steady tones
 * (passband tones, then stopband tones), resampled in one go by the thing under test; then each
 * segment's middle is analysed with a windowed single-bin DFT (Goertzel) at the frequency where
 * that tone lands in the output.
 */

export interface ToneSegment {
  /** input tone frequency (Hz) */
  hz: number;
  kind: 'pass' | 'stop';
}

export interface QualityPlan {
  inRate: number;
  outRate: number;
  channels: number;
  segments: ToneSegment[];
  /** seconds per segment */
  segmentS: number;
  /** tone amplitude, fraction of full scale */
  amplitude: number;
}

export interface QualityFigures {
  /** level of the worst alias relative to a same-level passband tone (dB, negative = below) */
  worstAliasDb: number;
  /** input frequency of that worst alias (Hz) */
  worstAliasHz: number;
  /** largest deviation of the passband gain from 0 dB (±dB) */
  passbandRippleDb: number;
}

/** Where a tone of `hz` lands after sampling at `rate` (folding about the Nyquist frequency). */
export function aliasOf(hz: number, rate: number): number {
  const f = hz % rate;
  return f > rate / 2 ? rate - f : f;
}

/**
 * Amplitude (fraction of full scale when `samples` are s16) of the component at `hz` in
 * samples[start, start + n), with a 4-term Blackman-Harris window (sidelobes below -92 dB).
 */
export function toneAmplitude(samples: ArrayLike<number>, rate: number, hz: number, start: number, n: number): number {
  let re = 0;
  let im = 0;
  let wsum = 0;
  const w0 = (2 * Math.PI) / (n - 1);
  const dw = (2 * Math.PI * hz) / rate;
  for (let i = 0; i < n; i++) {
    const w = 0.35875 - 0.48829 * Math.cos(w0 * i) + 0.14128 * Math.cos(2 * w0 * i) - 0.01168 * Math.cos(3 * w0 * i);
    const x = samples[start + i] * w;
    re += x * Math.cos(dw * i);
    im -= x * Math.sin(dw * i);
    wsum += w;
  }
  const edge = hz === 0 || Math.abs(hz - rate / 2) < 1e-9;
  return ((edge ? 1 : 2) * Math.hypot(re, im)) / wsum / 32768;
}

/**
 * The plan of the quality sweep for a downsampler inRate -> outRate: passband tones every 100 Hz
 * up to 90 % of the output Nyquist frequency (and a 1 kHz reference), stopband tones from the
 * output Nyquist frequency up to 100 Hz below the input Nyquist frequency (denser near the edge).
 */
export function qualityPlan(inRate = 48000, outRate = 16000, channels = 2): QualityPlan {
  const segments: ToneSegment[] = [];
  const passTop = 0.9 * (outRate / 2);
  for (let hz = 100; hz <= passTop + 1e-9; hz += 100) segments.push({ hz, kind: 'pass' });
  const edge = outRate / 2;
  for (const hz of [edge, edge + 25, edge + 50]) segments.push({ hz, kind: 'stop' });
  for (let hz = edge + 100; hz <= inRate / 2 - 100 + 1e-9; hz += 100) segments.push({ hz, kind: 'stop' });
  return { inRate, outRate, channels, segments, segmentS: 0.32, amplitude: 0.5 };
}

/**
 * The test signal of a plan: interleaved s16le, the same tone on every channel. The tones are
 * TPDF-dithered: undithered rounding of a steady tone makes spurs at fixed frequencies (about
 * -116 dB here) that can land exactly on an alias frequency and would read as aliasing.
 */
export function qualitySignal(plan: QualityPlan): Buffer {
  let seed = 0x2545f491;
  const rnd = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const per = Math.round(plan.segmentS * plan.inRate);
  const ramp = Math.round(0.005 * plan.inRate);
  const out = new Int16Array(per * plan.segments.length * plan.channels);
  let o = 0;
  for (const seg of plan.segments) {
    const dw = (2 * Math.PI * seg.hz) / plan.inRate;
    for (let i = 0; i < per; i++) {
      // short raised-cosine ramps so segment changes do not click across the spectrum
      const g = i < ramp ? 0.5 - 0.5 * Math.cos((Math.PI * i) / ramp) : i >= per - ramp ? 0.5 - 0.5 * Math.cos((Math.PI * (per - 1 - i)) / ramp) : 1;
      const v = Math.round(32768 * plan.amplitude * g * Math.sin(dw * i + 0.3) + rnd() - rnd());
      for (let c = 0; c < plan.channels; c++) out[o++] = v;
    }
  }
  return Buffer.from(out.buffer);
}

/** Figures of a resampler's mono s16 output of qualitySignal(plan). */
export function measureQuality(out: Int16Array, plan: QualityPlan): QualityFigures {
  const per = plan.segmentS * plan.outRate;
  // analyse the steady middle of each segment, well clear of both ends and of any filter delay
  const from = Math.round(0.1 * plan.outRate);
  const n = Math.round(0.16 * plan.outRate);
  let ripple = 0;
  let worst = -Infinity;
  let worstHz = 0;
  let ref = 0;
  plan.segments.forEach((seg, i) => {
    const start = Math.round(i * per) + from;
    if (start + n > out.length) throw new Error(`output too short for the quality plan: ${out.length} samples`);
    const a = toneAmplitude(out, plan.outRate, aliasOf(seg.hz, plan.outRate), start, n);
    if (seg.kind === 'pass') {
      const g = 20 * Math.log10(a / plan.amplitude);
      ripple = Math.max(ripple, Math.abs(g));
      if (seg.hz === 1000) ref = a;
    }
  });
  if (!(ref > 0)) throw new Error('no 1 kHz reference tone in the output');
  plan.segments.forEach((seg, i) => {
    if (seg.kind !== 'stop') return;
    const start = Math.round(i * per) + from;
    const a = toneAmplitude(out, plan.outRate, aliasOf(seg.hz, plan.outRate), start, n);
    const db = 20 * Math.log10(Math.max(a, 1e-12) / ref);
    if (db > worst) {
      worst = db;
      worstHz = seg.hz;
    }
  });
  return { worstAliasDb: round2(worst), worstAliasHz: worstHz, passbandRippleDb: round3(ripple) };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
