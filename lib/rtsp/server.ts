/**
 * The embedded RTSP server (RFC 2326) behind `serve` mode: players connect to
 * rtsp://<bind>:<port>/<path> and get the live stream, over TCP (interleaved) or UDP unicast.
 * It serves one stream; every playing session gets the same packets (fan-out, no per-listener
 * encoding). Only what players need: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN,
 * GET_PARAMETER/SET_PARAMETER (keep-alive), optional Basic/Digest auth, session timeout.
 *
 * It faces the public: whatever one client sends, the others keep their stream. A SETUP whose
 * Transport cannot be honoured exactly is refused (transport.ts); a player the server cannot send
 * to is counted and dropped on its own (the fan-out never throws, so the stream's clock never
 * sees it); a connection must complete each request within REQUEST_TIMEOUT_MS (slow senders
 * hold no socket); the number of players has a ceiling (453 beyond it).
 */
import { EventEmitter } from 'node:events';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { CodedError } from '../util/errors';
import { AuthChecker, type RtspAuth } from './auth';
import { RtspReader, formatMessage, interleave, interleavedFor, type RtspMessage } from './message';
import { TRACK_CONTROL } from './sdp';
import { TCP_HEADROOM } from './rtp';
import { chooseTransport, transportReply, type PlayerTransport } from './transport';

export interface RtspServerOptions {
  host: string;
  port: number;
  path: string;
  auth?: RtspAuth & { scheme?: 'basic' | 'digest' };
  sessionTimeoutSec?: number;
  /** most players (RTSP sessions) at once; a SETUP beyond gets 453 Not Enough Bandwidth (default DEFAULT_MAX_PLAYERS) */
  maxPlayers?: number;
  /** a request must arrive whole within this many ms of its first byte (default REQUEST_TIMEOUT_MS) */
  requestTimeoutMs?: number;
  /** the SDP of the stream, built when a player asks */
  sdp: (address: string) => string;
  /** sequence number and RTP time the next packet of a track will carry, for RTP-Info */
  nextPacket: (track: number) => { seq: number; rtptime: number };
  /**
   * The a=control names of the stream's tracks, in SDP order (default: the one audio track).
   * A player sets up any of them (SETUP per track, one session); packets of track i go to the
   * sessions that set up track i.
   */
  tracks?: string[];
  /** a sender report should follow the next packet (a player just started) */
  requestSenderReport: () => void;
}

/** Where one track of a session goes. */
interface TrackTransport {
  /** interleaved channels (TCP) */
  rtpChannel: number;
  rtcpChannel: number;
  /** UDP destination ports */
  rtpPort: number;
  rtcpPort: number;
}

interface Session {
  id: string;
  remote: string;
  conn: Socket;
  /** every track of a session uses the same lower transport */
  tcp: boolean;
  /** UDP destination */
  address: string;
  /** per track (index as in `tracks`): its transport, or undefined when the player did not set it up */
  tracks: (TrackTransport | undefined)[];
  playing: boolean;
  /** it has played at least once (a session set up and never played expires sooner) */
  played: boolean;
  createdAt: number;
  lastSeen: number;
  /** TCP: when its connection was first found with more than MAX_QUEUED bytes queued (a stalled reader) */
  stalledSince?: number;
  /** sends to this player that failed in a row (reset by one that succeeds) */
  failures: number;
  /** UDP send completions, made once per session (not a closure per packet) */
  onSent: (err: Error | null) => void;
  onRtcpSent: (err: Error | null) => void;
}

/** A TCP listener falling this far behind (bytes queued) gets packets dropped instead of queued. */
const MAX_QUEUED = 512 * 1024;
/**
 * Sends to one player that may fail in a row before it is dropped: one second of 20 ms packets.
 * A failure is that player's (its address, its port, its route), never the stream's.
 */
export const MAX_SEND_FAILURES = 50;
/** Players at once unless configured: each costs a send per packet on the stream's own thread. */
export const DEFAULT_MAX_PLAYERS = 100;
/** A request (or an interleaved frame) must arrive whole within this many ms of its first byte. */
export const REQUEST_TIMEOUT_MS = 5000;
/**
 * A session set up but never played is dropped after this long: players PLAY right after SETUP,
 * and a client that only sets up must not hold places under the maximum for a session timeout.
 */
export const SETUP_TIMEOUT_MS = 10000;
const SERVER_NAME = 'node-red-contrib-live-audio';
const PUBLIC = 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER';

export function normalizePath(p: string): string {
  const s = '/' + p.replace(/^\/+/, '').replace(/\/+$/, '');
  return s;
}

export class RtspServer extends EventEmitter {
  private server: Server | undefined;
  private rtpSock: UdpSocket | undefined;
  private rtcpSock: UdpSocket | undefined;
  private readonly sessions = new Map<string, Session>();
  /**
   * The playing sessions, kept as a plain array (rebuilt on PLAY/PAUSE/TEARDOWN/close, which are
   * rare) so the per-packet fan-out walks an array instead of the session map and its checks.
   */
  private playing: Session[] = [];
  /** per track: the playing sessions that set it up (the fan-out lists) */
  private playingOn: Session[][];
  private readonly trackNames: string[];
  private readonly conns = new Set<Socket>();
  private readonly auth: AuthChecker | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly timeoutSec: number;
  readonly maxPlayers: number;
  private readonly requestTimeoutMs: number;
  readonly path: string;
  private boundPort = 0;
  private udpPorts: [number, number] = [0, 0];
  packetsSent = 0;
  bytesSent = 0;
  /** SETUPs refused: a Transport we cannot honour (461) or no room for another player (453) */
  setupsRefused = 0;
  /** players dropped because sending to them kept failing */
  playersDropped = 0;
  /** connections closed for not completing a request in time */
  connectionsTimedOut = 0;

  constructor(private readonly opts: RtspServerOptions) {
    super();
    this.path = normalizePath(opts.path);
    this.timeoutSec = opts.sessionTimeoutSec ?? 60;
    this.maxPlayers = opts.maxPlayers ?? DEFAULT_MAX_PLAYERS;
    if (!Number.isInteger(this.maxPlayers) || this.maxPlayers < 1) {
      throw new CodedError('rtsp.badConfig', `RTSP output: maximum players ${opts.maxPlayers} is not supported: a whole number from 1`, { what: 'maximum players', value: String(opts.maxPlayers), expected: 'a whole number from 1' });
    }
    this.requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.trackNames = opts.tracks ?? [TRACK_CONTROL];
    this.playingOn = this.trackNames.map(() => []);
    if (opts.auth) this.auth = new AuthChecker(opts.auth, opts.auth.scheme ?? 'digest');
  }

  get port(): number {
    return this.boundPort;
  }

  /** Playing sessions. */
  get players(): number {
    return this.playing.length;
  }

  private setPlaying(s: Session, on: boolean): void {
    s.playing = on;
    if (on) s.played = true;
    s.stalledSince = undefined;
    this.playing = [...this.sessions.values()].filter((x) => x.playing);
    this.playingOn = this.trackNames.map((_, i) => this.playing.filter((x) => x.tracks[i]));
    if (s.tcp && !s.conn.destroyed) {
      // No idle timeout on a connection while it plays: Node re-arms a socket's timeout at every
      // write (a timer-list remove and insert per packet per player, bench/announce); the sweep
      // drops a playing TCP player that stops reading instead (see sweep)
      const playing = this.playing.some((x) => x.tcp && x.conn === s.conn);
      s.conn.setTimeout(playing ? 0 : this.timeoutSec * 1000);
    }
  }

  async start(): Promise<void> {
    const { host, port } = this.opts;
    const server = createServer((c) => this.onConnection(c));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new CodedError('rtsp.portInUse', `RTSP port ${host}:${port} is already in use: choose another port or stop the program using it`, { host, port }));
        else if (err.code === 'EADDRNOTAVAIL') reject(new CodedError('rtsp.badBind', `cannot listen on ${host}: no such local address (use 0.0.0.0 for all, 127.0.0.1 for this machine only)`, { host }));
        else reject(new CodedError('rtsp.listenFailed', `cannot listen on ${host}:${port}: ${err.message}`, { host, port, reason: err.message }));
      });
      server.listen(port, host, () => resolve());
    }).catch(async (err) => {
      this.server = undefined;
      throw err;
    });
    server.on('error', (err) => this.emit('log', `RTSP server error: ${err.message}`));
    this.boundPort = (server.address() as { port: number }).port;
    try {
      await this.bindUdp();
    } catch (err) {
      await this.close();
      throw err;
    }
    const sweepMs = Math.max(250, Math.min(5000, (this.timeoutSec * 1000) / 4));
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  /** An even/odd UDP port pair for RTP/RTCP to UDP players (one pair shared by all). */
  private async bindUdp(): Promise<void> {
    const type = this.opts.host.includes(':') ? 'udp6' : 'udp4';
    for (let attempt = 0; attempt < 30; attempt++) {
      const rtpPort = 2 * (15000 + Math.floor(Math.random() * 15000));
      const rtp = createSocket(type);
      const rtcp = createSocket(type);
      try {
        await bindSocket(rtp, rtpPort, this.opts.host);
        await bindSocket(rtcp, rtpPort + 1, this.opts.host);
      } catch {
        rtp.close();
        try { rtcp.close(); } catch { /* not bound */ }
        continue;
      }
      for (const s of [rtp, rtcp]) {
        s.on('error', (err) => this.emit('log', `RTSP UDP socket error: ${err.message}`));
        // receiver reports (and NAT punch packets) from players keep their UDP sessions alive
        s.on('message', (_m, rinfo) => this.touchUdp(rinfo.address, rinfo.port));
      }
      this.rtpSock = rtp;
      this.rtcpSock = rtcp;
      this.udpPorts = [rtpPort, rtpPort + 1];
      return;
    }
    throw new CodedError('rtsp.listenFailed', `cannot listen on ${this.opts.host}: no free UDP port pair for RTP`, { host: this.opts.host, port: this.opts.port, reason: 'no UDP ports' });
  }

  private touchUdp(address: string, port: number): void {
    for (const s of this.sessions.values()) if (!s.tcp && s.address === address && s.tracks.some((t) => t && (t.rtpPort === port || t.rtcpPort === port))) s.lastSeen = Date.now();
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      // a playing TCP session lives as long as its connection (the socket tells when it dies), or
      // until its player has stopped reading for a session timeout: while the bytes queued for it
      // stay above MAX_QUEUED, packets are dropped for it (broadcast), and after the timeout it goes
      if (s.tcp && s.playing) {
        if (s.conn.writableLength <= MAX_QUEUED) {
          s.stalledSince = undefined;
          continue;
        }
        s.stalledSince ??= now;
        if (now - s.stalledSince > this.timeoutSec * 1000) {
          this.emit('log', `RTSP player ${s.remote} has read nothing for ${this.timeoutSec} s: closing its connection`);
          s.conn.destroy(); // its 'close' removes the session
        }
        continue;
      }
      if (!s.played && !s.playing && now - s.createdAt > SETUP_TIMEOUT_MS) {
        this.emit('log', `RTSP session ${s.id} of ${s.remote} was set up but not played within ${SETUP_TIMEOUT_MS / 1000} s: dropped`);
        this.removeSession(s);
        continue;
      }
      if (now - s.lastSeen > this.timeoutSec * 1000) {
        this.emit('log', `RTSP session ${s.id} of ${s.remote} timed out after ${this.timeoutSec} s without keep-alive`);
        this.removeSession(s);
      }
    }
  }

  private removeSession(s: Session): void {
    if (!this.sessions.delete(s.id)) return;
    if (s.playing) {
      this.setPlaying(s, false);
      this.emit('listener', { count: this.players, remote: s.remote });
    }
  }

  private onConnection(conn: Socket): void {
    this.conns.add(conn);
    conn.setNoDelay(true);
    const remote = `${conn.remoteAddress}:${conn.remotePort}`;
    // A client must send each request whole within requestTimeoutMs of its first byte, the first
    // one within requestTimeoutMs of connecting: one that trickles a request (slowloris), sends
    // half of one, or only interleaved frames, is closed then, whatever the session timeout.
    let deadline: NodeJS.Timeout | undefined;
    let understood = false; // a request arrived whole on this connection
    let completed = false; // … during the current push
    const expire = () => {
      this.connectionsTimedOut++;
      this.emit('log', `RTSP: closing ${remote}: no complete request within ${this.requestTimeoutMs} ms`);
      conn.destroy();
    };
    const arm = () => {
      if (deadline) clearTimeout(deadline);
      deadline = setTimeout(expire, this.requestTimeoutMs);
    };
    arm();
    const reader = new RtspReader(
      (m) => {
        understood = completed = true;
        this.onRequest(conn, remote, m);
      },
      () => {
        // interleaved frames from a client are RTCP (receiver reports: the player is alive);
        // from a connection without a session (or before any request) they are read and dropped
        for (const s of this.sessions.values()) if (s.conn === conn) s.lastSeen = Date.now();
      },
    );
    conn.on('data', (d) => {
      completed = false;
      try {
        reader.push(d);
      } catch (err) {
        this.emit('log', `RTSP: closing ${remote}: ${(err as Error).message}`);
        conn.destroy();
        return;
      }
      if (conn.destroyed) return;
      if (reader.buffered === 0) {
        if (understood && deadline) {
          clearTimeout(deadline);
          deadline = undefined;
        }
      } else if (completed || !deadline) {
        arm(); // a new request has begun: its own time from now
      }
    });
    // a connection idle (no request, no data either way) for a session timeout is dropped, so a
    // client that connects and never plays cannot hold sockets forever (off while it plays: setPlaying)
    conn.setTimeout(this.timeoutSec * 1000, () => conn.destroy());
    conn.on('error', (err) => this.emit('log', `RTSP connection ${remote}: ${err.message}`));
    conn.on('close', () => {
      if (deadline) clearTimeout(deadline);
      this.conns.delete(conn);
      for (const s of [...this.sessions.values()]) if (s.conn === conn && s.tcp) this.removeSession(s);
    });
  }

  private reply(conn: Socket, req: RtspMessage, status: number, reason: string, headers: Record<string, string | number | undefined> = {}, body?: string): void {
    if (conn.destroyed) return;
    conn.write(formatMessage(`RTSP/1.0 ${status} ${reason}`, { CSeq: req.headers['cseq'] ?? 0, Server: SERVER_NAME, ...headers }, body));
  }

  /** Path of a request URL (or undefined if unreadable), without a trailing slash. */
  private pathOf(url: string | undefined): string | undefined {
    if (!url) return undefined;
    try {
      return normalizePath(decodeURIComponent(new URL(url).pathname));
    } catch {
      return undefined;
    }
  }

  private onRequest(conn: Socket, remote: string, req: RtspMessage): void {
    const method = req.method ?? '';
    if (req.status !== undefined) return; // a response from a player: nothing to do
    const sessionId = req.headers['session']?.split(';')[0].trim();
    const session = sessionId ? this.sessions.get(sessionId) : undefined;
    if (session) session.lastSeen = Date.now();
    // RFC 2326 §12.32: we implement no extension a client may require
    if (req.headers['require']) return this.reply(conn, req, 551, 'Option not supported', { Unsupported: req.headers['require'] });
    if (method === 'OPTIONS') return this.reply(conn, req, 200, 'OK', { Public: PUBLIC });
    if (this.auth && !this.auth.check(method, req.headers['authorization'])) {
      return this.reply(conn, req, 401, 'Unauthorized', { 'WWW-Authenticate': this.auth.challenge() });
    }
    const path = this.pathOf(req.url);
    /** the track a SETUP URL names: the aggregate URL stands for the first track */
    const trackOf = (p: string | undefined): number => {
      if (p === this.path) return 0;
      return this.trackNames.findIndex((t) => p === `${this.path}/${t}` || (this.path === '/' && p === `/${t}`));
    };
    switch (method) {
      case 'DESCRIBE': {
        if (path !== this.path) return this.reply(conn, req, 404, 'Not Found');
        const base = req.url!.endsWith('/') ? req.url! : `${req.url}/`;
        return this.reply(conn, req, 200, 'OK', { 'Content-Base': base, 'Content-Type': 'application/sdp' }, this.opts.sdp(conn.localAddress ?? '0.0.0.0'));
      }
      case 'SETUP': {
        const track = trackOf(path);
        if (track < 0) return this.reply(conn, req, 404, 'Not Found');
        if (session && session.conn !== conn && session.tcp) return this.reply(conn, req, 455, 'Method Not Valid in This State');
        // a track already set up, or a track added while playing: RFC 2326 allows refusing both
        if (session && (session.tracks[track] || session.playing)) return this.reply(conn, req, 455, 'Method Not Valid in This State');
        return this.setup(conn, remote, req, track, session);
      }
      case 'PLAY': {
        if (!session) return this.reply(conn, req, 454, 'Session Not Found');
        const base = (req.url ?? '').replace(/\/$/, '');
        const info = this.trackNames
          .map((name, i) => {
            if (!session.tracks[i]) return undefined;
            const next = this.opts.nextPacket(i);
            return `url=${base}/${name};seq=${next.seq};rtptime=${next.rtptime}`;
          })
          .filter((x) => x !== undefined)
          .join(',');
        const wasPlaying = session.playing;
        this.setPlaying(session, true);
        this.reply(conn, req, 200, 'OK', { Session: session.id, Range: 'npt=now-', 'RTP-Info': info });
        if (!wasPlaying) {
          this.emit('listener', { count: this.players, remote: session.remote });
          // with the next packet, mapping its RTP time to NTP (to every player: harmless)
          this.opts.requestSenderReport();
        }
        return;
      }
      case 'PAUSE': {
        if (!session) return this.reply(conn, req, 454, 'Session Not Found');
        if (session.playing) {
          this.setPlaying(session, false);
          this.emit('listener', { count: this.players, remote: session.remote });
        }
        return this.reply(conn, req, 200, 'OK', { Session: session.id });
      }
      case 'TEARDOWN': {
        if (session) this.removeSession(session);
        return this.reply(conn, req, 200, 'OK', session ? { Session: session.id } : {});
      }
      case 'GET_PARAMETER':
      case 'SET_PARAMETER':
        return this.reply(conn, req, 200, 'OK', session ? { Session: session.id } : {});
      case 'ANNOUNCE':
      case 'RECORD':
        return this.reply(conn, req, 405, 'Method Not Allowed', { Allow: PUBLIC });
      default:
        return this.reply(conn, req, 501, 'Not Implemented', { Public: PUBLIC });
    }
  }

  /** SETUP of `track`: a new session, or one more track of `existing` (same lower transport). */
  private setup(conn: Socket, remote: string, req: RtspMessage, track: number, existing?: Session): void {
    // RTP goes to the address the request came from: a `destination=` parameter is ignored, so
    // the server cannot be used to flood a third party
    let t = chooseTransport(req.headers['transport']);
    // a track over TCP without channels named: its own pair (2-3 for the video track), or on a
    // session that already uses that pair, the first pair it leaves free, not 0-1 again
    if (t?.kind === 'tcp' && !/interleaved/i.test(req.headers['transport'] ?? '') && (track > 0 || existing)) {
      const used = new Set(existing?.tracks.flatMap((x) => (x ? [x.rtpChannel, x.rtcpChannel] : [])) ?? []);
      let rtp = 2 * track;
      if (used.has(rtp) || used.has(rtp + 1)) for (rtp = 0; used.has(rtp) || used.has(rtp + 1); rtp += 2);
      t = { kind: 'tcp', rtp, rtcp: rtp + 1 };
    }
    // one lower transport per session, and no channel used by two tracks (a player would mix them)
    const clash =
      t && existing && ((t.kind === 'tcp') !== existing.tcp || (t.kind === 'tcp' && existing.tracks.some((x) => x && [x.rtpChannel, x.rtcpChannel].some((c) => c === t!.rtp || c === t!.rtcp))));
    if (!t || clash) {
      this.setupsRefused++;
      this.emit('log', `RTSP: SETUP from ${remote} refused (461): unsupported Transport ${JSON.stringify((req.headers['transport'] ?? '').slice(0, 200))}`);
      return this.reply(conn, req, 461, 'Unsupported Transport');
    }
    if (existing) {
      existing.tracks[track] = trackTransport(t);
      return this.reply(conn, req, 200, 'OK', { Transport: transportReply(t, this.udpPorts), Session: `${existing.id};timeout=${this.timeoutSec}` });
    }
    if (this.sessions.size >= this.maxPlayers) {
      this.setupsRefused++;
      this.emit('log', `RTSP: SETUP from ${remote} refused (453): already ${this.sessions.size} players, the most allowed`);
      return this.reply(conn, req, 453, 'Not Enough Bandwidth');
    }
    const id = randomBytes(8).toString('hex').toUpperCase();
    const s: Session = {
      id, remote, conn, playing: false, played: false, createdAt: Date.now(), lastSeen: Date.now(), failures: 0, onSent: () => {}, onRtcpSent: () => {},
      tcp: t.kind === 'tcp', address: conn.remoteAddress ?? '', tracks: [],
    };
    s.tracks[track] = trackTransport(t);
    // only an RTP packet that went out clears the count: a sender report every 5 s must not
    // keep a player whose RTP sends all fail
    s.onSent = (err) => (err ? this.sendFailed(s, err) : (s.failures = 0));
    s.onRtcpSent = (err) => err && this.sendFailed(s, err);
    this.sessions.set(id, s);
    this.reply(conn, req, 200, 'OK', { Transport: transportReply(t, this.udpPorts), Session: `${id};timeout=${this.timeoutSec}` });
  }

  /**
   * One send to one player failed. Its failures are counted, and after MAX_SEND_FAILURES in a row
   * it is dropped with one warning; the other players and the stream's clock never see it.
   */
  private sendFailed(s: Session, err: Error): void {
    if (!this.sessions.has(s.id)) return;
    if (++s.failures === 1) this.emit('log', `RTSP player ${s.remote}: sending failed: ${err.message}`);
    if (s.failures < MAX_SEND_FAILURES) return;
    this.playersDropped++;
    this.removeSession(s);
    if (s.tcp) s.conn.destroy();
    this.emit(
      'warning',
      new CodedError('rtsp.playerDropped', `RTSP player ${s.remote} dropped: ${s.failures} packets in a row could not be sent to it (${err.message})`, {
        remote: s.remote,
        count: s.failures,
        reason: err.message,
      }),
    );
  }

  /** `framed`: the report already framed for this session's channel (shared by a broadcast). */
  private sendRtcp(s: Session, t: TrackTransport, rtcp: Buffer, framed?: Buffer): void {
    try {
      if (s.tcp) {
        if (!s.conn.destroyed && s.conn.writableLength < MAX_QUEUED) s.conn.write(framed ?? interleave(t.rtcpChannel, rtcp));
      } else {
        this.rtcpSock!.send(rtcp, t.rtcpPort, s.address, s.onRtcpSent);
      }
    } catch (err) {
      this.sendFailed(s, err as Error);
    }
  }

  /**
   * Sends one RTP packet to every playing session. `framed` is what RtpStream.packet() built:
   * the interleaved header for channel 0, then the RTP packet. TCP players on channel 0 all get
   * that one buffer; UDP players the RTP bytes after the header (no copy either).
   */
  broadcast(framed: Buffer, track = 0): void {
    const rtpLen = framed.length - TCP_HEADROOM;
    // players on another interleaved channel: one framed copy per channel, shared
    let other: Buffer[] | undefined;
    const list = this.playingOn[track];
    let sent = 0;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      const t = s.tracks[track]!;
      // one player's failure is its own: counted for it (sendFailed), never thrown to the
      // encoder and the pacer, whose timeline must not depend on who is listening
      try {
        if (s.tcp) {
          if (s.conn.destroyed || s.conn.writableLength > MAX_QUEUED) continue; // a stalled reader loses packets, not our memory
          const ch = t.rtpChannel;
          s.conn.write(ch === 0 ? framed : ((other ??= [])[ch] ??= interleavedFor(ch, framed)));
        } else {
          this.rtpSock!.send(framed, TCP_HEADROOM, rtpLen, t.rtpPort, s.address, s.onSent);
        }
        sent++;
      } catch (err) {
        this.sendFailed(s, err as Error);
      }
    }
    this.packetsSent += sent;
    this.bytesSent += sent * rtpLen;
  }

  /**
   * Sends the packets of one video picture to every playing session of `track`. A TCP player gets
   * the whole picture in one write: its packets framed for the player's channel, joined in one
   * buffer shared by every player on that channel (a picture is dozens of packets, re-sent every
   * period: one write each, times every player, was most of an idle board's cost). A player whose
   * connection is backed up (MAX_QUEUED) misses the whole picture, never part of it. UDP players
   * get the packets one datagram each.
   */
  broadcastFrame(framed: Buffer[], track: number): void {
    const list = this.playingOn[track];
    let rtpBytes = 0;
    for (const p of framed) rtpBytes += p.length - TCP_HEADROOM;
    /** per interleaved channel: the picture's packets framed for it, in one buffer */
    let joined: Buffer[] | undefined;
    let sent = 0;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      const t = s.tracks[track]!;
      try {
        if (s.tcp) {
          if (s.conn.destroyed || s.conn.writableLength > MAX_QUEUED) continue;
          s.conn.write(((joined ??= [])[t.rtpChannel] ??= joinFramed(framed, t.rtpChannel)));
        } else {
          // each datagram is a send of its own, counted as one (sendFailed): a video-only player
          // gets few pictures a second, and a picture counted once would take that many times
          // longer to be dropped when it can no longer be sent to
          let ok = true;
          for (const p of framed) {
            try {
              this.rtpSock!.send(p, TCP_HEADROOM, p.length - TCP_HEADROOM, t.rtpPort, s.address, s.onSent);
            } catch (err) {
              ok = false;
              this.sendFailed(s, err as Error);
            }
          }
          if (!ok) continue;
        }
        sent++;
      } catch (err) {
        this.sendFailed(s, err as Error);
      }
    }
    this.packetsSent += sent * framed.length;
    this.bytesSent += sent * rtpBytes;
  }

  /** Sends an RTCP packet (sender report) of `track` to every playing session that set it up. */
  broadcastRtcp(rtcp: Buffer, track = 0): void {
    const framed: Buffer[] = [];
    for (const s of this.playingOn[track]) {
      const t = s.tracks[track]!;
      this.sendRtcp(s, t, rtcp, s.tcp ? (framed[t.rtcpChannel] ??= interleave(t.rtcpChannel, rtcp)) : undefined);
    }
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sessions.clear();
    this.playing = [];
    this.playingOn = this.trackNames.map(() => []);
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    for (const s of [this.rtpSock, this.rtcpSock]) {
      try { s?.close(); } catch { /* already closed */ }
    }
    this.rtpSock = this.rtcpSock = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** RtpStream packets (interleaved header in front) joined in one buffer, each framed for `channel`. */
function joinFramed(framed: Buffer[], channel: number): Buffer {
  const out = Buffer.concat(framed);
  for (let o = 0, i = 0; i < framed.length; o += framed[i].length, i++) out[o + 1] = channel;
  return out;
}

function bindSocket(s: UdpSocket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error) => reject(e);
    s.once('error', onErr);
    s.bind(port, host, () => {
      s.off('error', onErr);
      resolve();
    });
  });
}

function trackTransport(t: PlayerTransport): TrackTransport {
  return t.kind === 'tcp' ? { rtpChannel: t.rtp, rtcpChannel: t.rtcp, rtpPort: 0, rtcpPort: 0 } : { rtpChannel: 0, rtcpChannel: 1, rtpPort: t.rtp, rtcpPort: t.rtcp };
}
