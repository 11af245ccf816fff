/**
 * Exponential back-off with jitter, shared by every reconnecting client of the package
 * (WHEP sessions, WebSocket targets, RTSP publishers) so they all behave alike.
 */
export interface BackoffOptions {
  /** first delay (ms) */
  initialMs: number;
  /** largest delay (ms) */
  maxMs: number;
  /** growth per attempt (default 2) */
  factor?: number;
  /** +/- share of random spread, 0..1 (default 0.2), so many clients do not retry in lockstep */
  jitter?: number;
  /** injectable for tests */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {
    if (!(opts.initialMs > 0) || !(opts.maxMs >= opts.initialMs)) {
      throw new RangeError(`back-off needs 0 < initialMs <= maxMs, got ${opts.initialMs} and ${opts.maxMs}`);
    }
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay (ms), growing each call until maxMs. */
  next(): number {
    const factor = this.opts.factor ?? 2;
    const jitter = this.opts.jitter ?? 0.2;
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * Math.pow(factor, this.attempt));
    this.attempt++;
    const spread = base * jitter * (2 * (this.opts.random ?? Math.random)() - 1);
    return Math.max(0, Math.min(this.opts.maxMs, Math.round(base + spread)));
  }

  /** After a success: the next failure starts again from initialMs. */
  reset(): void {
    this.attempt = 0;
  }
}

/**
 * Parses an HTTP Retry-After header (seconds or an HTTP date) to ms from `now`;
 * undefined when absent or unreadable.
 */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}
