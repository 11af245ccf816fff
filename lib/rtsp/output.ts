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
import { TRACK_CONTROL, VIDEO_TRACK_CONTROL, buildSdp } from './sdp';
import { RtspServer, normalizePath } from './server';
import { FPS_MAX, FPS_MIN, MjpegCoder, VideoTrack, type VideoCoder } from './video-track';
import { H264Coder, findH264Ffmpeg } from './h264';

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
  /**
   * A second track: a still picture, shown with showVideo() and re-sent `fps` times a second
   * (1–10), as RTP/JPEG (codec 'mjpeg', the default) or H.264 ('h264', encoded by an ffmpeg
   * child: ffmpegPath). Width and height: multiples of 16 up to 2032. Serve: DESCRIBE offers both
   * tracks; push: both are ANNOUNCEd and SET UP.
   */
  video?: { fps: number; width: number; height: number; codec?: 'mjpeg' | 'h264' };
  /** H.264: how long start() waits for the encoder's first picture (ms, default 15000) */
  videoStartMs?: number;
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
  /** with video: pictures sent, re-sends included */
  videoFrames?: number;
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
  private video: VideoTrack | undefined;
  /** H.264: the ffmpeg program, found at construction (a missing one is refused at deploy) */
  private readonly videoFfmpeg: string | undefined;
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
    if (o.video) {
      const v = o.video;
      if (!Number.isInteger(v.fps) || v.fps < FPS_MIN || v.fps > FPS_MAX) throw badConfig('video frame rate', v.fps, `a whole number of frames per second from ${FPS_MIN} to ${FPS_MAX}`);
      for (const [name, x] of [['video width', v.width], ['video height', v.height]] as const) {
        if (!Number.isInteger(x) || x < 64 || x > 2032 || x % 16) throw badConfig(name, x, 'a multiple of 16 from 64 to 2032 (RTP/JPEG)');
      }
      if (v.codec !== undefined && v.codec !== 'mjpeg' && v.codec !== 'h264') throw badConfig('video codec', String(v.codec), 'mjpeg or h264');
    }
    const maxPlayers = o.serve?.maxPlayers;
    if (o.mode === 'serve' && maxPlayers !== undefined && !(Number.isInteger(maxPlayers) && maxPlayers >= 1)) throw badConfig('maximum players', String(maxPlayers), 'a whole number from 1');
    this.opts = o;
    if (o.video?.codec === 'h264') this.videoFfmpeg = findH264Ffmpeg(o); // throws video.ffmpegMissing
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
      ...(this.video ? { videoFrames: this.video.framesSent } : {}),
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

  private sdp = (address: string): string => {
    const v = this.opts.video;
    const c = this.video?.coder;
    return buildSdp(this.encoder!, { sessionId: this.sessionId, address, video: v && c && { payloadType: c.payloadType, rtpmap: c.rtpmap, fmtp: c.fmtp, fps: v.fps, width: v.width, height: v.height } });
  };

  private requestSenderReport = (): void => {
    this.rtp?.requestSenderReport();
    // a player that starts shows the picture at once, not after up to a period
    this.video?.refresh();
  };

  private makePublisher(): RtspPublisher {
    const p = this.opts.push!;
    const tracks = this.opts.video ? [TRACK_CONTROL, VIDEO_TRACK_CONTROL] : [TRACK_CONTROL];
    const pub = new RtspPublisher({ url: p.url, auth: p.auth, transport: p.transport ?? 'tcp', backoff: p.backoff, lookup: p.lookup, sdp: this.sdp, tracks, requestSenderReport: this.requestSenderReport });
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

  private makeVideoCoder(): VideoCoder {
    const v = this.opts.video!;
    if (v.codec !== 'h264') return new MjpegCoder();
    // the first dynamic payload type the audio does not use (Opus has 96)
    const payloadType = this.encoder!.payloadType === 96 ? 97 : 96;
    return new H264Coder({ ffmpeg: this.videoFfmpeg!, fps: v.fps, width: v.width, height: v.height, payloadType, onLog: (l) => this.emit('log', l), onError: (e) => this.report(e) });
  }

  private h264Ready(coder: H264Coder): Promise<void> {
    const ms = this.opts.videoStartMs ?? 15000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const why = coder.lastLine ? `; its last words: ${coder.lastLine}` : '';
        reject(new CodedError('video.h264NoStart', `ffmpeg (H.264 encoder) encoded no picture within ${ms / 1000} s${why}`, { seconds: ms / 1000, reason: coder.lastLine || '-' }));
      }, ms);
    });
    return Promise.race([coder.ready, late]).finally(() => clearTimeout(timer));
  }

  /**
   * serve: resolves when listening (rejects with a CodedError such as rtsp.portInUse);
   * push: resolves at once and connects in the background, retrying with back-off.
   */
  async start(): Promise<void> {
    if (this._state !== 'idle' || this.closing) throw new CodedError('rtsp.alreadyStarted', 'RTSP output was already started (or closed): create a new one', {});
    this.encoder = this.makeEncoder(); // throws rtsp.ffmpegMissing for AAC without ffmpeg
    this.rtp = new RtpStream(this.encoder.payloadType, this.encoder.clockRate);
    const v = this.opts.video;
    if (v) {
      this.video = new VideoTrack(v.fps, v.width, v.height, (p) => {
        // as for audio: a failure while sending stays here, away from the pacer
        try {
          this.server?.broadcastFrame(p, 1);
          if (this.publisher) for (const x of p) this.publisher.sendRtp(x, 1);
        } catch (err) {
          this.sendFailedLog(err as Error);
        }
      }, this.rtp.cname, this.makeVideoCoder());
      const coder = this.video.coder;
      if (coder instanceof H264Coder) {
        // the SDP (DESCRIBE, ANNOUNCE) carries the SPS and PPS: known once the first picture is encoded
        try {
          await this.h264Ready(coder);
        } catch (err) {
          await Promise.all([this.encoder?.close(), coder.close()]);
          this.encoder = undefined;
          this.setState('closed', (err as Error).message);
          throw err;
        }
        if (this.closing) return;
      }
    }
    if (this.opts.mode === 'serve') {
      const s = this.opts.serve!;
      const server = new RtspServer({
        ...s,
        sdp: this.sdp,
        requestSenderReport: this.requestSenderReport,
        tracks: this.video ? [TRACK_CONTROL, VIDEO_TRACK_CONTROL] : [TRACK_CONTROL],
        nextPacket: (track) =>
          track === 1 && this.video ? { seq: this.video.rtp.nextSeq, rtptime: this.video.rtpTime(this.mediaMs) } : { seq: this.rtp!.nextSeq, rtptime: this.nextTimestamp() },
      });
      server.on('listener', (e: { count: number; remote: string }) => this.emit('listener', e));
      server.on('log', (l: string) => this.emit('log', l));
      // a player dropped (CodedError rtsp.playerDropped): worth a warning, the stream goes on
      server.on('warning', (w: CodedError) => this.emit('warning', w));
      try {
        await server.start();
      } catch (err) {
        await Promise.all([this.encoder?.close(), this.video?.coder.close()]);
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
    this.lastFrameMs = this.mediaMs;
    this.samples += this.frameSamples;
    if (this.opts.mode === 'push' && this._state !== 'publishing' && this.opts.codec !== 'aac') {
      this.framesDropped++;
      return; // no one to send to: skip the encoding work too
    }
    this.encoder.encode(pcm, ts);
    this.video?.tick(this.lastFrameMs, this.mediaMs);
  }

  /** Media time (ms of audio written so far): the clock both tracks' RTP time derives from. */
  get mediaMs(): number {
    return (this.samples * 1000) / this.opts.rate;
  }

  /** Media time at which the last frame written starts. */
  lastFrameMs = 0;

  /**
   * Shows a picture on the video track from media time `atMs` (default: the start of the last
   * frame written, i.e. the audio that has just gone out): a baseline JPEG at the configured size,
   * 4:2:0 or 4:2:2 (lib/video/jpeg.ts makes such). Throws video.badJpeg for another JPEG.
   */
  showVideo(jpeg: Buffer, atMs = this.lastFrameMs): void {
    if (!this.video || this.closing) return;
    this.video.show(jpeg, atMs);
  }

  /** A picture for media time `atMs` is on its way: hold the re-sends until it is shown. */
  expectVideo(atMs = this.lastFrameMs): void {
    this.video?.expect(atMs);
  }

  cancelVideo(): void {
    this.video?.cancelExpect();
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
        this.lastFrameMs = this.mediaMs;
        this.samples += k * this.frameSamples;
        this.video?.tick(this.lastFrameMs, this.mediaMs);
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
        if (this.video) {
          // the video's report maps the same wall-clock instant to the same media time at 90 kHz:
          // one clock for both tracks (the audio timestamp unwrapped against the samples written)
          const clock = this.encoder!.clockRate;
          const now = (this.samples * clock) / this.opts.rate;
          const unwrapped = u.timestamp + Math.round((now - u.timestamp) / 2 ** 32) * 2 ** 32;
          const vsr = this.video.rtp.senderReportFor(rtp.anchorWallMs, this.video.rtpTime((unwrapped * 1000) / clock));
          this.server?.broadcastRtcp(vsr, 1);
          this.publisher?.sendRtcp(vsr, 1);
        }
      }
    } catch (err) {
      this.sendFailedLog(err as Error);
    }
  }

  private sendFailedLog(err: Error): void {
    const message = err.message;
    if (message !== this.lastSendError) this.emit('log', `RTSP output: sending a packet failed: ${message}`);
    this.lastSendError = message;
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
    await Promise.all([encoder?.close(), server?.close(), pub?.close(), this.video?.coder.close()]);
    this.setState('closed');
  }
}
