/**
 * The engine of `base64-ws-out`, usable from plain Node: accepts PCM messages (the package's
 * contract), accumulates each stream to fixed chunks, turns chunks into frames and sends them over
 * one shared connection or one connection per stream, and reports replies and events.
 */
import { EventEmitter } from 'node:events';
import type { ChunkSize, PcmFormat } from '../pcm';
import { Chunker, StreamTable, assertChunkSize, msForBytes, readPcm, streamKey } from '../pcm';
import type { ConnectionCounters, ConnectionOptions } from './connection';
import { WsConnection, assertWsUrl, redactUrl } from './connection';
import type { FrameOptions } from './frame';
import { FrameBuilder, fillTemplate } from './frame';
import type { BoundedQueue, QueueItem } from './queue';
import { assertDropPolicy } from './queue';

export type ConnectionMode = 'shared' | 'per-stream';

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
}

export type SenderEventName = 'connected' | 'disconnected' | 'reconnecting' | 'dropped' | 'error';

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
  /** dropped: chunks dropped since the previous 'dropped' event, and why */
  count?: number;
  cause?: 'queueFull' | 'closed' | 'streamStopped';
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

/** A connection plus who it belongs to (undefined = shared) and its drop-event throttle. */
interface Link {
  conn: WsConnection;
  owner?: { stmId: string; traceId: string; topic?: string };
  url: string;
  pendingDrops: number;
  pendingCause?: SenderEvent['cause'];
  /** the one stream the pending drops belong to; null when they span several */
  pendingWho?: { stmId: string; traceId: string; topic?: string } | null;
  dropTimer?: NodeJS.Timeout;
  lastDropEvent: number;
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
  sent: number;
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
  private retired = { sent: 0, dropped: 0 };

  constructor(private readonly opts: SenderOptions) {
    super();
    this.mode = opts.target.mode ?? 'shared';
    this.perStreamQueueMs = opts.target.queueMs ?? 30_000;
    this.chunkSize = opts.chunk ?? { ms: 200 };
    // now rather than on the first message (per-stream connections open only then)
    assertChunkSize(this.chunkSize);
    if (opts.target.policy !== undefined) assertDropPolicy(opts.target.policy);
    this.frames = new FrameBuilder(opts.frame);
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
    let sent = this.retired.sent;
    let dropped = this.retired.dropped;
    let worst = order.length;
    for (const l of this.links) {
      const st = l.conn.state === 'closing' ? 'closed' : l.conn.state;
      if (st === 'open') open++;
      worst = Math.min(worst, order.indexOf(st));
      queued += l.conn.depth;
      queuedMs += l.conn.depthMs;
      sent += l.conn.counters.sent;
      dropped += l.conn.counters.dropped;
    }
    if (!this.closed && worst < order.length) state = order[worst];
    return { state, connections: this.links.size, open, streams: this.streams.size, queued, queuedSeconds: Math.round(queuedMs / 100) / 10, sent, dropped };
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
        this.noteDrop(s.conn, 1, 'closed', s);
      }
    }
    this.closed = true;
    const flushMs = flush ? Math.min(this.opts.flushTimeoutMs ?? 5000, 10_000) : 0;
    await Promise.all([...this.links].map((l) => l.conn.close(flushMs, 1001)));
    for (const l of this.links) clearTimeout(l.dropTimer);
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
    return { key, stmId, traceId, topic, chunker: new Chunker(this.chunkSize), conn: link, stopped: false };
  }

  private sendChunk(s: Stream, pcm: Buffer, format: PcmFormat, timestamp: number | undefined, seq: number): void {
    const ms = msForBytes(format, pcm.length);
    if (s.stopped) {
      s.conn.conn.counters.dropped++;
      this.noteDrop(s.conn, 1, 'streamStopped', s);
      return;
    }
    const data = this.frames.chunk(pcm, format, { stmId: s.stmId, traceId: s.traceId, topic: s.topic, timestampMs: timestamp ?? Date.now(), msg: s.lastMsg });
    this.current = s;
    try {
      s.conn.conn.send({ data, key: s.key, ms, seq });
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

  /** Closes a per-stream connection once its queue has drained (bounded by the queue's own length in time). */
  private async retire(l: Link): Promise<void> {
    const c = l.conn;
    await c.close(c.queue.maxMs + 10_000, 1000);
    if (l.pendingDrops) this.flushDropEvent(l);
    clearTimeout(l.dropTimer);
    this.retired.sent += c.counters.sent;
    this.retired.dropped += c.counters.dropped;
    this.links.delete(l);
    this.emit('status');
  }

  private link(url: string, owner?: Link['owner']): Link {
    const conn = new WsConnection({ ...this.opts.target, url });
    const l: Link = { conn, owner, url: redactUrl(url), pendingDrops: 0, lastDropEvent: 0 };
    this.links.add(l);
    const ev = (event: SenderEventName, extra: Partial<SenderEvent> = {}) => {
      this.emit('event', { event, url: l.url, ...(owner ?? {}), counters: conn.countersNow, ...extra } as SenderEvent);
    };
    conn.on('connected', () => ev('connected'));
    conn.on('disconnected', (d: { code: number; reason: string }) => ev('disconnected', d));
    conn.on('reconnecting', (d: { delayMs: number; attempt: number }) => ev('reconnecting', d));
    conn.on('failed', (error: Error) => ev('error', { error }));
    conn.on('dropped', (items: QueueItem[], cause: 'queueFull' | 'closed') => {
      const n = items.filter((i) => i.ms > 0).length;
      if (!n) return;
      // stop-stream rejects only the chunk being queued: its stream stops until it completes
      const s = this.current;
      if (s && cause === 'queueFull' && conn.queue.policy === 'stop-stream') {
        s.stopped = true;
        this.noteDrop(l, n, cause, s, true);
        return;
      }
      // drop-oldest may drop other streams' chunks: name a stream only when all were its own
      const keys = new Set(items.map((i) => i.key));
      const only = keys.size === 1 ? this.streams.peek([...keys][0]) : undefined;
      this.noteDrop(l, n, cause, only, false, keys.size > 1);
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

  /** Counts drops into one 'dropped' event: the first at once, then at most one per second per connection. */
  private noteDrop(l: Link, n: number, cause: SenderEvent['cause'], s?: Stream, stopped = false, mixed = false): void {
    l.pendingDrops += n;
    l.pendingCause = cause;
    const who = mixed || !s ? null : { stmId: s.stmId, traceId: s.traceId, topic: s.topic };
    if (l.pendingWho === undefined) l.pendingWho = who;
    else if (!who || !l.pendingWho || l.pendingWho.stmId !== who.stmId) l.pendingWho = null;
    this.emit('status');
    const now = Date.now();
    if (stopped || now - l.lastDropEvent >= 1000 || cause === 'closed') this.flushDropEvent(l, stopped);
    else if (!l.dropTimer) {
      l.dropTimer = setTimeout(() => this.flushDropEvent(l), 1000 - (now - l.lastDropEvent));
      l.dropTimer.unref();
    }
  }

  private flushDropEvent(l: Link, stopped = false): void {
    clearTimeout(l.dropTimer);
    l.dropTimer = undefined;
    if (!l.pendingDrops) return;
    const who = l.owner ?? l.pendingWho ?? {};
    const e: SenderEvent = { event: 'dropped', url: l.url, ...who, counters: l.conn.countersNow, count: l.pendingDrops, cause: l.pendingCause };
    if (stopped) e.stopped = true;
    l.pendingDrops = 0;
    l.pendingWho = undefined;
    l.lastDropEvent = Date.now();
    this.emit('event', e);
  }
}
