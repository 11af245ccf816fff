/**
 * Per-stream state keyed by stream key (stmId, else topic), released after an idle timeout so a
 * stream that never sends `complete` does not leak. Used by every node that keeps state per stream.
 */
export interface StreamTableOptions<T> {
  /** release a stream's state after this long without a message (ms); 0 = never */
  idleMs: number;
  /** called when a stream's state is released by the idle timer (not by delete/clear) */
  onIdle?: (key: string, state: T) => void;
}

export class StreamTable<T> {
  private readonly entries = new Map<string, { state: T; lastUsed: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: StreamTableOptions<T>) {}

  get size(): number {
    return this.entries.size;
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The state of `key` (marking it used), created with `create` when absent. */
  get(key: string, create: () => T): T {
    let e = this.entries.get(key);
    if (!e) {
      e = { state: create(), lastUsed: Date.now() };
      this.entries.set(key, e);
      this.arm();
    } else {
      e.lastUsed = Date.now();
    }
    return e.state;
  }

  peek(key: string): T | undefined {
    return this.entries.get(key)?.state;
  }

  /** Removes and returns the state of `key`. */
  delete(key: string): T | undefined {
    const e = this.entries.get(key);
    this.entries.delete(key);
    if (this.entries.size === 0) this.disarm();
    return e?.state;
  }

  /** Removes every stream; returns what was there (e.g. to flush on close). */
  clear(): Array<[string, T]> {
    const all = [...this.entries].map(([k, e]) => [k, e.state] as [string, T]);
    this.entries.clear();
    this.disarm();
    return all;
  }

  /** Releases streams idle for longer than idleMs; exposed for tests. */
  sweep(now = Date.now()): void {
    for (const [key, e] of this.entries) {
      if (now - e.lastUsed >= this.opts.idleMs) {
        this.entries.delete(key);
        this.opts.onIdle?.(key, e.state);
      }
    }
    if (this.entries.size === 0) this.disarm();
  }

  private arm(): void {
    if (this.timer || !(this.opts.idleMs > 0)) return;
    const every = Math.max(50, Math.min(this.opts.idleMs / 2, 10_000));
    this.timer = setInterval(() => this.sweep(), every);
    // never keep the process (or a test) alive just to expire state
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
