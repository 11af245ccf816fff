/**
 * The real-time pacer: calls `onFrame` once per fixed frame (20 ms) at wall-clock pace, frame n
 * being due at start + n·frameMs on a monotonic clock. Each wait is computed from that absolute
 * schedule, never from the previous wake-up, so timer lateness does not accumulate into drift.
 * A frame found late (a busy event loop) is sent at once, back to back with the next ones, so
 * the stream's timeline stays continuous; after a stall longer than `maxCatchUpMs` (a suspended
 * machine) the schedule is re-anchored instead of bursting seconds of audio.
 */
import { EventEmitter } from 'node:events';

export interface Clock {
  /** monotonic milliseconds (fractional) */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface PacerOptions {
  frameMs: number;
  /**
   * called for frame n (0-based) at its due time; `due` is its scheduled clock time. If it
   * produced several frames at once, it says so with `pacer.produced(count)`.
   */
  onFrame: (n: number, due: number) => void;
  clock?: Clock;
  /** a late frame up to this much behind is still sent (catch-up); beyond, re-anchor (default 1000 ms) */
  maxCatchUpMs?: number;
  /**
   * a frame due within this many ms is sent now rather than after one more timer round trip,
   * because timers fire on whole milliseconds (default 1 ms)
   */
  earlyMs?: number;
}

export class Pacer extends EventEmitter {
  private readonly clock: Clock;
  private readonly frameMs: number;
  private readonly maxCatchUpMs: number;
  private readonly earlyMs: number;
  private start = 0;
  private n = 0;
  private timer: unknown;
  private running = false;
  /** frames beyond the current one that the running onFrame call produced */
  private extra = 0;
  /** frames skipped by re-anchoring after stalls */
  skipped = 0;
  /** the timer's callback, made once (not a new closure per wake-up) */
  private readonly onTimer = (): void => this.tick();

  constructor(private readonly opts: PacerOptions) {
    super();
    if (!(opts.frameMs > 0)) throw new RangeError(`frameMs must be > 0, got ${opts.frameMs}`);
    this.clock = opts.clock ?? systemClock;
    this.frameMs = opts.frameMs;
    this.maxCatchUpMs = opts.maxCatchUpMs ?? 1000;
    this.earlyMs = opts.earlyMs ?? 1;
  }

  /** frames produced so far */
  get frames(): number {
    return this.n;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Clock time at which frame `n` is due. */
  dueTime(n: number): number {
    return this.start + n * this.frameMs;
  }

  /**
   * Called from onFrame: this call produced `count` frames at once (e.g. one packet of 6 silent
   * frames). The clock then skips to the frame after them, so it wakes once per packet.
   */
  produced(count: number): void {
    this.extra = Math.max(0, Math.floor(count) - 1);
  }

  begin(): void {
    if (this.running) return;
    this.running = true;
    this.start = this.clock.now();
    this.n = 0;
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.running) return;
    let now = this.clock.now();
    const behind = now - this.dueTime(this.n);
    if (behind > this.maxCatchUpMs) {
      const skip = Math.floor(behind / this.frameMs);
      this.skipped += skip;
      this.start += skip * this.frameMs;
      this.emit('resync', { skippedFrames: skip, behindMs: behind });
    }
    while (this.running && this.dueTime(this.n) <= now + this.earlyMs) {
      const n = this.n++;
      this.extra = 0;
      try {
        this.opts.onFrame(n, this.dueTime(n));
        this.n += this.extra;
      } catch (err) {
        // a failing consumer must not stop the clock (nor crash the process from a timer)
        if (this.listenerCount('error') > 0) this.emit('error', err);
      }
      now = this.clock.now();
    }
    if (!this.running) return;
    const wait = Math.max(0, Math.round(this.dueTime(this.n) - now));
    this.timer = this.clock.setTimeout(this.onTimer, wait);
  }
}
