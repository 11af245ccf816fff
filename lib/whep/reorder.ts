/**
 * Puts one RTP stream's packets back in order: a small reorder window for late packets,
 * duplicates and too-late packets dropped, and the gaps that losses leave reported in RTP clock
 * samples so the caller can fill them (the emitted duration then matches the sender's timeline).
 * Written here rather than taken from werift/nonstandard's JitterBuffer because that one works on
 * a timer per stream and emits no gap sizes; this one costs nothing while packets arrive in order.
 */

export type Ordered =
  | { kind: 'packet'; ts: number; payload: Buffer; samples: number }
  | { kind: 'gap'; ts: number; samples: number }
  | { kind: 'reset'; ts: number };

export interface ReorderStats {
  received: number;
  /** packets never received (their time was filled) */
  lost: number;
  duplicates: number;
  /** packets that came after their time was already filled */
  late: number;
  /** discontinuities (sender restarted, long pause) */
  resets: number;
}

export interface ReorderOptions {
  /** packets held back waiting for a missing one, at most (default 3 = 60 ms of 20 ms packets) */
  window?: number;
  /** a gap longer than this (RTP clock samples) is a discontinuity, not a loss to fill (default 2 s at 48 kHz) */
  maxGapSamples?: number;
  /** duration of a packet (RTP clock samples) from its payload */
  packetSamples: (payload: Buffer) => number;
}

const SLOTS = 64; // power of two, > window

export class ReorderBuffer {
  readonly stats: ReorderStats = { received: 0, lost: 0, duplicates: 0, late: 0, resets: 0 };
  private next = -1; // next sequence number to emit, -1 before the first packet
  private expectedTs = 0;
  private readonly slotSeq = new Int32Array(SLOTS).fill(-1);
  private readonly slotTs = new Float64Array(SLOTS);
  private readonly slotPayload: Array<Buffer | undefined> = new Array(SLOTS);
  private waiting = 0;
  private readonly window: number;
  private readonly maxGap: number;

  constructor(private readonly opts: ReorderOptions) {
    this.window = Math.max(0, Math.min(SLOTS - 2, opts.window ?? 3));
    this.maxGap = opts.maxGapSamples ?? 96000;
  }

  /** Packets held back (waiting for a missing one). */
  get held(): number {
    return this.waiting;
  }

  /** Forget everything: the next packet starts a new timeline. */
  reset(): void {
    this.next = -1;
    this.slotSeq.fill(-1);
    this.slotPayload.fill(undefined);
    this.waiting = 0;
  }

  push(seq: number, ts: number, payload: Buffer, out: Ordered[] = []): Ordered[] {
    this.stats.received++;
    if (this.next < 0) {
      this.start(seq, ts, out);
    }
    const d = ((seq - this.next) << 16) >> 16; // signed distance on the 16-bit ring
    if (d < 0) {
      if (d < -1000) {
        // far behind: the sender restarted its numbering
        this.restart(seq, ts, out);
      } else {
        // its time was filled already (or it was emitted: a duplicate of an old packet)
        this.stats.late++;
        return out;
      }
    } else if (d > 1000) {
      this.restart(seq, ts, out);
    }
    const slot = seq & (SLOTS - 1);
    if (this.slotSeq[slot] === seq) {
      this.stats.duplicates++;
      return out;
    }
    if (this.slotSeq[slot] >= 0) {
      // an old packet still parked in this slot can no longer be emitted in order
      this.slotPayload[slot] = undefined;
      this.waiting--;
    }
    this.slotSeq[slot] = seq;
    this.slotTs[slot] = ts;
    this.slotPayload[slot] = payload;
    this.waiting++;
    this.drain(out);
    if (this.waiting > this.window) this.giveUp(out);
    return out;
  }

  /** Stop waiting for missing packets: fill their time and emit what is held. */
  flush(out: Ordered[] = []): Ordered[] {
    while (this.waiting > 0) this.giveUp(out);
    return out;
  }

  private start(seq: number, ts: number, out: Ordered[]): void {
    this.next = seq;
    this.expectedTs = ts;
    out.push({ kind: 'reset', ts });
  }

  private restart(seq: number, ts: number, out: Ordered[]): void {
    this.flush(out);
    this.reset();
    this.stats.resets++;
    this.start(seq, ts, out);
  }

  private drain(out: Ordered[]): void {
    for (;;) {
      const slot = this.next & (SLOTS - 1);
      if (this.slotSeq[slot] !== this.next) return;
      const ts = this.slotTs[slot];
      const payload = this.slotPayload[slot]!;
      this.slotSeq[slot] = -1;
      this.slotPayload[slot] = undefined;
      this.waiting--;
      this.next = (this.next + 1) & 0xffff;
      const gap = (ts - this.expectedTs) | 0; // signed distance on the 32-bit RTP clock
      if (gap > this.maxGap || gap < -this.maxGap) {
        // a long silence in the sender's clock (DTX, publisher pause): start a new timeline
        this.stats.resets++;
        out.push({ kind: 'reset', ts });
      } else if (gap > 0) {
        out.push({ kind: 'gap', ts: this.expectedTs, samples: gap });
      }
      const samples = this.opts.packetSamples(payload);
      out.push({ kind: 'packet', ts, payload, samples });
      this.expectedTs = (ts + samples) >>> 0;
    }
  }

  /** Declares the packets before the oldest held one lost and emits from there. */
  private giveUp(out: Ordered[]): void {
    for (let d = 1; d < SLOTS; d++) {
      const seq = (this.next + d) & 0xffff;
      if (this.slotSeq[seq & (SLOTS - 1)] === seq) {
        this.stats.lost += d;
        this.next = seq;
        this.drain(out);
        return;
      }
    }
    // nothing reachable is held (cannot happen with window < SLOTS): start over
    this.reset();
  }
}
