/**
 * One WebSocket connection to a target that keeps itself up: connects with `ws`, reconnects with
 * the package's Backoff, detects dead peers with ping/pong, and sends from a bounded queue so
 * that what is accepted while the connection is down goes out, in order, once it is back.
 *
 * What a frame's fate can be, and what proves it (the counters say which):
 * - `written`: `ws` handed it to the socket (its send callback). The kernel accepting bytes is
 *   not delivery: a receiver that closes, crashes or resets loses what sat in its own socket
 *   buffer or its WebSocket library's message queue, and TCP never tells the sender which bytes
 *   its application read.
 * - `confirmed`: something after the frame came back from the receiver. Without ack mode that is
 *   the pong to a ping sent after the frame (a WebSocket peer answers a ping when it parses it,
 *   and frames are parsed in order) or the close handshake we start (the peer's Close answers
 *   ours, which followed the frame). This proves that the receiver's WebSocket layer read the
 *   frame; a library that queues messages ahead of its application (Python websockets'
 *   `max_queue`) may still lose those if the application then stops. With ack mode, only the
 *   receiver's acknowledgement confirms (`acknowledged`): the application says it consumed it.
 * - `unconfirmed`: written, and the connection ended (any close code, reset, dead peer) before
 *   the frame was confirmed. It may or may not have been received; it is never counted as
 *   delivered. With ack mode these frames are not given up: they are sent again on the next
 *   connection (`resent`), unchanged (same `seq`), so a receiver drops what it already has;
 *   they become unconfirmed only when the bound forces them out or the node closes.
 * - `dropped`: accepted, never written (queue full, node closed).
 * So after a run, received ≥ written − unconfirmed, and every frame lost is in unconfirmed or
 * dropped.
 */
import { redactUrl } from '../util/redact';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { Backoff } from '../util/backoff';
import { CodedError } from '../util/errors';
import type { DropPolicy, QueueItem } from './queue';
import { BoundedQueue } from './queue';

export interface AckOptions {
  /** compare the acknowledged value with each frame's `seq` (default) or its `timestamp` (seconds, as sent) */
  by?: 'seq' | 'timestamp';
}

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
  /** largest reply (bytes) taken from the server; a larger one is an error and ends the connection (default 1 MiB) */
  maxReplyBytes?: number;
  /** ack mode: frames stay (within the queue bound) until the receiver acknowledges them, and are re-sent after a reconnect */
  ack?: AckOptions;
  /** a connection that stays up this long has proved itself: the back-off starts over (default 10000) */
  provenAfterMs?: number;
  /** while frames wait for confirmation, ping at most this often to confirm them (default 250) */
  probeMs?: number;
  /**
   * Per-stream connections (WsSender): after a stream's last frame, how long the connection stays
   * open for the receiver's last replies before we close it, unless the receiver closes it first
   * (default 5000; 0 = close as soon as everything is sent).
   */
  lingerMs?: number;
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
  /** frames handed to the socket (first time; re-sends are in `resent`) */
  written: number;
  /** the same as `written` (the name of earlier versions) */
  sent: number;
  /** written frames the receiver is known to have read (pong or close handshake, or its ack) */
  confirmed: number;
  /** ack mode: frames the receiver acknowledged */
  acknowledged: number;
  /** written frames whose connection ended (or that were given up) before they were confirmed */
  unconfirmed: number;
  /** ack mode: frames written again after a reconnect */
  resent: number;
  dropped: number;
  queued: number;
  reconnects: number;
}

/** Why a frame was given up unconfirmed: its connection ended, the bound forced it out, or the node closed. */
export type UnconfirmedCause = 'connectionLost' | 'queueFull' | 'closed' | 'noPong';

/** A frame written and waiting for confirmation; `resend` marks one that goes out again (ack mode). */
type Pending = QueueItem & { resend?: boolean };

/**
 * Events: 'connected' (), 'disconnected' ({code, reason, proven, earlyCloses}),
 * 'reconnecting' ({delayMs, attempt}), 'dropped' (items, reason), 'unconfirmed' (items, cause),
 * 'failed' (Error: could not connect / socket error / reply too large), 'message' (data, isBinary),
 * 'state' (), 'drained' () when the queue is empty and nothing waits for confirmation.
 */
export class WsConnection extends EventEmitter {
  state: ConnectionState = 'idle';
  readonly queue: BoundedQueue;
  readonly counters = { written: 0, confirmed: 0, acknowledged: 0, unconfirmed: 0, resent: 0, dropped: 0, reconnects: 0 };
  private ws: WebSocket | undefined;
  /** the TCP (or TLS) socket under `ws`, from its 'upgrade' event: corked while a turn's frames gather */
  private socket: Socket | undefined;
  private corked = false;
  /** frames handed to ws whose send callback has not come yet, in order */
  private inflight: Pending[] = [];
  /** frames written and not yet confirmed, in order (without ack mode: records without their data) */
  private window: Pending[] = [];
  /** audio in `window`, ms (counted against the queue bound in ack mode, where the window keeps the frames) */
  private windowMs = 0;
  /** frames ever put in `window` minus those taken off its front: marks pings with how far they confirm */
  private windowEnd = 0;
  /** pings sent and not answered, oldest first: each confirms the frames written before it */
  private pings: Array<{ id: number; mark: number; at: number }> = [];
  private nextPingId = 1;
  private lastPongAt = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  /** ack mode: per stream key, the highest value acknowledged */
  private acked = new Map<string, number>();
  private readonly ackBy: 'seq' | 'timestamp' | undefined;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private provenTimer: NodeJS.Timeout | undefined;
  /** the peer sent Close and has not closed the socket: cut off after a grace instead of ws's 30 s */
  private closeGrace: NodeJS.Timeout | undefined;
  /** the current connection got a frame through or stayed up long enough: its end restarts the back-off */
  private proven = false;
  /** connections in a row that ended before proving themselves */
  private earlyCloses = 0;
  private everOpened = false;
  private closed = false;
  /**
   * The code of the Close frame we sent while the connection was still open (the peer had not
   * closed first): a Close coming back with the same code answers ours, so the peer read every
   * frame before it. A Close the peer sent on its own (first, or crossing ours) proves nothing:
   * a peer that has sent Close may discard what arrives afterwards (RFC 6455, 5.5.1).
   */
  private ourCloseCode: number | undefined;
  private closing: Promise<void> | undefined;
  /** when close()'s waits (flush, linger) must end at the latest; a later close() brings it forward */
  private stopBy = Infinity;
  /** re-arms the running wait's timer after stopBy moved */
  private rearm: (() => void) | undefined;
  /** close() is waiting, everything sent, for the receiver to close (see close()) */
  private lingering = false;
  /** close() was called again while closing: no linger any more */
  private hurried = false;

  constructor(readonly opts: ConnectionOptions) {
    super();
    assertWsUrl(opts.url);
    this.queue = new BoundedQueue(opts.queueMs ?? 30_000, opts.policy ?? 'drop-oldest');
    this.backoff = new Backoff({ initialMs: opts.backoffInitialMs ?? 500, maxMs: opts.backoffMaxMs ?? 30_000 });
    this.ackBy = opts.ack ? (opts.ack.by ?? 'seq') : undefined;
  }

  get countersNow(): ConnectionCounters {
    return { ...this.counters, sent: this.counters.written, queued: this.depth };
  }

  /** Frames waiting, in flight or (ack mode) waiting for their acknowledgement. */
  get depth(): number {
    return this.queue.length + this.inflight.length + (this.ackBy ? this.window.length : 0);
  }

  /** Audio waiting, in flight or (ack mode) unacknowledged, in ms. */
  get depthMs(): number {
    let ms = this.queue.ms;
    for (const i of this.inflight) ms += i.ms;
    return ms + (this.ackBy ? this.windowMs : 0);
  }

  /** Frames written and not confirmed yet (ack mode: not acknowledged yet). */
  get unconfirmedNow(): number {
    return this.window.filter((i) => i.ms > 0).length;
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
    if (this.ackBy && item.ms > 0 && this.queue.policy === 'drop-oldest') {
      // the unacknowledged frames are the oldest audio: they make room first, given up unconfirmed
      const out: Pending[] = [];
      while (this.window.length && this.queue.ms + this.windowMs + item.ms > this.queue.maxMs) {
        const i = this.window.findIndex((w) => w.ms > 0);
        if (i < 0) break;
        const [gone] = this.window.splice(i, 1);
        this.windowMs -= gone.ms;
        out.push(gone);
      }
      if (out.length) this.giveUp(out, 'queueFull');
    }
    this.queue.extraMs = this.ackBy ? this.windowMs : 0;
    const r = this.queue.push(item);
    if (r.dropped.length) this.settleDropped(r.dropped, 'queueFull');
    this.start();
    this.pump();
    return r.accepted;
  }

  /**
   * Ack mode: the receiver consumed every frame of stream `key` up to `value` (a `seq`, or a
   * timestamp in seconds). Returns how many frames this acknowledged.
   */
  ack(key: string, value: number): number {
    if (!this.ackBy || !Number.isFinite(value)) return 0;
    const prev = this.acked.get(key);
    if (prev === undefined || value > prev) this.acked.set(key, value);
    const before = this.counters.acknowledged;
    this.window = this.window.filter((w) => {
      if (w.key !== key || !this.isAcked(w)) return true;
      this.windowMs -= w.ms;
      if (w.ms > 0) {
        this.counters.acknowledged++;
        this.counters.confirmed++;
      }
      return false;
    });
    // a control frame (end of stream) is done once no earlier frame of its stream waits
    this.releaseControl(key);
    const n = this.counters.acknowledged - before;
    if (n > 0) this.prove();
    this.checkDrained();
    if (n > 0 && this.queue.length) this.pump();
    return n;
  }

  /** Ack mode: a new stream under `key` starts its `seq` again at 0. */
  resetAck(key: string): void {
    this.acked.delete(key);
  }

  /**
   * Closes the connection. With `flushMs` > 0, first waits (at most that long) for queued frames
   * to go out (ack mode: to be acknowledged); whatever is left is dropped or given up unconfirmed,
   * and counted. With `lingerMs` > 0 and everything sent, the connection then stays open (at most
   * that long), reading replies, until the receiver closes it: a receiver may answer only once it
   * has the last frame (an ASR service's final result), and after our Close it can no longer send
   * (RFC 6455, 5.5.1). A later close() shortens the flush (the earlier deadline wins) and ends
   * or skips the linger. Resolves
   * once the socket is closed.
   */
  close(flushMs = 0, code = 1000, lingerMs = 0): Promise<void> {
    if (this.closing) {
      // already closing (e.g. a per-stream connection draining or lingering when the node is
      // redeployed): the earlier deadline wins, and a linger (nothing left to send, only replies
      // awaited) ends at once or is skipped
      this.hurried = true;
      this.stopBy = Math.min(this.stopBy, Date.now() + (this.lingering ? 0 : Math.max(0, flushMs)));
      this.rearm?.();
      return this.closing;
    }
    this.closing = this.shutdown(flushMs, code, lingerMs);
    return this.closing;
  }

  /** Waits for `event`, at most `ms` and never past `stopBy` (which a later close() may bring forward). */
  private waitFor(event: 'drained' | 'peerClosed', ms: number): Promise<void> {
    const end = Date.now() + ms;
    return new Promise<void>((resolve) => {
      let t: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(t);
        this.off(event, done);
        this.rearm = undefined;
        resolve();
      };
      const arm = () => {
        clearTimeout(t);
        const left = Math.min(end, this.stopBy) - Date.now();
        if (left <= 0) done();
        else t = setTimeout(done, left);
      };
      this.rearm = arm;
      this.on(event, done);
      arm();
    });
  }

  private async shutdown(flushMs: number, code: number, lingerMs: number): Promise<void> {
    if (flushMs > 0 && this.busy() && this.state !== 'idle') await this.waitFor('drained', flushMs);
    if (lingerMs > 0 && !this.hurried && !this.busy() && this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.lingering = true;
      // confirm what was written now, while the receiver still answers pings (a receiver that
      // closes on its own proves nothing about the frames before its Close)
      if (!this.ackBy && this.window.length && !this.pings.length) this.sendPing(this.ws);
      await this.waitFor('peerClosed', lingerMs);
      this.lingering = false;
    }
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.provenTimer);
    clearTimeout(this.probeTimer);
    this.stopPing();
    // never handed to ws: dropped; handed over: they leave before our Close frame and are
    // settled by how the close ends (see the 'close' handler)
    const left = this.queue.drain();
    if (left.length) this.settleDropped(left, 'closed');
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
        else {
          if (ws.readyState === WebSocket.OPEN) this.ourCloseCode = code;
          ws.close(code);
        }
      });
    }
    // whatever is still unsettled (no socket, or settled above) is given up
    const rest = [...this.window, ...this.inflight];
    this.window = [];
    this.windowMs = 0;
    this.inflight = [];
    if (rest.length) this.giveUp(rest, 'closed');
    this.ws = undefined;
    this.setState('closed');
  }

  /** Frames queued, in flight, or (ack mode) unacknowledged. */
  private busy(): boolean {
    return this.queue.length > 0 || this.inflight.length > 0 || (this.ackBy !== undefined && this.window.length > 0);
  }

  private checkDrained(): void {
    if (!this.busy()) this.emit('drained');
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
        // ws stops reading a message at this size: closes with 1009 and reports an error
        maxPayload: o.maxReplyBytes ?? 1 << 20,
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
    this.proven = false;
    this.pings = [];
    // the response of the opening handshake carries the socket ws then writes to (public API;
    // ws itself keeps it in an internal field)
    ws.on('upgrade', (res) => {
      if (this.ws === ws) this.socket = res.socket as Socket;
    });
    ws.on('open', () => {
      if (this.ws !== ws) return;
      if (this.everOpened) this.counters.reconnects++;
      this.everOpened = true;
      // the back-off starts over only once this connection proves itself (prove()): a receiver
      // that accepts and closes at once (bad token, quota) is retried ever more slowly
      clearTimeout(this.provenTimer);
      this.provenTimer = setTimeout(() => this.prove(), this.opts.provenAfterMs ?? 10_000);
      this.provenTimer.unref();
      this.setState('open');
      this.emit('connected');
      this.startPing(ws);
      this.pump();
    });
    ws.on('message', (data, isBinary) => this.emit('message', data, isBinary));
    ws.on('pong', (data: Buffer) => {
      if (this.ws === ws) this.onPong(data);
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (this.ws !== ws) return;
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        const max = this.opts.maxReplyBytes ?? 1 << 20;
        this.fail(new CodedError('ws.replyTooLarge', `the server sent a reply larger than ${max} bytes: not passed on, reconnecting`, { max }));
      } else this.fail(err);
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.socket = undefined;
      this.stopPing();
      clearTimeout(this.provenTimer);
      clearTimeout(this.closeGrace);
      this.closeGrace = undefined;
      clearTimeout(this.probeTimer);
      this.probeTimer = undefined;
      this.pings = [];
      const wasOpen = this.state === 'open';
      if (this.lingering) {
        // the receiver ended it after its last replies: the normal end of a lingering connection
        // (no reconnect, no 'disconnected'); what no pong confirmed first stays unconfirmed
        this.closed = true;
        this.settleOnClose(code);
        const rest = this.window;
        this.window = [];
        this.windowMs = 0;
        if (rest.length) this.giveUp(rest, 'connectionLost');
        this.emit('peerClosed');
        return;
      }
      this.settleOnClose(code);
      if (this.closed) return;
      if (!this.proven && wasOpen) this.earlyCloses++;
      if (wasOpen) this.emit('disconnected', { code, reason: reason.toString(), proven: this.proven, earlyCloses: this.earlyCloses });
      if (this.proven) this.backoff.reset();
      this.scheduleRetry();
    });
  }

  /**
   * The connection ended: what was handed to ws but not written goes back to the queue; what was
   * written and not confirmed is confirmed by a completed close handshake we started, re-sent
   * next time (ack mode), or given up as unconfirmed.
   */
  private settleOnClose(code: number): void {
    const notWritten = this.inflight;
    this.inflight = [];
    if (this.closed) {
      // we closed: ws wrote these before our Close frame (or the socket died first)
      for (const i of notWritten) this.written(i);
      // the peer's Close answered ours (same code) only if we sent ours first; 1006 = none came
      if (!this.ackBy && this.ourCloseCode !== undefined && code === this.ourCloseCode) this.confirm(this.window.length);
      return; // shutdown() gives up what is left
    }
    if (this.ackBy) {
      const again = this.window.map((w) => ({ ...w, resend: true }));
      this.window = [];
      this.windowMs = 0;
      this.queue.unshift([...again, ...notWritten]);
      return;
    }
    const lost = this.window;
    this.window = [];
    this.windowMs = 0;
    this.windowEnd = 0;
    if (lost.length) this.giveUp(lost, 'connectionLost');
    this.queue.unshift(notWritten);
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    const delayMs = this.backoff.next();
    this.setState('reconnecting');
    this.emit('reconnecting', { delayMs, attempt: this.backoff.attempts });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  /** This connection got a frame through or stayed up: the back-off starts over when it ends. */
  private prove(): void {
    if (this.proven) return;
    this.proven = true;
    this.earlyCloses = 0;
    clearTimeout(this.provenTimer);
  }

  /** Hands queued frames to ws while the socket is open; each write pulls the next ones. */
  private pump(): void {
    const ws = this.ws;
    if (!ws || this.state !== 'open') return;
    if (ws.readyState === WebSocket.CLOSING && !this.closed && !this.closeGrace) {
      // the peer closed and we answered, but it keeps the socket open (a receiver stuck in its
      // own close): frames would wait for ws's 30 s close timeout; reconnect after 1 s instead
      this.closeGrace = setTimeout(() => ws.terminate(), 1000);
      this.closeGrace.unref();
    }
    // keep at most ~1 MB in ws/kernel buffers so a slow peer backs up into our bounded queue
    while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 1 << 20) {
      const item = this.queue.shift() as Pending | undefined;
      if (!item) break;
      this.inflight.push(item);
      this.batch();
      ws.send(item.data, { binary: typeof item.data !== 'string' }, (err) => {
        if (err || this.ws !== ws) return; // left in flight: settled when the close arrives
        const i = this.inflight.indexOf(item);
        if (i < 0) return;
        this.inflight.splice(i, 1);
        this.written(item);
        if (this.queue.length > 0) this.pump();
        else this.checkDrained();
      });
    }
  }

  /** A frame's send callback: counted, and kept until confirmed. */
  private written(item: Pending): void {
    if (item.ms > 0) {
      if (item.resend) this.counters.resent++;
      else this.counters.written++;
    }
    if (this.ackBy) {
      if (item.ms > 0 && this.isAcked(item)) {
        this.counters.acknowledged++;
        this.counters.confirmed++;
        return;
      }
      this.window.push(item);
      this.windowMs += item.ms;
      if (item.ms === 0) this.releaseControl(item.key);
      return;
    }
    // without ack mode only the record is kept (the frame's data can go): a ping confirms it
    this.window.push({ data: '', key: item.key, ms: item.ms, seq: item.seq });
    this.windowEnd++;
    this.windowMs += item.ms;
    if (!this.closed) this.scheduleProbe();
    // a peer that never answers pings cannot confirm anything: past the bound, records are given up
    if (this.windowMs > this.queue.maxMs) {
      const out: Pending[] = [];
      while (this.windowMs > this.queue.maxMs && this.window.length) {
        const gone = this.window.shift()!;
        this.windowMs -= gone.ms;
        out.push(gone);
      }
      this.giveUp(out, 'noPong');
    }
  }

  private isAcked(item: Pending): boolean {
    const v = this.acked.get(item.key);
    if (v === undefined) return false;
    if (this.ackBy === 'timestamp') return item.ts !== undefined && item.ts <= v + 1e-6;
    return item.seq !== undefined && item.seq <= v;
  }

  /** Ack mode: drops the stream's control frames that no unacknowledged audio precedes. */
  private releaseControl(key: string): void {
    let audioBefore = false;
    this.window = this.window.filter((w) => {
      if (w.key !== key) return true;
      if (w.ms > 0) {
        audioBefore = true;
        return true;
      }
      if (audioBefore) return true;
      // the stream ended and everything it sent is acknowledged: forget its acknowledgements
      this.acked.delete(key);
      return false;
    });
  }

  /** Without ack mode: confirms the first `n` frames of the window. */
  private confirm(n: number): void {
    const done = this.window.splice(0, n);
    this.confirmList(done);
    for (const d of done) this.windowMs -= d.ms;
    if (this.window.length === 0) this.windowMs = 0;
    if (done.some((d) => d.ms > 0)) this.prove();
  }

  private confirmList(items: Pending[]): void {
    for (const d of items) if (d.ms > 0) this.counters.confirmed++;
  }

  /** Written frames that will not be confirmed: counted and reported, never as delivered. */
  private giveUp(items: Pending[], cause: UnconfirmedCause): void {
    const audio = items.filter((i) => i.ms > 0);
    if (!audio.length) return;
    this.counters.unconfirmed += audio.length;
    this.emit('unconfirmed', audio, cause);
  }

  /** Pings soon after frames are written, so that a pong confirms them while the connection is up. */
  private scheduleProbe(): void {
    if (this.probeTimer || this.pings.length) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.ws && this.state === 'open' && this.window.length && !this.pings.length) this.sendPing(this.ws);
    }, this.opts.probeMs ?? 250);
    this.probeTimer.unref();
  }

  private sendPing(ws: WebSocket): void {
    const id = this.nextPingId++;
    this.pings.push({ id, mark: this.windowEnd, at: Date.now() });
    try {
      ws.ping(Buffer.from(String(id)));
    } catch {
      /* closing: the close handler takes over */
    }
  }

  private onPong(data: Buffer): void {
    this.lastPongAt = Date.now();
    const id = Number(data.toString());
    const k = this.pings.findIndex((p) => p.id === id);
    if (k < 0) return; // unsolicited or not ours: liveness only
    const { mark } = this.pings[k];
    this.pings.splice(0, k + 1);
    if (!this.ackBy) {
      // the window's records up to the mark were written before this ping, so the peer read them
      const n = this.window.length - (this.windowEnd - mark);
      if (n > 0) this.confirm(n);
      if (this.window.length) this.scheduleProbe();
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
    this.pingTimer = setInterval(() => {
      const oldest = this.pings[0];
      if (oldest && Date.now() - oldest.at >= every && this.lastPongAt < oldest.at) {
        // no pong for a whole interval: the peer or the path is dead; close fast and reconnect
        this.fail(new CodedError('ws.deadPeer', `no pong from the server within ${every} ms: reconnecting`, { ms: every }));
        ws.terminate();
        return;
      }
      if (!this.pings.length) this.sendPing(ws);
    }, every);
    this.pingTimer.unref();
  }

  private stopPing(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  /** Frames leaving the queue unsent: dropped, or unconfirmed for those written once already (ack mode re-sends). */
  private settleDropped(items: Pending[], reason: 'queueFull' | 'closed'): void {
    const again = items.filter((i) => i.resend);
    if (again.length) this.giveUp(again, reason);
    const never = again.length ? items.filter((i) => !i.resend) : items;
    if (never.length) this.drop(never, reason);
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
