/**
 * One WebSocket connection to a target that keeps itself up: connects with `ws`, reconnects with
 * the package's Backoff, detects dead peers with ping/pong, and sends from a bounded queue so
 * that what is accepted while the connection is down goes out, in order, once it is back.
 *
 * Delivery: a frame counts as sent when `ws` has handed it to the socket (its send callback).
 * Frames handed over but not confirmed when the connection closes go back to the head of the
 * queue, so a server that closes (restarts, redeploys) gets every frame exactly once. A frame the
 * kernel accepted before an abrupt reset (no close handshake) cannot be told apart from a
 * received one; that is TCP's limit, not ours.
 */
import { redactUrl } from '../util/redact';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { Backoff } from '../util/backoff';
import { CodedError } from '../util/errors';
import type { DropPolicy, QueueItem } from './queue';
import { BoundedQueue } from './queue';

export interface ConnectionOptions {
  url: string;
  /** extra HTTP headers of the upgrade request (e.g. Authorization); never logged or reported */
  headers?: Record<string, string>;
  protocols?: string[];
  /** verify the server's TLS certificate (wss://); default true */
  rejectUnauthorized?: boolean;
  /** opening handshake timeout (ms); default 10000 */
  connectTimeoutMs?: number;
  /** ping every this many ms; a peer that has not answered the previous ping by then is dead. 0 = off; default 15000 */
  pingIntervalMs?: number;
  perMessageDeflate?: boolean;
  /**
   * Mask client frames with an all-zero key instead of a random one: less CPU and latency per
   * frame (bench/ws). RFC 6455 wants random keys so that script-controlled bytes cannot poison
   * intermediaries' caches; off by default, for servers reached over trusted networks.
   */
  zeroMask?: boolean;
  /** reconnect back-off (ms); defaults 500 → 30000 */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** queue bound in ms of audio (default 30000; WsSender raises a shared connection's per stream) and what to do when it is full */
  queueMs?: number;
  policy?: DropPolicy;
}

/**
 * Whether frames handed to one connection in the same event-loop turn leave in one system call
 * (see WsConnection.batch). On by default; the switch exists for the side-by-side benchmark
 * (bench/whep --alternate ";ws-batch").
 */
let batchWrites = true;
export function setWriteBatching(on: boolean): void {
  batchWrites = on;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

export interface ConnectionCounters {
  sent: number;
  dropped: number;
  queued: number;
  reconnects: number;
}

/**
 * Events: 'connected' (), 'disconnected' ({code, reason}), 'reconnecting' ({delayMs, attempt}),
 * 'dropped' (items, reason), 'failed' (Error: could not connect / socket error), 'message' (data, isBinary),
 * 'state' (), 'drained' () when the queue and in-flight frames are empty.
 */
export class WsConnection extends EventEmitter {
  state: ConnectionState = 'idle';
  readonly queue: BoundedQueue;
  readonly counters = { sent: 0, dropped: 0, reconnects: 0 };
  private ws: WebSocket | undefined;
  /** the TCP (or TLS) socket under `ws`, from its 'upgrade' event: corked while a turn's frames gather */
  private socket: Socket | undefined;
  private corked = false;
  /** frames handed to ws whose send callback has not confirmed them yet, in order */
  private inflight: QueueItem[] = [];
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private everOpened = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** ends a close()'s wait for the queue to drain early */
  private endFlush: (() => void) | undefined;

  constructor(readonly opts: ConnectionOptions) {
    super();
    assertWsUrl(opts.url);
    this.queue = new BoundedQueue(opts.queueMs ?? 30_000, opts.policy ?? 'drop-oldest');
    this.backoff = new Backoff({ initialMs: opts.backoffInitialMs ?? 500, maxMs: opts.backoffMaxMs ?? 30_000 });
  }

  get countersNow(): ConnectionCounters {
    return { ...this.counters, queued: this.depth };
  }

  /** Frames waiting or in flight. */
  get depth(): number {
    return this.queue.length + this.inflight.length;
  }

  /** Audio waiting or in flight, in ms. */
  get depthMs(): number {
    let ms = this.queue.ms;
    for (const i of this.inflight) ms += i.ms;
    return ms;
  }

  /** Opens the connection (idempotent). */
  start(): void {
    if (this.state === 'idle') this.connect();
  }

  /**
   * Queues a frame and sends it when the connection is open. Returns false when the queue was
   * full and this frame was not accepted (drop-newest / stop-stream); dropped frames are also
   * reported through 'dropped'.
   */
  send(item: QueueItem): boolean {
    if (this.closed) {
      this.drop([item], 'closed');
      return false;
    }
    const r = this.queue.push(item);
    if (r.dropped.length) this.drop(r.dropped, 'queueFull');
    this.start();
    this.pump();
    return r.accepted;
  }

  /**
   * Closes the connection. With `flushMs` > 0, first waits (at most that long) for queued frames
   * to go out; whatever is left is dropped and counted. Resolves once the socket is closed.
   */
  close(flushMs = 0, code = 1000): Promise<void> {
    if (this.closing) {
      // already closing (e.g. a per-stream connection draining when the node is redeployed):
      // the earlier deadline wins
      const end = this.endFlush;
      if (end) {
        if (flushMs > 0) setTimeout(end, flushMs).unref();
        else end();
      }
      return this.closing;
    }
    this.closing = this.shutdown(flushMs, code);
    return this.closing;
  }

  private async shutdown(flushMs: number, code: number): Promise<void> {
    if (flushMs > 0 && this.depth > 0 && this.state !== 'idle') {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.off('drained', done);
          this.endFlush = undefined;
          resolve();
        };
        const t = setTimeout(done, flushMs);
        this.endFlush = done;
        this.on('drained', done);
      });
    }
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.stopPing();
    const left = [...this.inflight, ...this.queue.drain()];
    this.inflight = [];
    if (left.length) this.drop(left, 'closed');
    const ws = this.ws;
    this.setState('closing');
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        // a peer that never answers the close handshake is cut off after 2 s
        const t = setTimeout(() => ws.terminate(), 2000);
        ws.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws.close(code);
      });
    }
    this.ws = undefined;
    this.setState('closed');
  }

  private connect(): void {
    if (this.closed) return;
    this.setState(this.everOpened || this.backoff.attempts > 0 ? 'reconnecting' : 'connecting');
    const o = this.opts;
    let ws: WebSocket;
    try {
      ws = new WebSocket(o.url, o.protocols && o.protocols.length ? o.protocols : undefined, {
        headers: o.headers,
        rejectUnauthorized: o.rejectUnauthorized ?? true,
        handshakeTimeout: o.connectTimeoutMs ?? 10_000,
        perMessageDeflate: o.perMessageDeflate ?? false,
        // an all-zero key makes ws skip masking and the string-to-Buffer copy (see zeroMask)
        ...(o.zeroMask ? { generateMask: (m: Buffer) => void m.fill(0) } : {}),
      });
    } catch (err) {
      this.fail(err as Error);
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    this.socket = undefined;
    // the response of the opening handshake carries the socket ws then writes to (public API;
    // ws itself keeps it in an internal field)
    ws.on('upgrade', (res) => {
      if (this.ws === ws) this.socket = res.socket as Socket;
    });
    ws.on('open', () => {
      if (this.ws !== ws) return;
      if (this.everOpened) this.counters.reconnects++;
      this.everOpened = true;
      this.backoff.reset();
      this.setState('open');
      this.emit('connected');
      this.startPing(ws);
      this.pump();
    });
    ws.on('message', (data, isBinary) => this.emit('message', data, isBinary));
    ws.on('pong', () => {
      this.awaitingPong = false;
    });
    ws.on('error', (err) => {
      if (this.ws === ws) this.fail(err);
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.socket = undefined;
      this.stopPing();
      // what ws had not confirmed goes back first, in order: sent again after reconnecting
      this.queue.unshift(this.inflight);
      this.inflight = [];
      const wasOpen = this.state === 'open';
      if (this.closed) return;
      if (wasOpen) this.emit('disconnected', { code, reason: reason.toString() });
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    const delayMs = this.backoff.next();
    this.setState('reconnecting');
    this.emit('reconnecting', { delayMs, attempt: this.backoff.attempts });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  /** Hands queued frames to ws while the socket is open; each confirmation pulls the next ones. */
  private pump(): void {
    const ws = this.ws;
    if (!ws || this.state !== 'open') return;
    // keep at most ~1 MB in ws/kernel buffers so a slow peer backs up into our bounded queue
    while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 1 << 20) {
      const item = this.queue.shift();
      if (!item) break;
      this.inflight.push(item);
      this.batch();
      ws.send(item.data, { binary: typeof item.data !== 'string' }, (err) => {
        if (err || this.ws !== ws) return; // left in flight: re-queued when the close arrives
        const i = this.inflight.indexOf(item);
        if (i < 0) return;
        this.inflight.splice(i, 1);
        this.counters.sent++;
        if (this.inflight.length === 0 && this.queue.length === 0) this.emit('drained');
        else if (this.queue.length > 0) this.pump();
      });
    }
  }

  /**
   * Corks the socket until the end of this event-loop turn, so that every frame sent to this
   * connection meanwhile goes out in one writev instead of a system call each. A shared
   * connection carries many streams whose packets arrive together (one poll of the event loop
   * handles every UDP socket that is ready), so their chunks often complete in the same turn:
   * about 3 frames per write at 50 streams in bench/whep, for 1–11 % less CPU (`--alternate
   * ";ws-batch"`, within the noise in some runs). A frame waits at most until the turn ends
   * (setImmediate), microseconds.
   */
  private batch(): void {
    const socket = this.socket;
    if (!batchWrites || this.corked || !socket || socket.destroyed) return;
    this.corked = true;
    socket.cork();
    setImmediate(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  private startPing(ws: WebSocket): void {
    const every = this.opts.pingIntervalMs ?? 15_000;
    if (!(every > 0)) return;
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) {
        // no pong for a whole interval: the peer or the path is dead; close fast and reconnect
        this.fail(new CodedError('ws.deadPeer', `no pong from the server within ${every} ms: reconnecting`, { ms: every }));
        ws.terminate();
        return;
      }
      this.awaitingPong = true;
      try {
        ws.ping();
      } catch {
        /* closing: the close handler takes over */
      }
    }, every);
    this.pingTimer.unref();
  }

  private stopPing(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private drop(items: QueueItem[], reason: 'queueFull' | 'closed'): void {
    const audio = items.filter((i) => i.ms > 0).length;
    this.counters.dropped += audio;
    this.emit('dropped', items, reason);
  }

  private fail(err: Error): void {
    this.emit('failed', err);
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state');
  }
}

/** Throws ws.badUrl unless `url` is a ws:// or wss:// URL (checked before anything connects). */
export function assertWsUrl(url: string): void {
  if (!/^wss?:\/\//i.test(url)) {
    throw new CodedError('ws.badUrl', `WebSocket URL must start with ws:// or wss://, got "${redactUrl(url)}"`, { url: redactUrl(url) });
  }
}

export { redactUrl };
