/**
 * Filter design for the resampler: Kaiser-windowed sinc prototypes, cut into polyphase tables.
 *
 * The prototype is described in units of input samples, so one formula serves downsampling
 * (cut-off at the output Nyquist) and upsampling (cut-off at the input Nyquist, rejecting images).
 */

/** What a quality preset asks of the filters. Figures measured for each preset are in docs/benchmarks.md. */
export interface QualitySpec {
  /** stopband attenuation the Kaiser window is designed for (dB) */
  attenuationDb: number;
  /** end of the flat passband, as a fraction of the lower Nyquist frequency */
  passband: number;
}

export const QUALITY = {
  /** cheaper: same passband, ~70 dB alias rejection */
  fast: { attenuationDb: 70, passband: 0.9 },
  /** the default: >= 90 dB alias rejection (designed for 96 dB, measured -102 dB at 48k -> 16k), flat to 90 % of the Nyquist frequency */
  standard: { attenuationDb: 96, passband: 0.9 },
  /** longest filters: >= 100 dB (measured -112 dB), flat to 95 % of the Nyquist frequency */
  best: { attenuationDb: 110, passband: 0.95 },
} as const satisfies Record<string, QualitySpec>;

export type Quality = keyof typeof QUALITY;
export const QUALITY_NAMES = Object.keys(QUALITY) as Quality[];
export const DEFAULT_QUALITY: Quality = 'standard';

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for x < 50). */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser's beta for a stopband attenuation in dB. */
export function kaiserBeta(attDb: number): number {
  if (attDb > 50) return 0.1102 * (attDb - 8.7);
  if (attDb >= 21) return 0.5842 * Math.pow(attDb - 21, 0.4) + 0.07886 * (attDb - 21);
  return 0;
}

/** Kaiser's estimate of the filter length for an attenuation and a transition width (cycles/sample). */
export function kaiserLength(attDb: number, transition: number): number {
  return Math.ceil((attDb - 7.95) / (2.285 * 2 * Math.PI * transition)) + 1;
}

/** A polyphase table: `phases` rows of `taps` coefficients (taps a multiple of 4, zero-padded). */
export interface PolyphaseTable {
  coef: Float32Array;
  taps: number;
  phases: number;
  /** index (within a row) of the tap that lines up with the output instant at phase 0 */
  center: number;
}

/**
 * Designs a low-pass prototype for a stage running at `rate` Hz whose flat passband ends at
 * `passHz` and whose stopband starts at `stopHz`, cut into `phases` phases at fractional offsets
 * p / phases (p = 0 .. phases-1, plus one more at offset 1 when `extraPhase`, for interpolation).
 * Each phase is normalised to unity DC gain.
 */
export function designPolyphase(rate: number, passHz: number, stopHz: number, attDb: number, phases: number, extraPhase = false): PolyphaseTable {
  const transition = (stopHz - passHz) / rate;
  const cutoff = (passHz + stopHz) / 2 / rate; // cycles per input sample
  const len = kaiserLength(attDb, transition);
  const taps = Math.ceil(len / 4) * 4;
  const half = taps / 2;
  const center = half - 1;
  const beta = kaiserBeta(attDb);
  const i0b = besselI0(beta);
  const rows = phases + (extraPhase ? 1 : 0);
  const coef = new Float32Array(rows * taps);
  const row = new Float64Array(taps);
  for (let p = 0; p < rows; p++) {
    const phi = p / phases;
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      // distance (in input samples) from the output instant to input sample k
      const t = k - center - phi;
      const r = t / half;
      const w = Math.abs(r) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / i0b;
      const x = 2 * cutoff * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      row[k] = 2 * cutoff * sinc * w;
      sum += row[k];
    }
    for (let k = 0; k < taps; k++) coef[p * taps + k] = row[k] / sum;
  }
  return { coef, taps, phases, center };
}

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
