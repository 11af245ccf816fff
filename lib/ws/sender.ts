/**
 * The engine of `base64-ws-out`, usable from plain Node: accepts PCM messages (the package's
 * contract), accumulates each stream to fixed chunks, turns chunks into frames and sends them over
 * one shared connection or one connection per stream, and reports replies and events.
 */
import { EventEmitter } from 'node:events';
import type { ChunkSize, PcmFormat } from '../pcm';
import { Chunker, StreamTable, assertChunkSize, msForBytes, readPcm, streamKey } from '../pcm';
import type { ConnectionCounters, ConnectionOptions, UnconfirmedCause } from './connection';
import { CodedError } from '../util/errors';
import { WsConnection, assertWsUrl, redactUrl } from './connection';
import type { FrameOptions } from './frame';
import { FrameBuilder, fillTemplate } from './frame';
import type { BoundedQueue, QueueItem } from './queue';
import { assertDropPolicy } from './queue';

export type ConnectionMode = 'shared' | 'per-stream';

/**
 * How long a per-stream connection waits, after its stream's last frame, for the receiver to send
 * its last replies and close: ASR services send their final result after the last audio, usually
 * within a second or two; a receiver that never closes costs a socket for this long.
 */
export const DEFAULT_LINGER_MS = 5000;

export interface SenderOptions {
  /** the target; in per-stream mode `url` may hold `{{stmId}}`, `{{traceId}}`, `{{topic}}` */
  target: ConnectionOptions & { mode?: ConnectionMode };
  /** default 200 ms */
  chunk?: ChunkSize;
  frame?: FrameOptions;
  /** on close: 'flush' sends partial chunks and waits (at most flushTimeoutMs) for queues to drain; 'drop' counts and drops */
  closePolicy?: 'flush' | 'drop';
  flushTimeoutMs?: number;
  /** a stream without messages for this long is treated as complete (default 60000; 0 = never) */
  idleMs?: number;
  /**
   * Ack mode (the no-loss bridge): every JSON frame carries `seq` (0, 1, 2… per stream); the
   * receiver replies with `{"<field>": <last seq consumed>}` (plus `stmId` on a shared
   * connection); frames stay, within the queue bound, until acknowledged, and are re-sent
   * unchanged after a reconnect. `by: 'timestamp'` acknowledges by the frames' timestamp instead.
   */
  ack?: { field?: string; by?: 'seq' | 'timestamp'; seqField?: string };
}

export type SenderEventName = 'connected' | 'disconnected' | 'reconnecting' | 'dropped' | 'unconfirmed' | 'error';

export interface SenderEvent {
  event: SenderEventName;
  /** the target URL with secrets masked */
  url: string;
  stmId?: string;
  traceId?: string;
  topic?: string;
  counters: ConnectionCounters;
  code?: number;
  reason?: string;
  delayMs?: number;
  attempt?: number;
  /** dropped / unconfirmed: chunks since the previous event of that kind, and why */
  count?: number;
  cause?: 'queueFull' | 'closed' | 'streamStopped' | UnconfirmedCause;
  /** disconnected: whether the connection had proved itself (a frame confirmed, or up for a while); false = the receiver closes at once */
  proven?: boolean;
  /** disconnected: connections in a row that the receiver ended before any proved itself */
  earlyCloses?: number;
  /** dropped under the stop-stream policy: the rest of this stream is dropped until it completes */
  stopped?: boolean;
  error?: Error;
}

export interface Reply {
  payload: unknown;
  stmId?: string;
  traceId?: string;
  topic?: string;
}

interface Stream {
  key: string;
  stmId: string;
  traceId: string;
  topic?: string;
  chunker: Chunker;
  conn: Link;
  /** stop-stream policy hit: drop this stream's audio until it completes */
  stopped: boolean;
  lastMsg?: Record<string, unknown>;
}

/** Chunks lost or unconfirmed, not reported yet (one event at once, then at most one a second). */
interface Tally {
  pending: number;
  cause?: SenderEvent['cause'];
  /** the one stream the pending chunks belong to; null when they span several */
  who?: { stmId: string; traceId: string; topic?: string } | null;
  timer?: NodeJS.Timeout;
  last: number;
}

type TallyKind = 'dropped' | 'unconfirmed';

/** A connection plus who it belongs to (undefined = shared) and its event throttles. */
interface Link {
  conn: WsConnection;
  owner?: { stmId: string; traceId: string; topic?: string };
  url: string;
  tally: Record<TallyKind, Tally>;
}

export interface SenderSummary {
  /** worst-first state over the connections: open only when every connection is open */
  state: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
  connections: number;
  open: number;
  streams: number;
  queued: number;
  /** audio queued or in flight, in seconds (one decimal) */
  queuedSeconds: number;
  /** frames handed to the socket (first time) */
  written: number;
  /** the same as written (the name of earlier versions) */
  sent: number;
  /** written frames the receiver is known to have read (pong, close handshake or, in ack mode, its acknowledgement) */
  confirmed: number;
  acknowledged: number;
  /** written frames whose connection ended before they were confirmed: maybe received, maybe not */
  unconfirmed: number;
  resent: number;
  dropped: number;
}

/**
 * Events: 'reply' (Reply), 'event' (SenderEvent), 'status' () when anything shown in a status changed.
 */
export class WsSender extends EventEmitter {
  private readonly frames: FrameBuilder;
  private readonly streams: StreamTable<Stream>;
  private readonly links = new Set<Link>();
  private shared: Link | undefined;
  private readonly mode: ConnectionMode;
  private readonly chunkSize: ChunkSize;
  /** queue bound per stream, ms of audio (see boundSharedQueue) */
  private readonly perStreamQueueMs: number;
  private closed = false;
  /** the stream whose chunk is being queued (a drop reported meanwhile is that stream's) */
  private current: Stream | undefined;
  /** counters of connections already closed, so totals do not go backwards */
  private retired = { written: 0, confirmed: 0, acknowledged: 0, unconfirmed: 0, resent: 0, dropped: 0 };
  private readonly ackField: string | undefined;

  constructor(private readonly opts: SenderOptions) {
    super();
    this.mode = opts.target.mode ?? 'shared';
    this.perStreamQueueMs = opts.target.queueMs ?? 30_000;
    this.chunkSize = opts.chunk ?? { ms: 200 };
    // now rather than on the first message (per-stream connections open only then)
    assertChunkSize(this.chunkSize);
    if (opts.target.policy !== undefined) assertDropPolicy(opts.target.policy);
    if (opts.ack && opts.frame?.mode === 'binary') {
      throw new CodedError('ws.ackNeedsJson', 'acknowledgement mode needs JSON frames (the seq field travels in them): choose JSON frames or turn acknowledgements off', {});
    }
    this.ackField = opts.ack ? opts.ack.field || 'ack' : undefined;
    this.frames = new FrameBuilder({ ...opts.frame, seqField: opts.ack ? opts.ack.seqField || 'seq' : undefined });
    this.streams = new StreamTable<Stream>({ idleMs: opts.idleMs ?? 60_000, onIdle: (_k, s) => this.finish(s) });
    if (this.mode === 'shared') {
      this.shared = this.link(opts.target.url);
      this.shared.conn.start();
    } else {
      // fail on a bad URL now (config error) rather than on the first stream
      assertWsUrl(fillTemplate(opts.target.url, {}));
    }
  }

  /**
   * Takes one PCM message. Throws a PcmFormatError (CodedError) for input that is not the
   * contract; the stream's state is then untouched.
   */
  push(msg: Record<string, unknown>): void {
    if (this.closed) return;
    const { format, pcm } = readPcm(msg);
    const key = streamKey(msg);
    if (!format && msg.complete === true && !this.streams.has(key)) return; // nothing to end
    const s = this.streams.get(key, () => this.open(key, msg));
    if (this.shared) this.boundSharedQueue(this.shared.conn.queue);
    s.lastMsg = msg;
    if (typeof msg.traceId === 'string' && msg.traceId) s.traceId = msg.traceId;
    if (format && pcm.length) {
      const ts = typeof msg.timestamp === 'number' ? msg.timestamp : undefined;
      for (const c of s.chunker.push(pcm, format, ts)) this.sendChunk(s, c.pcm, c.format, c.timestamp, c.seq);
    }
    if (msg.complete === true) {
      this.streams.delete(key);
      this.finish(s);
    }
  }

  summary(): SenderSummary {
    const order: Array<SenderSummary['state']> = ['closed', 'reconnecting', 'connecting', 'idle', 'open'];
    let state: SenderSummary['state'] = this.closed ? 'closed' : this.mode === 'shared' ? 'connecting' : 'idle';
    let open = 0;
    let queued = 0;
    let queuedMs = 0;
    const c = { ...this.retired };
    let worst = order.length;
    for (const l of this.links) {
      const st = l.conn.state === 'closing' ? 'closed' : l.conn.state;
      if (st === 'open') open++;
      worst = Math.min(worst, order.indexOf(st));
      queued += l.conn.depth;
      queuedMs += l.conn.depthMs;
      for (const k of Object.keys(c) as Array<keyof typeof c>) c[k] += l.conn.counters[k];
    }
    if (!this.closed && worst < order.length) state = order[worst];
    return { state, connections: this.links.size, open, streams: this.streams.size, queued, queuedSeconds: Math.round(queuedMs / 100) / 10, ...c, sent: c.written };
  }

  /** Flushes or drops (per closePolicy) and closes every connection; resolves when all sockets are closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    const flush = (this.opts.closePolicy ?? 'flush') === 'flush';
    for (const [, s] of this.streams.clear()) {
      const tail = s.chunker.flush();
      if (!tail) continue;
      if (flush) this.sendChunk(s, tail.pcm, tail.format, tail.timestamp, tail.seq);
      else {
        s.conn.conn.counters.dropped++;
        this.note('dropped', s.conn, 1, 'closed', s);
      }
    }
    this.closed = true;
    const flushMs = flush ? Math.min(this.opts.flushTimeoutMs ?? 5000, 10_000) : 0;
    await Promise.all([...this.links].map((l) => l.conn.close(flushMs, 1001)));
    // what the throttle still holds is reported now: the events add up to the counters
    for (const l of this.links) for (const k of ['dropped', 'unconfirmed'] as const) this.flushTally(l, k);
    this.emit('status');
  }

  private open(key: string, msg: Record<string, unknown>): Stream {
    const stmId = msg.stmId !== undefined && msg.stmId !== null && msg.stmId !== '' ? String(msg.stmId) : key;
    const traceId = typeof msg.traceId === 'string' ? msg.traceId : '';
    const topic = typeof msg.topic === 'string' ? msg.topic : undefined;
    let link = this.shared;
    if (!link) {
      const url = fillTemplate(this.opts.target.url, { stmId, traceId, topic: topic ?? '', key }, encodeURIComponent);
      link = this.link(url, { stmId, traceId, topic });
      link.conn.start();
    }
    link.conn.resetAck(key);
    return { key, stmId, traceId, topic, chunker: new Chunker(this.chunkSize), conn: link, stopped: false };
  }

  private sendChunk(s: Stream, pcm: Buffer, format: PcmFormat, timestamp: number | undefined, seq: number): void {
    const ms = msForBytes(format, pcm.length);
    if (s.stopped) {
      s.conn.conn.counters.dropped++;
      this.note('dropped', s.conn, 1, 'streamStopped', s);
      return;
    }
    const timestampMs = timestamp ?? Date.now();
    const data = this.frames.chunk(pcm, format, { stmId: s.stmId, traceId: s.traceId, topic: s.topic, timestampMs, seq, msg: s.lastMsg });
    this.current = s;
    try {
      s.conn.conn.send({ data, key: s.key, ms, seq, ts: timestampMs / 1000 });
    } finally {
      this.current = undefined;
    }
  }

  /**
   * The queue bound is per stream (the target's queue seconds for each stream): a shared
   * connection's queue holds that much for every stream using it, so a shared connection carrying
   * 250 streams rides out the same outage as a per-stream one (a bound for all streams together
   * was 0.12 s per stream there, and bench/whep dropped chunks at every hiccup of the server). It
   * grows at once with the streams; it shrinks only once the queue is empty, so streams that end
   * never make the queue drop audio it had already accepted.
   */
  private boundSharedQueue(q: BoundedQueue): void {
    const want = this.perStreamQueueMs * Math.max(1, this.streams.size);
    if (want > q.maxMs || (want < q.maxMs && q.length === 0)) q.maxMs = want;
  }

  /** The stream ended (complete or idle): partial chunk, end frame, and per-stream connection close after drain. */
  private finish(s: Stream): void {
    const tail = s.chunker.flush();
    if (tail) this.sendChunk(s, tail.pcm, tail.format, tail.timestamp, tail.seq);
    const end = this.frames.end({ stmId: s.stmId, traceId: s.traceId, topic: s.topic, timestampMs: Date.now() });
    if (end !== undefined) s.conn.conn.send({ data: end, key: s.key, ms: 0 });
    if (s.conn !== this.shared) void this.retire(s.conn);
  }

  /**
   * Closes a per-stream connection once its queue has drained (bounded by the queue's own length
   * in time) and the receiver had its chance to answer the last frame: the connection lingers,
   * reading replies, until the receiver closes it or lingerMs passes (see WsConnection.close).
   */
  private async retire(l: Link): Promise<void> {
    const c = l.conn;
    await c.close(c.queue.maxMs + 10_000, 1000, this.opts.target.lingerMs ?? DEFAULT_LINGER_MS);
    for (const k of ['dropped', 'unconfirmed'] as const) this.flushTally(l, k);
    for (const k of Object.keys(this.retired) as Array<keyof WsSender['retired']>) this.retired[k] += c.counters[k];
    this.links.delete(l);
    this.emit('status');
  }

  private link(url: string, owner?: Link['owner']): Link {
    const conn = new WsConnection({ ...this.opts.target, url, ack: this.opts.ack ? { by: this.opts.ack.by } : undefined });
    const l: Link = { conn, owner, url: redactUrl(url), tally: { dropped: { pending: 0, last: 0 }, unconfirmed: { pending: 0, last: 0 } } };
    this.links.add(l);
    const ev = (event: SenderEventName, extra: Partial<SenderEvent> = {}) => {
      this.emit('event', { event, url: l.url, ...(owner ?? {}), counters: conn.countersNow, ...extra } as SenderEvent);
    };
    conn.on('connected', () => ev('connected'));
    conn.on('disconnected', (d: { code: number; reason: string; proven: boolean; earlyCloses: number }) => ev('disconnected', d));
    conn.on('reconnecting', (d: { delayMs: number; attempt: number }) => ev('reconnecting', d));
    conn.on('failed', (error: Error) => ev('error', { error }));
    conn.on('dropped', (items: QueueItem[], cause: 'queueFull' | 'closed') => {
      const n = items.filter((i) => i.ms > 0).length;
      if (!n) return;
      // stop-stream rejects only the chunk being queued: its stream stops until it completes
      const s = this.current;
      if (s && cause === 'queueFull' && conn.queue.policy === 'stop-stream') {
        s.stopped = true;
        this.note('dropped', l, n, cause, s, true);
        return;
      }
      // drop-oldest may drop other streams' chunks: name a stream only when all were its own
      const keys = new Set(items.map((i) => i.key));
      const only = keys.size === 1 ? this.streams.peek([...keys][0]) : undefined;
      this.note('dropped', l, n, cause, only, false, keys.size > 1);
    });
    conn.on('unconfirmed', (items: QueueItem[], cause: UnconfirmedCause) => {
      const keys = new Set(items.map((i) => i.key));
      const only = keys.size === 1 ? this.streams.peek([...keys][0]) : undefined;
      this.note('unconfirmed', l, items.length, cause, only, false, keys.size > 1);
    });
    conn.on('state', () => this.emit('status'));
    // no status on 'drained': it fires after nearly every chunk; the node samples queue depth on a timer
    conn.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      let payload: unknown = buf;
      if (!isBinary) {
        const text = buf.toString('utf8');
        try {
          payload = JSON.parse(text);
        } catch {
          payload = text;
        }
      }
      const reply: Reply = { payload };
      if (this.ackField && payload && typeof payload === 'object') this.takeAck(conn, owner, payload as Record<string, unknown>);
      // a per-stream connection's replies are its stream's; on a shared connection, a JSON reply
      // that names a live stream (under the frames' stmId field name) is attributed to it
      const named = !owner && payload && typeof payload === 'object' ? (payload as Record<string, unknown>)[this.frames.fields.stmId || 'stmId'] : undefined;
      const s = typeof named === 'string' || typeof named === 'number' ? this.streams.peek(String(named)) : undefined;
      const who = owner ?? (s ? { stmId: s.stmId, traceId: s.traceId, topic: s.topic } : undefined);
      if (who) {
        reply.stmId = who.stmId;
        reply.traceId = who.traceId;
        if (who.topic !== undefined) reply.topic = who.topic;
      }
      this.emit('reply', reply);
    });
    return l;
  }

  /** Ack mode: a reply naming the last seq (or timestamp) its stream consumed releases those frames. */
  private takeAck(conn: WsConnection, owner: Link['owner'], reply: Record<string, unknown>): void {
    const raw = reply[this.ackField!];
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(value)) return;
    const named = reply[this.frames.fields.stmId || 'stmId'];
    const key = owner ? owner.stmId : typeof named === 'string' || typeof named === 'number' ? String(named) : undefined;
    if (key !== undefined) conn.ack(key, value);
  }

  /** Counts chunks into one event of its kind: the first at once, then at most one per second per connection. */
  private note(kind: TallyKind, l: Link, n: number, cause: SenderEvent['cause'], s?: Stream, stopped = false, mixed = false): void {
    const t = l.tally[kind];
    // one event says one cause: what is pending for another cause is reported first
    if (t.pending && t.cause !== cause) this.flushTally(l, kind);
    t.pending += n;
    t.cause = cause;
    const who = mixed || !s ? null : { stmId: s.stmId, traceId: s.traceId, topic: s.topic };
    if (t.who === undefined) t.who = who;
    else if (!who || !t.who || t.who.stmId !== who.stmId) t.who = null;
    this.emit('status');
    const now = Date.now();
    if (stopped || now - t.last >= 1000 || cause === 'closed' || cause === 'connectionLost') this.flushTally(l, kind, stopped);
    else if (!t.timer) {
      t.timer = setTimeout(() => this.flushTally(l, kind), 1000 - (now - t.last));
      t.timer.unref();
    }
  }

  private flushTally(l: Link, kind: TallyKind, stopped = false): void {
    const t = l.tally[kind];
    clearTimeout(t.timer);
    t.timer = undefined;
    if (!t.pending) return;
    const who = l.owner ?? t.who ?? {};
    const e: SenderEvent = { event: kind, url: l.url, ...who, counters: l.conn.countersNow, count: t.pending, cause: t.cause };
    if (stopped) e.stopped = true;
    t.pending = 0;
    t.who = undefined;
    t.last = Date.now();
    this.emit('event', e);
  }
}
