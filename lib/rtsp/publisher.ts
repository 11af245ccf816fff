/**
 * The RTSP publisher behind `push` mode: ANNOUNCE / SETUP / RECORD to an external server
 * (mediamtx, SRS, xiu, `ffmpeg -rtsp_flags listen` …), TCP interleaved by default or UDP, Basic or
 * Digest auth, and reconnect with exponential back-off (lib/util/backoff, capped at 30 s). While it
 * is not publishing, packets handed to it are dropped: the caller's real-time clock keeps going.
 */
import { EventEmitter } from 'node:events';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIP, type LookupFunction, type Socket } from 'node:net';
import { Backoff } from '../util/backoff';
import { CodedError } from '../util/errors';
import { AuthAnswerer, type RtspAuth } from './auth';
import { RtspReader, formatMessage, interleave, interleavedFor, parsePortPair, parseTransport, type RtspMessage } from './message';
import { TRACK_CONTROL } from './sdp';
import { TCP_HEADROOM } from './rtp';

export interface PublisherOptions {
  url: string;
  auth?: RtspAuth;
  transport?: 'tcp' | 'udp';
  backoff?: { initialMs: number; maxMs: number };
  /** the SDP to ANNOUNCE */
  sdp: (address: string) => string;
  /**
   * a=control of each track the SDP announces, in order (default: the audio track alone); each is
   * SET UP in turn, and sendRtp/sendRtcp take the track's index
   */
  tracks?: string[];
  /** a sender report should follow the next packet (we just started publishing) */
  requestSenderReport: () => void;
  /** per request (ms) */
  requestTimeoutMs?: number;
  /** host name resolution for the connection (default dns.lookup); tests map a name to ::1 */
  lookup?: LookupFunction;
}

export type PublisherState = 'connecting' | 'publishing' | 'reconnecting' | 'closed';

const MAX_QUEUED = 512 * 1024;

interface UdpTrack {
  rtp: UdpSocket;
  rtcp: UdpSocket;
  serverRtp: number;
  serverRtcp: number;
}

/** Parses rtsp://[user:pass@]host[:port]/path; credentials in the URL are used if no auth is given. */
export function parseRtspUrl(url: string): { host: string; port: number; cleanUrl: string; auth?: RtspAuth } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CodedError('rtsp.badUrl', `"${url}" is not an RTSP URL like rtsp://host:8554/path`, { url });
  }
  if (u.protocol !== 'rtsp:' || !u.hostname) throw new CodedError('rtsp.badUrl', `"${url}" is not an RTSP URL like rtsp://host:8554/path`, { url });
  const auth = u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
  u.username = '';
  u.password = '';
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 554), cleanUrl: u.toString(), auth };
}

export class RtspPublisher extends EventEmitter {
  private _state: PublisherState = 'connecting';
  private conn: Socket | undefined;
  /** UDP transport: a local socket pair per track, and the server's ports for it */
  private udp: { host: string; tracks: UdpTrack[] } | undefined;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private cseq = 0;
  private pending: { resolve: (m: RtspMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  private readonly target: ReturnType<typeof parseRtspUrl>;
  private closed = false;
  private session: string | undefined;
  /** TCP transport: the interleaved RTP channel of each track (RTCP on the next one) */
  private channels: number[] = [];
  reconnects = 0;
  /** RTP/RTCP datagrams the operating system refused to send (UDP transport) */
  sendErrors = 0;
  /** when a datagram last went out, and whether the current run of send errors was reported */
  private udpOkAt = 0;
  private udpErrorReported = false;
  packetsSent = 0;
  bytesSent = 0;
  lastError: string | undefined;

  constructor(private readonly opts: PublisherOptions) {
    super();
    this.target = parseRtspUrl(opts.url);
    const b = opts.backoff ?? { initialMs: 1000, maxMs: 30000 };
    this.backoff = new Backoff({ initialMs: b.initialMs, maxMs: Math.min(30000, b.maxMs) });
  }

  get state(): PublisherState {
    return this._state;
  }

  /** The URL we publish to, without credentials. */
  get url(): string {
    return this.target.cleanUrl;
  }

  private setState(s: PublisherState, detail?: string): void {
    if (this._state === s) return;
    this._state = s;
    this.emit('state', s, detail);
  }

  start(): void {
    this.attempt();
  }

  private attempt(): void {
    if (this.closed) return;
    this.session = undefined;
    this.publish().then(
      () => {
        if (this.closed) return;
        this.backoff.reset();
        this.setState('publishing', this.url);
      },
      (err: Error) => this.fail(err),
    );
  }

  /** Drops the connection and schedules the next attempt. */
  private fail(err: Error): void {
    if (this.closed) return;
    this.teardownConnection();
    this.lastError = err.message;
    const delay = this.backoff.next();
    const coded = err instanceof CodedError ? err : new CodedError('rtsp.pushFailed', `RTSP publish to ${this.url} failed: ${err.message}; retrying in ${delay} ms`, { url: this.url, reason: err.message, delay });
    this.emit('failure', coded);
    this.setState('reconnecting', `${err.message}; retry in ${delay} ms`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.reconnects++;
      this.attempt();
    }, delay);
  }

  private async publish(): Promise<void> {
    const { host, port } = this.target;
    const conn = await new Promise<Socket>((resolve, reject) => {
      const c = connect({ host, port, ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}) });
      const timer = setTimeout(() => {
        c.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, this.opts.requestTimeoutMs ?? 5000);
      c.once('connect', () => {
        clearTimeout(timer);
        resolve(c);
      });
      c.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    if (this.closed) {
      conn.destroy();
      return;
    }
    this.conn = conn;
    this.cseq = 0; // CSeq counts per connection: ffmpeg's listener insists the first one is 1
    conn.setNoDelay(true);
    const reader = new RtspReader(
      (m) => {
        const p = this.pending;
        if (p && m.status !== undefined) {
          this.pending = undefined;
          clearTimeout(p.timer);
          p.resolve(m);
        }
      },
      () => {
        /* receiver reports from the server: nothing to do */
      },
    );
    conn.on('data', (d) => {
      try {
        reader.push(d);
      } catch (err) {
        conn.destroy(err as Error);
      }
    });
    conn.on('error', () => {});
    conn.on('close', () => {
      if (this.conn !== conn) return;
      const p = this.pending;
      this.pending = undefined;
      if (p) {
        clearTimeout(p.timer);
        p.reject(new Error('connection closed by the server'));
      }
      // during the handshake the rejected request fails the attempt; once publishing, we do
      if (this._state === 'publishing') this.fail(new Error('connection closed by the server'));
    });

    const answerer = new AuthAnswerer(this.opts.auth ?? this.target.auth ?? { username: '', password: '' });
    const hasCreds = !!(this.opts.auth ?? this.target.auth);
    const request = async (method: string, url: string, headers: Record<string, string | undefined> = {}, body?: string): Promise<RtspMessage> => {
      for (let round = 0; round < 2; round++) {
        const res = await this.send(method, url, { Authorization: answerer.header(method, url), Session: this.session, ...headers }, body);
        if (res.status === 401 && round === 0 && hasCreds && answerer.accept(res.headers['www-authenticate'])) continue;
        if (res.status === 401) {
          if (hasCreds) throw new CodedError('rtsp.pushUnauthorized', `RTSP server ${this.url} refused ${method}: 401 Unauthorized (wrong user name or password)`, { url: this.url, method });
          throw new CodedError('rtsp.pushNeedsAuth', `RTSP server ${this.url} refused ${method}: 401 Unauthorized (it needs a user name and password)`, { url: this.url, method });
        }
        if (res.status !== 200) throw new Error(`${method} answered ${res.status} ${res.reason ?? ''}`.trim());
        return res;
      }
      throw new Error('unreachable');
    };

    await request('OPTIONS', this.url);
    await request('ANNOUNCE', this.url, { 'Content-Type': 'application/sdp' }, this.opts.sdp(conn.localAddress ?? '0.0.0.0'));
    const useUdp = this.opts.transport === 'udp';
    const tracks = this.opts.tracks ?? [TRACK_CONTROL];
    // the family of the address actually connected to, not of the URL's text: a host name may
    // resolve to ::1 first (localhost on macOS and Windows), and a udp4 socket cannot send there
    const family = conn.remoteFamily === 'IPv6' ? 6 : 4;
    if (useUdp) this.udp = { host: conn.remoteAddress || host, tracks: [] };
    this.channels = [];
    let sessionHeader = '';
    for (let i = 0; i < tracks.length; i++) {
      const trackUrl = `${this.url.replace(/\/$/, '')}/${tracks[i]}`;
      let transport: string;
      if (useUdp) {
        const local = await this.bindUdpPair(family === 6 ? 'udp6' : 'udp4');
        transport = `RTP/AVP;unicast;client_port=${local.port}-${local.port + 1};mode=record`;
        this.udp!.tracks.push({ rtp: local.rtp, rtcp: local.rtcp, serverRtp: 0, serverRtcp: 0 });
      } else {
        transport = `RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1};mode=record`;
      }
      // the second SETUP carries the Session the first one got (request() adds it)
      const setup = await request('SETUP', trackUrl, { Transport: transport });
      this.session ??= setup.headers['session']?.split(';')[0].trim();
      if (i === 0) sessionHeader = setup.headers['session'] ?? '';
      const t = parseTransport(setup.headers['transport'] ?? '')[0];
      if (useUdp) {
        const sp = parsePortPair(t?.params['server_port']);
        if (!sp) throw new Error(`SETUP answer has no server_port: ${setup.headers['transport']}`);
        const u = this.udp!.tracks[i];
        u.serverRtp = sp[0];
        u.serverRtcp = sp[1];
        // a source= of the other family (a dual-stack server naming its IPv4 address) cannot be
        // reached from this socket: then the address we are connected to is used
        const source = t.params['source'];
        if (i === 0) this.udp!.host = (source && isIP(source) === family ? source : conn.remoteAddress) || host;
      } else {
        // the server may move a track to other channels: we send on the ones it answered
        this.channels.push(parsePortPair(t?.params['interleaved'])?.[0] ?? 2 * i);
      }
    }
    if (useUdp) {
      this.udpOkAt = Date.now();
      this.udpErrorReported = false;
    }
    await request('RECORD', this.url, { Range: 'npt=0.000-' });
    // keep the RTSP session alive (servers time out sessions without requests, UDP ones above all)
    const timeoutSec = Number(/timeout=(\d+)/.exec(sessionHeader)?.[1] ?? 60);
    this.keepAliveTimer = setInterval(() => {
      if (this.pending || !this.conn) return;
      request('OPTIONS', this.url).catch(() => {});
    }, Math.max(5, timeoutSec / 2) * 1000);
    this.opts.requestSenderReport();
  }

  private send(method: string, url: string, headers: Record<string, string | undefined>, body?: string): Promise<RtspMessage> {
    return new Promise((resolve, reject) => {
      const conn = this.conn;
      if (!conn || conn.destroyed) return reject(new Error('not connected'));
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error(`${method} got no answer within ${(this.opts.requestTimeoutMs ?? 5000) / 1000} s`));
      }, this.opts.requestTimeoutMs ?? 5000);
      this.pending = { resolve, reject, timer };
      conn.write(formatMessage(`${method} ${url} RTSP/1.0`, { CSeq: ++this.cseq, 'User-Agent': 'node-red-contrib-live-audio', ...headers }, body));
    });
  }

  private async bindUdpPair(type: 'udp4' | 'udp6'): Promise<{ port: number; rtp: UdpSocket; rtcp: UdpSocket }> {
    for (let i = 0; i < 30; i++) {
      const p = 2 * (15000 + Math.floor(Math.random() * 15000));
      const rtp = createSocket(type);
      const rtcp = createSocket(type);
      try {
        await new Promise<void>((res, rej) => { rtp.once('error', rej); rtp.bind(p, () => res()); });
        await new Promise<void>((res, rej) => { rtcp.once('error', rej); rtcp.bind(p + 1, () => res()); });
      } catch {
        try { rtp.close(); } catch { /* */ }
        try { rtcp.close(); } catch { /* */ }
        continue;
      }
      rtp.on('error', () => {});
      rtcp.on('error', () => {});
      if (this.closed || !this.udp) {
        // the attempt was given up meanwhile (close, a lost connection): nothing may stay bound
        for (const s of [rtp, rtcp]) try { s.close(); } catch { /* */ }
        throw new Error('publishing was stopped');
      }
      return { port: p, rtp, rtcp };
    }
    throw new Error('no free local UDP port pair');
  }

  /**
   * Sends one RTP packet if publishing; otherwise drops it (and says so by returning false).
   * `framed` is what RtpStream.packet() built: interleaved header (channel 0), then RTP.
   * `track`: the index of the track in `tracks` (0: audio).
   */
  sendRtp(framed: Buffer, track = 0): boolean {
    if (this._state !== 'publishing') return false;
    const rtpLen = framed.length - TCP_HEADROOM;
    if (this.udp) {
      const u = this.udp.tracks[track];
      if (!u) return false;
      u.rtp.send(framed, TCP_HEADROOM, rtpLen, u.serverRtp, this.udp.host, (e) => this.udpSent(e, rtpLen));
    } else {
      const c = this.conn;
      if (!c || c.destroyed) return false;
      if (c.writableLength > MAX_QUEUED) {
        this.fail(new Error('the server stopped reading (send buffer full)'));
        return false;
      }
      const channel = this.channels[track];
      if (channel === undefined) return false;
      c.write(interleavedFor(channel, framed));
    }
    this.packetsSent++;
    this.bytesSent += rtpLen;
    return true;
  }

  /**
   * Completion of every UDP send. A refused datagram is counted (`sendErrors`) and reported once
   * per publication; when nothing has gone out for a second the publication is not working
   * (unreachable address, wrong family) and is dropped and retried like a lost connection,
   * instead of showing "publishing" while the server hears nothing.
   */
  private udpSent(err: Error | null, rtpLen: number): void {
    if (!err) {
      // (the report is not re-armed here: datagrams that fail now and then among good ones would
      // be reported at every flip; once per publication says it, sendErrors counts the rest)
      this.udpOkAt = Date.now();
      return;
    }
    this.sendErrors++;
    if (rtpLen) {
      // counted as sent when handed over: it was not
      this.packetsSent--;
      this.bytesSent -= rtpLen;
    }
    if (this._state !== 'publishing' || !this.udp) return;
    const reason = `sending RTP over UDP to ${this.udp.host} failed: ${err.message}`;
    // a sender with a socket of the wrong family fails every packet from the first one
    if (Date.now() - this.udpOkAt >= 1000) return this.fail(new Error(`${reason} (${this.sendErrors} packets not sent)`));
    if (!this.udpErrorReported) {
      this.udpErrorReported = true;
      this.lastError = reason;
      this.emit(
        'failure',
        new CodedError('rtsp.udpSendFailed', `RTSP publish to ${this.url}: ${reason} (${this.sendErrors} packets not sent so far)`, { url: this.url, host: this.udp.host, reason: err.message, count: this.sendErrors }),
      );
    }
  }

  sendRtcp(rtcp: Buffer, track = 0): void {
    if (this._state !== 'publishing') return;
    if (this.udp) {
      const u = this.udp.tracks[track];
      if (u?.serverRtcp) u.rtcp.send(rtcp, u.serverRtcp, this.udp.host, (e) => this.udpSent(e, 0));
    } else if (this.conn && !this.conn.destroyed && this.channels[track] !== undefined) {
      this.conn.write(interleave(this.channels[track] + 1, rtcp));
    }
  }

  private teardownConnection(): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    if (this.pending) {
      clearTimeout(this.pending.timer);
      this.pending = undefined;
    }
    const c = this.conn;
    this.conn = undefined;
    c?.destroy();
    if (this.udp) {
      for (const t of this.udp.tracks) {
        for (const s of [t.rtp, t.rtcp]) {
          try { s.close(); } catch { /* closed */ }
        }
      }
      this.udp = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const c = this.conn;
    if (c && !c.destroyed && this._state === 'publishing') {
      // polite TEARDOWN, not waited for: the connection goes right after
      c.write(formatMessage(`TEARDOWN ${this.url} RTSP/1.0`, { CSeq: ++this.cseq, Session: this.session }));
    }
    this.teardownConnection();
    this.setState('closed');
  }
}
