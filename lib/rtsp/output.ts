/**
 * RtspOutput: the one object the announcer (lib/announce, the tts-rtsp-out node) talks to.
 * It takes 20 ms PCM frames at wall-clock pace, encodes each frame ONCE with the chosen codec and
 * sends the RTP packets to every player of the embedded server (`serve`) or to an external server
 * (`push`). RTP time follows the frames written (no drift against the caller's clock); RTCP sender
 * reports map it to wall-clock NTP time every 5 s of it.
 *
 * From plain Node:
 *   const out = new RtspOutput({ mode: 'serve', codec: 'opus', rate: 48000, channels: 1, frameMs: 20,
 *     serve: { host: '0.0.0.0', port: 8554, path: 'announce' } });
 *   out.on('error', (e) => console.error(e.message));
 *   await out.start();                      // then: ffplay rtsp://127.0.0.1:8554/announce
 *   setInterval(() => out.writeFrame(Buffer.alloc(1920)), 20); // a real pacer uses an absolute clock
 */
import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import type { LookupFunction } from 'node:net';
import { CodedError } from '../util/errors';
import { AacPayloadEncoder } from './aac';
import type { RtspAuth } from './auth';
import { G711PayloadEncoder, L16PayloadEncoder, OpusPayloadEncoder, RTSP_CODECS, badConfig, checkCodecInput, type EncodedUnit, type PayloadEncoder, type RtspCodec } from './codecs';
import { RtspPublisher } from './publisher';
import { RtpStream } from './rtp';
import { buildSdp } from './sdp';
import { RtspServer, normalizePath } from './server';

export type { RtspCodec } from './codecs';
export type { RtspAuth } from './auth';

export interface RtspOutputOptions {
  mode: 'serve' | 'push';
  /** default 'opus' */
  codec: RtspCodec;
  /** rate of the PCM fed in: 48000 for opus, 8000 for pcmu/pcma, any for l16, 44100/48000 for aac */
  rate: number;
  channels: 1;
  /** length of one frame (ms): writeFrame is called every frameMs of wall clock */
  frameMs: number;
  /** maxPlayers: most players at once (default 100), a SETUP beyond is refused with 453 */
  serve?: { host: string; port: number; path: string; auth?: RtspAuth & { scheme?: 'basic' | 'digest' }; sessionTimeoutSec?: number; maxPlayers?: number };
  push?: { url: string; auth?: RtspAuth; transport?: 'tcp' | 'udp'; backoff?: { initialMs: number; maxMs: number }; lookup?: LookupFunction };
  /** ffmpeg executable for AAC (default `ffmpeg` on PATH) */
  ffmpegPath?: string;
  /** the folder a relative ffmpegPath is taken from (Node-RED's user directory; default: the working directory) */
  baseDir?: string;
  /** encoder bit rate (bit/s) for opus (default 32000) and aac (default 64000) */
  bitrate?: number;
}

export type RtspOutputState = 'idle' | 'listening' | 'connecting' | 'publishing' | 'reconnecting' | 'closed';

export interface RtspOutputStats {
  /** RTP packets put on the wire (one per listener / publisher send) */
  packetsSent: number;
  bytesSent: number;
  listeners: number;
  reconnects: number;
  /** frames written while nothing could take them (push not connected) */
  framesDropped: number;
  /** serve: SETUPs refused (a Transport we cannot honour, or no room for another player) */
  setupsRefused: number;
  /** serve: players dropped because sending to them kept failing */
  playersDropped: number;
  /** serve: connections closed for not completing a request in time */
  connectionsTimedOut: number;
  /** push mode: datagrams the operating system refused to send (UDP transport) */
  sendErrors?: number;
  lastError?: string;
}

function displayHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return host.includes(':') ? `[${host}]` : host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export class RtspOutput extends EventEmitter {
  private readonly opts: RtspOutputOptions;
  private _state: RtspOutputState = 'idle';
  private encoder: PayloadEncoder | undefined;
  private rtp: RtpStream | undefined;
  private server: RtspServer | undefined;
  private publisher: RtspPublisher | undefined;
  private readonly frameSamples: number;
  /** input samples written so far: the RTP clock's source */
  private samples = 0;
  private markNext = true;
  private framesDropped = 0;
  private lastError: string | undefined;
  /** close() was called: nothing may start or be sent any more */
  private closing = false;
  private readonly sessionId = Math.floor(Math.random() * 1e9);

  constructor(opts: RtspOutputOptions) {
    super();
    const o = { ...opts, codec: opts.codec ?? 'opus', frameMs: opts.frameMs ?? 20, channels: 1 as const };
    if (o.mode !== 'serve' && o.mode !== 'push') throw badConfig('mode', String(o.mode), '"serve" or "push"');
    if (!RTSP_CODECS.includes(o.codec)) throw badConfig('codec', String(o.codec), RTSP_CODECS.join(', '));
    if (opts.channels !== undefined && opts.channels !== 1) throw badConfig('channel count', opts.channels, 'mono (1) only');
    if (!Number.isInteger(o.rate) || o.rate < 8000 || o.rate > 192000) throw badConfig('rate', o.rate, 'a whole number of Hz from 8000');
    if (!(o.frameMs > 0) || !Number.isInteger((o.rate * o.frameMs) / 1000)) throw badConfig('frame length', `${o.frameMs} ms`, 'a whole number of samples per frame, e.g. 20 ms');
    checkCodecInput(o.codec, o.rate, o.frameMs);
    if (o.mode === 'serve' && !o.serve) throw badConfig('serve settings', 'missing', 'host, port and path');
    if (o.mode === 'push' && !o.push) throw badConfig('push settings', 'missing', 'a URL like rtsp://host:8554/path');
    const maxPlayers = o.serve?.maxPlayers;
    if (o.mode === 'serve' && maxPlayers !== undefined && !(Number.isInteger(maxPlayers) && maxPlayers >= 1)) throw badConfig('maximum players', String(maxPlayers), 'a whole number from 1');
    this.opts = o;
    this.frameSamples = (o.rate * o.frameMs) / 1000;
    if (o.mode === 'push') this.publisher = this.makePublisher(); // validates the URL now
  }

  get state(): RtspOutputState {
    return this._state;
  }

  /**
   * Players currently playing (serve). Named `players`, not `listeners`: an EventEmitter already
   * has a `listeners(event)` method that Node and libraries call, so it must not be shadowed.
   * `stats().listeners` and the 'listener' event carry the same count.
   */
  get players(): number {
    return this.server?.players ?? 0;
  }

  /** The rtsp:// URL players use (serve) or we publish to (push). */
  get url(): string {
    if (this.opts.mode === 'push') return this.publisher!.url;
    const s = this.opts.serve!;
    return `rtsp://${displayHost(s.host)}:${this.server?.port || s.port}${normalizePath(s.path)}`;
  }

  /** Bytes of one frame (s16le mono). */
  get frameBytes(): number {
    return this.frameSamples * 2;
  }

  stats(): RtspOutputStats {
    return {
      packetsSent: (this.server?.packetsSent ?? 0) + (this.publisher?.packetsSent ?? 0),
      bytesSent: (this.server?.bytesSent ?? 0) + (this.publisher?.bytesSent ?? 0),
      listeners: this.players,
      reconnects: this.publisher?.reconnects ?? 0,
      framesDropped: this.framesDropped,
      setupsRefused: this.server?.setupsRefused ?? 0,
      playersDropped: this.server?.playersDropped ?? 0,
      connectionsTimedOut: this.server?.connectionsTimedOut ?? 0,
      ...(this.publisher ? { sendErrors: this.publisher.sendErrors } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  private setState(s: RtspOutputState, detail?: string): void {
    if (this._state === s) return;
    this._state = s;
    this.emit('state', s, detail);
  }

  /** 'error' without a listener would throw inside a socket callback and kill the process. */
  private report(err: CodedError): void {
    this.lastError = err.message;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.emit('log', err.message);
  }

  private sdp = (address: string): string => buildSdp(this.encoder!, { sessionId: this.sessionId, address });

  private requestSenderReport = (): void => this.rtp?.requestSenderReport();

  private makePublisher(): RtspPublisher {
    const p = this.opts.push!;
    const pub = new RtspPublisher({ url: p.url, auth: p.auth, transport: p.transport ?? 'tcp', backoff: p.backoff, lookup: p.lookup, sdp: this.sdp, requestSenderReport: this.requestSenderReport });
    pub.on('state', (s: 'connecting' | 'publishing' | 'reconnecting' | 'closed', detail?: string) => {
      if (s === 'publishing') this.markNext = true;
      if (this._state !== 'closed') this.setState(s, detail);
    });
    pub.on('failure', (err: CodedError) => this.report(err));
    return pub;
  }

  private makeEncoder(): PayloadEncoder {
    const { codec, rate, frameMs } = this.opts;
    const emit = (u: EncodedUnit) => this.send(u);
    switch (codec) {
      case 'opus':
        return new OpusPayloadEncoder(rate, frameMs, emit, this.opts.bitrate);
      case 'pcmu':
      case 'pcma':
        return new G711PayloadEncoder(codec, rate, emit);
      case 'l16':
        return new L16PayloadEncoder(rate, emit);
      case 'aac':
        return new AacPayloadEncoder(
          {
            rate,
            bitrate: this.opts.bitrate,
            ffmpegPath: this.opts.ffmpegPath,
            baseDir: this.opts.baseDir,
            onLog: (l) => this.emit('log', l),
            onError: (e) => this.report(e),
          },
          emit,
        );
    }
  }

  /**
   * serve: resolves when listening (rejects with a CodedError such as rtsp.portInUse);
   * push: resolves at once and connects in the background, retrying with back-off.
   */
  async start(): Promise<void> {
    if (this._state !== 'idle' || this.closing) throw new CodedError('rtsp.alreadyStarted', 'RTSP output was already started (or closed): create a new one', {});
    this.encoder = this.makeEncoder(); // throws rtsp.ffmpegMissing for AAC without ffmpeg
    this.rtp = new RtpStream(this.encoder.payloadType, this.encoder.clockRate);
    if (this.opts.mode === 'serve') {
      const s = this.opts.serve!;
      const server = new RtspServer({ ...s, sdp: this.sdp, requestSenderReport: this.requestSenderReport, nextPacket: () => ({ seq: this.rtp!.nextSeq, rtptime: this.nextTimestamp() }) });
      server.on('listener', (e: { count: number; remote: string }) => this.emit('listener', e));
      server.on('log', (l: string) => this.emit('log', l));
      // a player dropped (CodedError rtsp.playerDropped): worth a warning, the stream goes on
      server.on('warning', (w: CodedError) => this.emit('warning', w));
      try {
        await server.start();
      } catch (err) {
        await this.encoder?.close();
        this.encoder = undefined;
        this.setState('closed', (err as Error).message);
        throw err;
      }
      if (this.closing) {
        // close() ran while we were binding: release what start() just took
        await server.close();
        return;
      }
      this.server = server;
      this.setState('listening', this.url);
    } else {
      this.setState('connecting', this.url);
      this.publisher!.start();
    }
  }

  /**
   * Takes exactly one frame (frameMs) of s16le mono PCM at opts.rate. Never throws for a missing
   * listener or a disconnected target (the frame is then dropped); throws only for a frame of the
   * wrong size, which is a programming error of the caller.
   */
  writeFrame(pcm: Buffer): void {
    if (!this.encoder || this.closing) return;
    if (pcm.length !== this.frameSamples * 2) {
      throw new CodedError('rtsp.badFrame', `RTSP output expects frames of ${this.frameSamples * 2} bytes (${this.opts.frameMs} ms at ${this.opts.rate} Hz), got ${pcm.length}`, {
        expected: this.frameSamples * 2,
        got: pcm.length,
      });
    }
    // RTP time counts the frames written, nothing else: the pacer writes one frame per frameMs on
    // an absolute clock and catches up after a stall, so frames written == wall time elapsed.
    // (Jumping RTP time forward after a stall would count the catch-up frames twice.)
    const ts = Math.round((this.samples * this.encoder.clockRate) / this.opts.rate);
    this.samples += this.frameSamples;
    if (this.opts.mode === 'push' && this._state !== 'publishing' && this.opts.codec !== 'aac') {
      this.framesDropped++;
      return; // no one to send to: skip the encoding work too
    }
    this.encoder.encode(pcm, ts);
  }

  /**
   * Up to `maxFrames` frames of silence as one packet where the codec can (Opus, once its encoder
   * has settled on silence); otherwise one silent frame as writeFrame would send it. Returns the
   * frames written: the caller's clock must then skip that many frame times. RTP time still
   * counts every frame, so the timeline is the one single frames would give.
   */
  writeSilence(maxFrames: number): number {
    if (!this.encoder || this.closing) return 1;
    const dropping = this.opts.mode === 'push' && this._state !== 'publishing' && this.opts.codec !== 'aac';
    if (maxFrames >= 2 && !dropping && this.encoder.encodeSilence) {
      const ts = Math.round((this.samples * this.encoder.clockRate) / this.opts.rate);
      const k = this.encoder.encodeSilence(maxFrames, ts);
      if (k > 0) {
        this.samples += k * this.frameSamples;
        return k;
      }
    }
    this.silentFrame ??= Buffer.alloc(this.frameSamples * 2);
    this.writeFrame(this.silentFrame);
    return 1;
  }

  private silentFrame: Buffer | undefined;

  /** RTP time of the next frame to be written (what RTP-Info announces to a new player). */
  private nextTimestamp(): number {
    return Math.round((this.samples * (this.encoder?.clockRate ?? this.opts.rate)) / this.opts.rate) >>> 0;
  }

  private send(u: EncodedUnit): void {
    const rtp = this.rtp!;
    // built once (interleaved header room in front), the same buffer to every player/publisher
    const packet = rtp.packet(u.payload, u.timestamp, u.marker ?? this.markNext);
    this.markNext = false;
    // broadcast() settles every player's failure with that player; and whatever else sending
    // meets stays here: it never reaches the encoder (the AAC one calls this from a pipe's data
    // handler) nor the pacer, so the stream's clock and frame count never depend on the players
    try {
      this.server?.broadcast(packet);
      // AAC frames are encoded even while disconnected (the ffmpeg child keeps its pipe flowing)
      if (this.publisher && !this.publisher.sendRtp(packet) && this.opts.codec === 'aac') this.framesDropped++;
      // RTCP sender reports ride on the stream's own clock: every 5 s of RTP time (RFC 3550's
      // minimum interval), right after the packet whose timestamp they map to NTP
      if (rtp.senderReportDue) {
        const sr = rtp.senderReport();
        this.server?.broadcastRtcp(sr);
        this.publisher?.sendRtcp(sr);
      }
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.lastSendError) this.emit('log', `RTSP output: sending a packet failed: ${message}`);
      this.lastSendError = message;
    }
  }

  /** the last send failure logged (the same one is not logged 50 times a second) */
  private lastSendError: string | undefined;

  /** Releases every socket, timer and child process. */
  async close(): Promise<void> {
    this.closing = true;
    const encoder = this.encoder;
    this.encoder = undefined;
    const server = this.server;
    this.server = undefined;
    const pub = this.publisher;
    await Promise.all([encoder?.close(), server?.close(), pub?.close()]);
    this.setState('closed');
  }
}
