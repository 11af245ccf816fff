/** Small helpers every benchmark uses: medians, percentiles, a sleep and numeric options. */

/** The median (the mean of the two middle values for an even count); NaN for none. */
export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The p-th percentile (nearest rank) of values in any order (sorts a copy); NaN for none. */
export function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `--name N` from the command line, else `d`. */
export function numberOption(args: string[], name: string, d: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
}
