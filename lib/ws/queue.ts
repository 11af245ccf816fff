/**
 * The bounded send queue of one WebSocket connection. While the connection is down, chunks wait
 * here; the bound is in milliseconds of audio (not bytes or items) because that is what a user
 * reasons about ("keep 30 s while the ASR restarts"). When full, the policy decides who is dropped,
 * and every drop is returned to the caller to count and report: nothing leaves silently.
 */
import { CodedError } from '../util/errors';

export type DropPolicy = 'drop-oldest' | 'drop-newest' | 'stop-stream';

export const DROP_POLICIES: readonly DropPolicy[] = ['drop-oldest', 'drop-newest', 'stop-stream'];

/**
 * Throws ws.badPolicy unless `policy` is one of DROP_POLICIES: a hand-edited or imported flow can
 * carry anything, and an unknown policy would otherwise act as drop-newest without a word.
 */
export function assertDropPolicy(policy: string): asserts policy is DropPolicy {
  if (!(DROP_POLICIES as readonly string[]).includes(policy)) {
    throw new CodedError('ws.badPolicy', `"${policy}" is not a queue policy: choose drop-oldest, drop-newest or stop-stream`, { policy: String(policy) });
  }
}

export interface QueueItem {
  data: string | Buffer;
  /** stream key the item belongs to */
  key: string;
  /** audio duration in ms; 0 for control frames (end-of-stream), which are never dropped for space */
  ms: number;
  /** chunk sequence number within its stream (the frame's `seq` in ack mode) */
  seq?: number;
  /** the frame's timestamp as sent (seconds), for acknowledgements by timestamp */
  ts?: number;
}

export interface PushResult {
  accepted: boolean;
  /** items removed to make room (drop-oldest) or the rejected item itself (drop-newest / stop-stream) */
  dropped: QueueItem[];
}

export class BoundedQueue {
  /** the queue is items[head…]; the slots before head are emptied (undefined) as items leave */
  private items: QueueItem[] = [];
  private head = 0;
  private queuedMs = 0;
  /** audio held elsewhere that counts against the same bound (ack mode: frames awaiting their acknowledgement) */
  extraMs = 0;

  constructor(
    /** the bound, ms of audio; may be changed (a shared connection's grows with its streams) */
    public maxMs: number,
    readonly policy: DropPolicy,
  ) {
    if (!(maxMs > 0)) throw new RangeError(`queue bound must be > 0 ms, got ${maxMs}`);
    assertDropPolicy(policy);
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Audio waiting, in ms. */
  get ms(): number {
    return this.queuedMs;
  }

  push(item: QueueItem): PushResult {
    const dropped: QueueItem[] = [];
    if (item.ms > 0 && this.queuedMs + this.extraMs + item.ms > this.maxMs) {
      if (this.policy !== 'drop-oldest') return { accepted: false, dropped: [item] };
      // make room by dropping the oldest audio; control frames stay so streams still end properly
      while (this.queuedMs + this.extraMs + item.ms > this.maxMs) {
        const i = this.oldestAudio();
        if (i < 0) break;
        const [gone] = this.items.splice(i, 1);
        this.queuedMs -= gone.ms;
        dropped.push(gone);
      }
      if (this.queuedMs + this.extraMs + item.ms > this.maxMs) return { accepted: false, dropped: [...dropped, item] };
    }
    this.items.push(item);
    this.queuedMs += item.ms;
    return { accepted: true, dropped };
  }

  /** Puts items back at the head, in their order (unconfirmed sends after a disconnect). */
  unshift(items: QueueItem[]): void {
    if (items.length === 0) return;
    this.compact();
    this.items = [...items, ...this.items];
    for (const it of items) this.queuedMs += it.ms;
  }

  peek(): QueueItem | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): QueueItem | undefined {
    if (this.head >= this.items.length) return undefined;
    const it = this.items[this.head];
    // The slot lets go of the item now, not at the next compaction: a frame is a large string or
    // buffer, and at 250 frames a second the 1024 slots before a compaction kept every frame
    // alive for 4 s, long enough for V8 to move each one to the old generation (2.4 MB/s in
    // bench/whep, a full mark-compact every 2–3 s instead of every 10 s).
    (this.items as Array<QueueItem | undefined>)[this.head++] = undefined;
    this.queuedMs -= it.ms;
    if (this.head === this.items.length) {
      // empty (the usual case: frames leave as they come): start the array over
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) this.compact();
    return it;
  }

  /** Empties the queue, returning what was in it. */
  drain(): QueueItem[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    this.queuedMs = 0;
    return all;
  }

  private oldestAudio(): number {
    for (let i = this.head; i < this.items.length; i++) if (this.items[i].ms > 0) return i;
    return -1;
  }

  private compact(): void {
    if (this.head === 0) return;
    this.items = this.items.slice(this.head);
    this.head = 0;
  }
}
