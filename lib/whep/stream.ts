/**
 * One WHEP stream: signalling, a werift peer connection with one recvonly audio transceiver,
 * RTP → reorder → Opus decode → fixed-size PCM chunks, RTP-inactivity ("source idle") detection,
 * and reconnection with back-off. It keeps running until stop(): "try later" answers, a dead
 * server and failed ICE/DTLS lead to a new session; only errors that a retry cannot fix (a 302,
 * a 401, a malformed answer, a bad URL) end it.
 */
import { RTCPeerConnection, RTCRtpCodecParameters, type RtpPacket } from 'werift';
import { Chunker, formatFields, type PcmFormat, type PcmMessage } from '../pcm';
import { Backoff } from '../util/backoff';
import { CodedError } from '../util/errors';
import { redactUrl } from '../util/redact';
import { OpusDecoder, opusPacketSamples, type OpusRate } from './opus';
import { ReorderBuffer, type Ordered } from './reorder';
import { sanitizeAnswer } from './sdp';
import { deleteSession, postOffer, WhepError, type IceServer } from './signalling';
import { install as installWeriftLayer, paceReceiverReports, shortenRtpRoute } from './werift';
import { watchConsent, type ConsentProbe } from './werift/consent';

// werift's receive path does much an audio-only client does not need; the werift layer
// (lib/whep/werift/) skips it, or leaves werift's own code where werift looks different (never
// throws). Installed before
// the first peer connection: werift's events pick it up when they are made.
installWeriftLayer();

/** `waiting`: connected, no audio yet (e.g. SRS with nobody publishing); `live` once RTP arrives. */
export type WhepState = 'connecting' | 'waiting' | 'live' | 'idle' | 'reconnecting' | 'stopped' | 'error';
/** `connected` (ICE/DTLS up, state waiting), then `live` at the session's first RTP. */
export type WhepEventName = 'connecting' | 'connected' | 'live' | 'idle' | 'resumed' | 'reconnecting' | 'stopped' | 'error';

export interface WhepStreamOptions {
  url: string;
  stmId: string;
  traceId?: string;
  /** bearer token (Authorization header) */
  token?: string;
  insecureTls?: boolean;
  /** ICE servers from the configuration (default none: no public STUN server is used silently) */
  iceServers?: IceServer[];
  /**
   * Gather ICE host candidates on exactly these addresses instead of every interface
   * (werift skips loopback otherwise; tests use ["127.0.0.1"]).
   */
  iceHostAddresses?: string[];
  /** output rate (Opus decodes natively to 8/12/16/24/48 kHz), default 48000 */
  rate?: OpusRate;
  /** output channels, default 2 */
  channels?: 1 | 2;
  /** chunk duration (ms), default 20 */
  chunkMs?: number;
  /** RTP inactivity that makes the stream "idle" (ms), default 5000 */
  idleMs?: number;
  /** while idle, emit silence so downstream timing goes on */
  idleSilence?: boolean;
  /**
   * RTP inactivity after which the session is replaced (ms), default 0 = never: a quiet session is
   * kept, since servers like SRS resume RTP on it when a publisher appears, and a dead server is
   * noticed by its unanswered ICE consent checks instead
   */
  idleReconnectMs?: number;
  /** while the server answers 404 ("nobody publishes", mediamtx), ask again this often (ms), default 1000 */
  pollMs?: number;
  /** first retry delay after an error (ms), default 500 */
  retryInitialMs?: number;
  /** largest retry delay after repeated errors (ms), default 5000 */
  retryMaxMs?: number;
  /** time for ICE + DTLS to connect after the answer (ms), default 15000 */
  connectTimeoutMs?: number;
  /** packets held back waiting for a late one, default 3 */
  reorderWindow?: number;
}

export interface WhepStats {
  packetsReceived: number;
  packetsLost: number;
  duplicates: number;
  late: number;
  /** RFC 3550 interarrival jitter, ms */
  jitterMs: number;
  /** payload bitrate over the last stats interval, kbit/s */
  bitrateKbps: number;
  bytesReceived: number;
  /** new attempts after a session ended or an attempt failed (an error, a dead or idle server) */
  reconnects: number;
  /** offers repeated while the server answered 404 (nobody publishing): waiting, not failing */
  polls: number;
  chunks: number;
  decodeErrors: number;
}

export interface WhepEvent {
  event: WhepEventName;
  stmId: string;
  traceId?: string;
  url: string;
  state: WhepState;
  /** why (reconnecting, error, stopped) */
  reason?: string;
  /** the error (error, reconnecting), with a code for translation */
  error?: CodedError;
  /** delay before the next attempt (reconnecting) */
  retryInMs?: number;
  stats: WhepStats;
}

export interface WhepStreamSink {
  /** a PCM message of the stream (the contract of lib/pcm), `complete: true` last */
  chunk(msg: PcmMessage): void;
  event(ev: WhepEvent): void;
}

class SessionEnd extends Error {
  constructor(
    readonly reason: string,
    readonly error?: CodedError,
  ) {
    super(reason);
  }
}

/** a server is declared gone after this many unanswered ICE consent checks (4–6 s apart) … */
const DEAD_CONSENT_MISSES = 2;
/** … while no RTP came for at least this long (RTP is proof of life on its own) */
const DEAD_QUIET_MS = 2000;
/** a connected session without audio that lasted this long counts as a working server */
const PROVEN_SESSION_MS = 10_000;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class WhepStream {
  // changed only by enter(), together with its event
  private current: WhepState = 'connecting';
  readonly format: PcmFormat;
  private readonly o: Required<Omit<WhepStreamOptions, 'traceId' | 'token' | 'iceHostAddresses'>> & WhepStreamOptions;
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private readonly chunker: Chunker;
  private readonly reorder: ReorderBuffer;
  private decoder: OpusDecoder | undefined;
  private pc: RTCPeerConnection | undefined;
  private location: string | undefined;
  private linkIceServers: IceServer[] = [];
  private endSession: ((end: SessionEnd) => void) | undefined;
  private running: Promise<void> | undefined;
  private readonly out: Ordered[] = [];
  private consent: ConsentProbe | undefined;
  /** the URL as statuses, events and errors show it (token-like query values hidden) */
  private readonly shownUrl: string;
  // timeline: wall-clock time of the RTP clock's anchor
  private anchorWall = 0;
  private lastTs = 0;
  private elapsed48k = 0;
  /** wall time (ms) just after the last emitted sample */
  private emittedUntil = 0;
  private lastRtpAt = 0;
  private connectedAt = 0;
  private lastTransit = NaN;
  private jitter48k = 0;
  private statsBytesMark = 0;
  private statsAtMark = 0;
  // the counters of the stream; packet counts and jitter are taken from the reorder buffer and
  // the jitter estimate when read (stats), not copied on every packet
  private readonly counters: WhepStats = {
    packetsReceived: 0,
    packetsLost: 0,
    duplicates: 0,
    late: 0,
    jitterMs: 0,
    bitrateKbps: 0,
    bytesReceived: 0,
    reconnects: 0,
    polls: 0,
    chunks: 0,
    decodeErrors: 0,
  };
  /** called after each RTP packet's chunks were handed out, with its RTP timestamp and arrival time (performance.now()); for benchmarks */
  onPacket: ((rtpTs: number, arrivedAt: number) => void) | undefined;

  constructor(
    opts: WhepStreamOptions,
    private readonly sink: WhepStreamSink,
  ) {
    this.o = {
      iceServers: [],
      insecureTls: false,
      rate: 48000,
      channels: 2,
      chunkMs: 20,
      idleMs: 5000,
      idleSilence: false,
      idleReconnectMs: 0,
      pollMs: 1000,
      retryInitialMs: 500,
      retryMaxMs: 5000,
      connectTimeoutMs: 15000,
      reorderWindow: 3,
      ...stripUndefined(opts),
    } as WhepStream['o'];
    this.format = { rate: this.o.rate, channels: this.o.channels };
    this.shownUrl = redactUrl(this.o.url);
    this.backoff = new Backoff({ initialMs: this.o.retryInitialMs, maxMs: Math.max(this.o.retryInitialMs, this.o.retryMaxMs) });
    this.chunker = new Chunker({ ms: this.o.chunkMs });
    this.reorder = new ReorderBuffer({ window: this.o.reorderWindow, packetSamples: opusPacketSamples });
  }

  get state(): WhepState {
    return this.current;
  }

  /** The stream's statistics (a live object, brought up to date on each read). */
  get stats(): WhepStats {
    const c = this.counters;
    const r = this.reorder.stats;
    c.packetsReceived = r.received;
    c.packetsLost = r.lost;
    c.duplicates = r.duplicates;
    c.late = r.late;
    c.jitterMs = Math.round((this.jitter48k / 48) * 10) / 10;
    return c;
  }

  get stmId(): string {
    return this.o.stmId;
  }

  get traceId(): string | undefined {
    return this.o.traceId;
  }

  /** the URL with token-like query values hidden */
  get url(): string {
    return this.shownUrl;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Ends the stream: DELETEs the session, closes the connection, emits the last chunk and `complete`. */
  async stop(reason = 'stopped'): Promise<void> {
    if (!this.abort.signal.aborted) {
      this.abort.abort();
      this.endSession?.(new SessionEnd(reason));
    }
    await this.running;
  }

  /** Periodic housekeeping (the owner calls it a few times a second): idle detection, idle silence, stats. */
  tick(now = Date.now()): void {
    if (this.statsAtMark === 0) this.statsAtMark = now;
    if (now - this.statsAtMark >= 1000) {
      this.counters.bitrateKbps = Math.round(((this.counters.bytesReceived - this.statsBytesMark) * 8) / (now - this.statsAtMark));
      this.statsBytesMark = this.counters.bytesReceived;
      this.statsAtMark = now;
    }
    if (this.state !== 'live' && this.state !== 'idle' && this.state !== 'waiting') return;
    // the reorder window waits for a missing packet only while packets keep coming
    if (this.reorder.held > 0 && now - this.lastRtpAt > 200) this.emitOrdered(this.reorder.flush(this.out), now);
    const quietFor = now - (this.lastRtpAt || this.connectedAt);
    if (this.state === 'live' && quietFor >= this.o.idleMs) {
      this.reorder.reset(); // a returning publisher starts a new timeline
      this.lastTransit = NaN;
      this.enter('idle', 'idle', { reason: `no RTP for ${Math.round(quietFor / 1000)} s` });
    }
    if (this.state !== 'live') {
      if (this.o.idleSilence && quietFor >= this.o.idleMs) this.fillSilence(now);
      if (this.o.idleReconnectMs > 0 && quietFor >= this.o.idleReconnectMs) {
        this.endSession?.(new SessionEnd(`no RTP for ${Math.round(quietFor / 1000)} s`));
      }
    }
    // no RTP and two consent checks unanswered: the server is gone (werift alone waits 30 s)
    if (quietFor >= DEAD_QUIET_MS && this.consent && this.consent(now) >= DEAD_CONSENT_MISSES) {
      this.endSession?.(
        new SessionEnd('server stopped answering', new WhepError('whep.serverGone', `the server stopped answering (no RTP, ${DEAD_CONSENT_MISSES} ICE consent checks unanswered)`, { checks: DEAD_CONSENT_MISSES }, true)),
      );
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let fatal: CodedError | undefined;
    // while the server keeps answering 404, the polls are one "reconnecting" episode: no event per poll
    let polling = false;
    while (!signal.aborted) {
      if (!polling) this.enter('connecting', 'connecting');
      let end: SessionEnd;
      this.lastRtpAt = 0;
      this.connectedAt = 0;
      try {
        end = await this.session();
      } catch (err) {
        end = err instanceof SessionEnd ? err : new SessionEnd((err as Error).message, asCoded(err));
      }
      await this.teardown();
      if (signal.aborted) break;
      // a session that carried audio or stayed up a while proves the server works: its end is
      // retried quickly again. One that fails right after connecting does not reset the back-off,
      // so a server that accepts and drops at once is not hammered.
      if (this.connectedAt && (this.lastRtpAt || Date.now() - this.connectedAt >= PROVEN_SESSION_MS)) this.backoff.reset();
      const e = end.error;
      if (e && !(e instanceof WhepError && e.retry)) {
        fatal = e;
        break;
      }
      const after = Math.min((e instanceof WhepError ? e.retryAfterMs : undefined) ?? 0, Math.max(this.o.retryMaxMs, 1000));
      // "nobody publishes" is an answer, not a failure: ask again at a steady pace so a publisher
      // that appears is heard within about one interval; real errors back off
      const notFound = e instanceof WhepError && e.code === 'whep.notFound';
      const delay = notFound ? Math.max(this.o.pollMs, after) : Math.max(this.backoff.next(), after);
      if (!(polling && notFound)) this.enter('reconnecting', 'reconnecting', { reason: end.reason, error: e, retryInMs: delay });
      polling = notFound;
      await sleep(delay, signal);
      // asking again for a stream nobody publishes yet is no failure: a stream waiting an hour
      // for its publisher would otherwise show thousands of "reconnects"
      if (!signal.aborted) this.counters[notFound ? 'polls' : 'reconnects']++;
    }
    this.finish();
    // a fatal error: "error" (with the error), then "stopped" still in state error
    if (fatal) this.enter('error', 'error', { reason: fatal.message, error: fatal });
    this.enter(fatal ? 'error' : 'stopped', 'stopped', { reason: fatal ? fatal.message : 'stopped' });
  }

  /** One session: offer → answer → connected → media, until something ends it. */
  private async session(): Promise<SessionEnd> {
    const signal = this.abort.signal;
    const ended = new Promise<SessionEnd>((resolve) => (this.endSession = resolve));
    const hosts = this.o.iceHostAddresses?.filter(Boolean);
    const pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      iceServers: [...this.o.iceServers, ...this.linkIceServers],
      ...(hosts && hosts.length ? { iceUseIpv4: false, iceUseIpv6: false, iceAdditionalHostAddresses: hosts } : {}),
      // werift binds its UDP sockets to 0.0.0.0 unless told an interface address: with a single
      // IPv4 host address (e.g. loopback), bind to exactly that one
      ...(hosts && hosts.length === 1 && /^\d+\.\d+\.\d+\.\d+$/.test(hosts[0]) ? { iceInterfaceAddresses: { udp4: hosts[0] } } : {}),
      codecs: {
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1' })],
      },
    });
    this.pc = pc;
    // ready before the answer is applied: the server may send RTP as soon as DTLS is up
    this.decoder = new OpusDecoder(this.o.rate, this.o.channels);
    this.reorder.reset();
    const transceiver = pc.addTransceiver('audio', { direction: 'recvonly' });
    // packets werift has routed once take a shorter way from then on (lib/whep/werift/route.ts)
    const route = shortenRtpRoute(pc, transceiver.receiver, (rtp) => this.onRtp(rtp));
    transceiver.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        route?.learn(rtp);
        this.onRtp(rtp);
      });
    });
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'failed' || s === 'closed') this.endSession?.(new SessionEnd(`connection ${s}`, new WhepError('whep.connection', `ICE/DTLS connection ${s}`, { state: s }, true)));
    });
    // werift gathers before resolving setLocalDescription: the offer carries every candidate
    await pc.setLocalDescription(await pc.createOffer());
    if (signal.aborted) return new SessionEnd('stopped');
    const answer = await postOffer(this.o.url, pc.localDescription!.sdp, { token: this.o.token, insecureTls: this.o.insecureTls, signal });
    this.location = answer.location;
    // stopped while the offer was out: the session the server just made is DELETEd in teardown
    if (signal.aborted) return new SessionEnd('stopped');
    if (answer.iceServers.length) this.linkIceServers = answer.iceServers; // used from the next attempt on
    let sdp: string;
    try {
      sdp = sanitizeAnswer(answer.sdp);
      await pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (err) {
      throw new SessionEnd('malformed answer', new WhepError('whep.badAnswer', `the SDP answer of ${this.shownUrl} cannot be used: ${(err as Error).message}`, { url: this.shownUrl, reason: (err as Error).message }, false));
    }
    // receiver reports every 5 s as RTP recommends, not werift's 0.5–1.5 s (lib/whep/werift/rtcp.ts)
    paceReceiverReports(transceiver.receiver.dtlsTransport);
    const timeout = setTimeout(
      () => this.endSession?.(new SessionEnd('connect timeout', new WhepError('whep.connectTimeout', `ICE/DTLS did not connect within ${this.o.connectTimeoutMs} ms`, { ms: this.o.connectTimeoutMs }, true))),
      this.o.connectTimeoutMs,
    );
    const connected = new Promise<void>((resolve) => {
      if (pc.connectionState === 'connected') return resolve();
      const sub = pc.connectionStateChange.subscribe((s) => {
        if (s === 'connected') {
          sub.unSubscribe();
          resolve();
        }
      });
    });
    const first = await Promise.race([connected.then(() => undefined), ended]);
    clearTimeout(timeout);
    if (first) return first;
    this.connectedAt = Date.now();
    this.consent = watchConsent(pc);
    this.enter(this.lastRtpAt ? 'live' : 'waiting', 'connected');
    return ended;
  }

  private async teardown(): Promise<void> {
    this.endSession = undefined;
    this.consent = undefined;
    // what is still held back belongs to this session's timeline
    if (this.decoder) this.emitOrdered(this.reorder.flush(this.out), Date.now());
    this.reorder.reset();
    this.decoder?.close();
    this.decoder = undefined;
    const pc = this.pc;
    this.pc = undefined;
    const location = this.location;
    this.location = undefined;
    // SRS keeps a session 30 s after the peer goes away unless it is DELETEd
    const del = location ? deleteSession(location, { token: this.o.token, insecureTls: this.o.insecureTls, timeoutMs: 3000 }) : undefined;
    await Promise.all([pc?.close().catch(() => undefined), del]);
  }

  private onRtp(rtp: RtpPacket): void {
    if (!this.decoder) return;
    const arrivedAt = this.onPacket ? performance.now() : 0;
    const now = Date.now();
    const h = rtp.header;
    const st = this.counters;
    st.bytesReceived += rtp.payload.length;
    // RFC 3550 A.8 interarrival jitter, in RTP clock units
    const transit = now * 48 - h.timestamp;
    if (!Number.isNaN(this.lastTransit)) {
      let d = (transit - this.lastTransit) % 4294967296;
      if (d < 0) d = -d;
      if (d < 480000) this.jitter48k += (d - this.jitter48k) / 16;
    }
    this.lastTransit = transit;
    this.lastRtpAt = now;
    if (this.state === 'idle') {
      this.enter('live', 'resumed');
    } else if (this.state === 'waiting') {
      this.enter('live', 'live');
    }
    this.reorder.push(h.sequenceNumber, h.timestamp, rtp.payload, this.out);
    this.emitOrdered(this.out, now);
    this.onPacket?.(h.timestamp, arrivedAt);
  }

  private emitOrdered(out: Ordered[], now: number): void {
    const dec = this.decoder;
    if (!dec) {
      out.length = 0;
      return;
    }
    for (const o of out) {
      if (o.kind === 'reset') {
        this.anchorWall = Math.max(now, this.emittedUntil);
        this.lastTs = o.ts;
        this.elapsed48k = 0;
        continue;
      }
      const ts = o.ts;
      this.elapsed48k += (ts - this.lastTs) | 0;
      this.lastTs = ts;
      const wall = this.anchorWall + this.elapsed48k / 48;
      let pcm: Buffer;
      if (o.kind === 'gap') {
        pcm = dec.conceal(o.samples);
      } else {
        try {
          pcm = dec.decode(o.payload);
        } catch {
          this.counters.decodeErrors++;
          pcm = dec.conceal(o.samples);
        }
      }
      this.push(pcm, wall);
    }
    out.length = 0;
  }

  private push(pcm: Buffer, wall: number): void {
    const chunks = this.chunker.push(pcm, this.format, wall);
    this.emittedUntil = wall + ((pcm.length / (2 * this.format.channels)) * 1000) / this.format.rate;
    for (const c of chunks) this.send(c.pcm, c.seq, c.timestamp);
  }

  private fillSilence(now: number): void {
    const from = Math.max(this.emittedUntil, this.connectedAt);
    const frames = Math.floor(((now - from) * this.format.rate) / 1000);
    if (frames <= 0) return;
    this.push(Buffer.alloc(frames * 2 * this.format.channels), from);
    this.emittedUntil = from + (frames * 1000) / this.format.rate;
  }

  private send(pcm: Buffer, seq: number, timestamp: number | undefined, complete = false): void {
    this.counters.chunks++;
    const msg: PcmMessage = { payload: pcm, ...formatFields(this.format), stmId: this.o.stmId, seq, timestamp: timestamp ?? Date.now() };
    if (this.o.traceId !== undefined) msg.traceId = this.o.traceId;
    if (complete) msg.complete = true;
    this.sink.chunk(msg);
  }

  /** The stream ended: the partial chunk, then `complete: true`. */
  private finish(): void {
    const tail = this.chunker.flush();
    if (tail) this.send(tail.pcm, tail.seq, tail.timestamp);
    const seq = this.counters.chunks;
    this.send(Buffer.alloc(0), seq, this.emittedUntil || Date.now(), true);
  }

  /**
   * The one place the state changes: always together with its event, so the owner's summary
   * (the node status, recomputed on each event) never shows a state the events did not announce.
   */
  private enter(state: WhepState, event: WhepEventName, extra: Partial<WhepEvent> = {}): void {
    this.current = state;
    this.emit(event, extra);
  }

  private emit(event: WhepEventName, extra: Partial<WhepEvent> = {}): void {
    const ev: WhepEvent = { event, stmId: this.o.stmId, url: this.shownUrl, state: this.state, stats: { ...this.stats }, ...extra };
    if (this.o.traceId !== undefined) ev.traceId = this.o.traceId;
    this.sink.event(ev);
  }
}

function asCoded(err: unknown): CodedError {
  if (err instanceof CodedError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new WhepError('whep.session', `WHEP session failed: ${msg}`, { reason: msg }, true);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
