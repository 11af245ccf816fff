/**
 * H.264 for the video track, through one supervised ffmpeg child per stream (like AAC: no
 * well-kept pure-JS/wasm H.264 encoder exists; ffmpeg only encodes, our server and publisher
 * carry the stream, so a restart of the child never drops a player or the push connection).
 *
 * Each frame the track asks for (a change, a re-send every period) is the board's current JPEG
 * written to the child; the child decodes it, encodes it with libx264 (ultrafast, zerolatency: no
 * B-frames, no look-ahead, so every frame comes back before the next is asked for) and hands the
 * access unit back; a FIFO of the RTP times asked for stamps each access unit as it returns.
 * The board is a still picture: a re-send is a P-frame of a few hundred bytes, a change a P-frame
 * of what changed, and an IDR every `fps` frames (at most a second apart, since at least `fps`
 * frames go out a second) lets a player that joins late start.
 *
 * The framing on both pipes is chosen so no frame waits for the next one:
 * - in: multipart JPEG (`-f mpjpeg`) with Content-Length, which ffmpeg reads by its length; a
 *   bare JPEG stream (image2pipe) goes through ffmpeg's MJPEG parser, which ends a picture only
 *   when the next one starts: every board would come out a period late;
 * - out: FLV, whose tags carry their size: an access unit is complete when its tag is; a raw
 *   Annex B stream ends an access unit only at the next one's start code, again a period late.
 *   FLV's AVC sequence header brings the SPS and PPS (the SDP's sprop-parameter-sets); they are
 *   also put in front of every IDR, so a player that ignores the SDP can start at any IDR.
 *
 * A still board costs (almost) nothing: once the child has encoded two whole GOPs of the current
 * picture (IDR_k … the frame before IDR_k+2), the coder keeps their access units and stops
 * feeding the child; every later frame hands out the next kept one in a loop (IDR_k, P…,
 * IDR_k+1, P…, IDR_k, …). Each IDR starts frame_num and the picture order count afresh, and
 * x264 alternates idr_pic_id, so the loop is a valid stream in which no two IDRs in a row share
 * an idr_pic_id even at 1 fps (one frame per GOP). With `-g fps` (ultrafast: no scene cuts) an
 * IDR comes every fps frames and only there, and the loop starts right after the child's last
 * frame of a GOP: a change goes to the child, whose next frame is an IDR, so it goes out as one.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { CodedError } from '../util/errors';
import { findExecutable, type PlatformEnv } from '../util/executable';
import { encodeJpeg } from '../video/jpeg';
import { FfmpegChild } from './ffmpeg-child';
import { NAL_IDR, NAL_SEI, NAL_SPS, h264Fmtp, h264Payloads, idrPicId, nalType, parseAvcC, parseSpsLayout, splitLengthPrefixed, type SpsLayout } from './h264-rtp';
import { parseJpeg } from './jpeg-rtp';
import type { VideoCoder, VideoFrameOut } from './video-track';

export function h264FfmpegMissing(name: string): CodedError {
  return new CodedError(
    'video.ffmpegMissing',
    `H.264 video needs ffmpeg, but "${name}" was not found on PATH or in the usual install folders: install ffmpeg (Windows: winget install ffmpeg; macOS: brew install ffmpeg; Linux: the ffmpeg package) and give its full path in the node's ffmpeg setting if Node-RED does not find it, or choose MJPEG, which needs no other program`,
    { name },
  );
}

/** The ffmpeg program for H.264 (found now: a missing ffmpeg is refused at deploy). */
export function findH264Ffmpeg(opts: { ffmpegPath?: string; baseDir?: string; platform?: PlatformEnv }): string {
  const name = opts.ffmpegPath || 'ffmpeg';
  const found = findExecutable(name, { ...opts.platform, baseDir: opts.baseDir });
  if (!found) throw h264FfmpegMissing(name);
  return found;
}

export interface H264Options {
  /** the ffmpeg program, found with findH264Ffmpeg */
  ffmpeg: string;
  fps: number;
  width: number;
  height: number;
  payloadType: number;
  backoff?: { initialMs: number; maxMs: number };
  onLog: (line: string) => void;
  onError: (err: CodedError) => void;
}

/** A stuck child must not make us buffer without bound: this many frames asked for and not back. */
const MAX_IN_FLIGHT = 30;
/** A frame not back after this long was lost inside ffmpeg (it never drops one by design): its stamp is skipped. */
const LOST_AFTER_MS = 2000;
const MPJPEG_BOUNDARY = 'ffmpeg';

interface Asked {
  /** RTP time to stamp the access unit with; undefined for a picture only the child sees (dropped) */
  rtpTime: number | undefined;
  at: number;
  /** the picture's generation (see H264Coder.gen) */
  gen: number;
}

/** An access unit kept for the still board's loop. */
interface KeptAu {
  payloads: Buffer[];
  /** idr_pic_id when an IDR */
  idrId: number | undefined;
}

export class H264Coder implements VideoCoder {
  readonly rtpmap = 'H264/90000';
  /**
   * ffmpeg's H.264 decoder (ffplay, mpv, ffmpeg; VLC's avcodec) decodes on a thread per core plus
   * one by default and hands a frame on only after about that many more: at 2 fps that held a
   * new board back 1.5 s on a 2-core machine. Ten follow-ups (tiny P-frames, 20 ms apart) cover
   * players with up to 8 cores at the cost of ten encodings per change; a player with more cores
   * shows it within its whole periods as before.
   */
  static readonly FOLLOW_UPS = 10;
  readonly followUps = H264Coder.FOLLOW_UPS;
  readonly payloadType: number;
  private out: VideoFrameOut | undefined;
  private readonly child: FfmpegChild;
  /** the current picture framed for the child's input (multipart header + JPEG + CRLF) */
  private framed: Buffer | undefined;
  private fifo: Asked[] = [];
  private pending = Buffer.alloc(0);
  private headerSeen = false;
  private lengthSize = 4;
  private sps: Buffer | undefined;
  private pps: Buffer | undefined;
  private readyResolve!: () => void;
  private readyReject!: (err: Error) => void;
  private isReady = false;
  /**
   * Resolves once the SPS and PPS are known (the first picture encoded); rejects with
   * video.h264Failed when the first child ends before (no libx264, a bad option: its last line
   * says why) and when the coder is closed before.
   */
  readonly ready: Promise<void>;
  /** frames asked for while the child was down or stuck, and frames lost inside it */
  framesDropped = 0;
  idrs = 0;
  /** pictures written to the encoder child (a still board stops writing) */
  framesEncoded = 0;
  /** frames handed out from the still board's loop */
  framesLooped = 0;
  /** bumped by every new picture: only access units of the current one are kept */
  private gen = 0;
  /** access units of the current picture from one of its IDRs on, at most two GOPs (the last two) */
  private kept: KeptAu[] = [];
  private looping = false;
  private loopPos = 0;
  /**
   * The last frame out was the loop's first IDR, whose idr_pic_id the child's next IDR has too:
   * the child first encodes one GOP nobody sees, so the change's IDR has the other one.
   */
  private idrClash = false;
  private spsLayout: SpsLayout | undefined;
  /** the encoder did something the loop relies on differently: it is not used (logged once) */
  private noLoop = false;

  constructor(private readonly opts: H264Options) {
    this.payloadType = opts.payloadType;
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.then(() => (this.isReady = true), () => {});
    const g = String(opts.fps);
    const args = ['-hide_banner', '-loglevel', 'warning', '-analyzeduration', '0', '-f', 'mpjpeg', '-i', 'pipe:0'];
    // no -vsync/-fps_mode (ffmpeg before 5.1 lacks -fps_mode, newer ones drop -vsync): FLV takes a
    // variable frame rate, so ffmpeg's default passes every frame on as it comes, one out per one
    // in (the track decides when frames go out), never duplicated or dropped to a frame rate
    args.push('-an');
    // JPEG is full range; players expect H.264 in limited range (some NVRs ignore the range flag)
    args.push('-vf', 'scale=in_range=pc:out_range=tv,format=yuv420p');
    args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-bf', '0', '-g', g, '-keyint_min', g);
    args.push('-f', 'flv', '-flush_packets', '1', 'pipe:1');
    this.child = new FfmpegChild({
      program: opts.ffmpeg,
      args,
      role: 'H.264 encoder',
      codes: { missing: h264FfmpegMissing, failed: 'video.ffmpegFailed', exited: 'video.ffmpegExited' },
      backoff: opts.backoff,
      onSpawn: (c) => this.onSpawn(c),
      onStdout: (d) => this.onFlv(d),
      onLog: opts.onLog,
      onError: (e) => {
        if (!this.isReady) this.fail(e.code === 'video.ffmpegMissing' ? e.message : this.child.lastLine || e.message);
        opts.onError(e);
      },
    });
  }

  private fail(reason: string): void {
    this.readyReject(new CodedError('video.h264Failed', `the H.264 encoder (ffmpeg) could not start: ${reason}`, { reason }));
  }

  get fmtp(): string | undefined {
    return this.sps && this.pps ? h264Fmtp(this.sps, this.pps) : undefined;
  }

  /** The ffmpeg child's pid (tests use it to check supervision). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get restarts(): number {
    return this.child.restarts;
  }

  /** The child's last stderr line (why it would not start). */
  get lastLine(): string {
    return this.child.lastLine;
  }

  attach(out: VideoFrameOut): void {
    this.out = out;
  }

  private onSpawn(c: ChildProcessWithoutNullStreams): void {
    this.fifo = [];
    // a new child starts again at frame 0 (an IDR) and at its own idr_pic_id: the loop, kept from
    // the last child's numbering, is dropped, and the next frame goes to the new child
    this.kept = [];
    this.looping = false;
    this.idrClash = false;
    this.pending = Buffer.alloc(0);
    this.headerSeen = false;
    // the first child encodes a blank picture of the board's size, so the SPS and PPS (the SDP
    // needs them before any player or push target is served) are known before the first board
    if (!this.sps) {
      const grey = encodeJpeg(new Uint8Array(this.opts.width * this.opts.height * 4).fill(16), this.opts.width, this.opts.height, 50).jpeg;
      this.write(c, mpjpegPart(grey), undefined, -1);
    }
  }

  setPicture(jpeg: Buffer): void {
    const p = parseJpeg(jpeg);
    if (p.width !== this.opts.width || p.height !== this.opts.height) {
      throw new CodedError('video.wrongSize', `this picture is ${p.width}×${p.height}, but the video track is ${this.opts.width}×${this.opts.height}`, { width: p.width, height: p.height, trackWidth: this.opts.width, trackHeight: this.opts.height });
    }
    this.framed = mpjpegPart(jpeg);
    this.gen++;
    // (a second picture before the next frame keeps what the first found)
    if (this.looping) this.idrClash = this.loopPos === 1;
    this.looping = false;
    this.kept = [];
  }

  /**
   * A player starts (or a push target takes the stream again): while the still board loops, the
   * loop goes on from one of its IDRs, so the player decodes the board from its first frame
   * instead of waiting up to a second for the next one. Of the two, the one whose idr_pic_id
   * differs from the last IDR sent: two IDRs back to back must not share it.
   */
  refresh(): void {
    if (!this.looping) return;
    const fps = this.opts.fps;
    this.loopPos = this.kept[0].idrId !== this.lastLoopIdr ? 0 : fps;
  }

  /** idr_pic_id of the last IDR handed out from the loop */
  private lastLoopIdr: number | undefined;

  frame(rtpTime: number): void {
    if (!this.looping && this.loopReady()) {
      this.looping = true;
      this.loopPos = 0;
    }
    if (this.looping) {
      // handed out now: the FIFO was empty when the loop started, so nothing from the child is
      // still to come before it
      const au = this.kept[this.loopPos];
      this.loopPos = (this.loopPos + 1) % this.kept.length;
      if (au.idrId !== undefined) {
        this.idrs++;
        this.lastLoopIdr = au.idrId;
      }
      this.framesLooped++;
      this.out?.(au.payloads, rtpTime);
      return;
    }
    const c = this.child.current;
    if (!this.framed || !c || !c.stdin.writable) {
      this.framesDropped++;
      return;
    }
    if (this.fifo.length >= MAX_IN_FLIGHT) {
      // nothing came back for many frames: the child hangs; it is restarted like one that exited
      this.framesDropped++;
      this.opts.onLog(`ffmpeg (H.264 encoder) returned none of the last ${this.fifo.length} frames: restarting it`);
      this.child.kill();
      return;
    }
    if (this.idrClash) {
      for (let i = 0; i < this.opts.fps; i++) this.write(c, this.framed, undefined, -1);
    }
    this.idrClash = false;
    this.write(c, this.framed, rtpTime, this.gen);
  }

  /**
   * Two whole GOPs of the current picture kept and nothing in flight: the child's last frame was
   * the last of a GOP (the keeping follows the IDRs it made), so its next one is an IDR.
   */
  private loopReady(): boolean {
    return !this.noLoop && this.kept.length === 2 * this.opts.fps && this.fifo.length === 0 && this.framed !== undefined;
  }

  private write(c: ChildProcessWithoutNullStreams, framed: Buffer, rtpTime: number | undefined, gen: number): void {
    this.fifo.push({ rtpTime, at: Date.now(), gen });
    this.framesEncoded++;
    c.stdin.write(framed);
  }

  /** Keeps an access unit of the current picture for the loop: the last two GOPs, from an IDR on. */
  private keep(payloads: Buffer[], nals: Buffer[], idr: boolean): void {
    const fps = this.opts.fps;
    let idrId: number | undefined;
    if (idr) {
      const slice = nals.find((n) => nalType(n) === NAL_IDR)!;
      try {
        this.spsLayout ??= parseSpsLayout(this.sps!);
        idrId = idrPicId(slice, this.spsLayout);
      } catch (e) {
        return this.stopLooping(`its slice header could not be read (${(e as Error).message})`);
      }
    }
    // with -g fps an IDR every fps frames, and only there: anything else (a frame lost inside
    // ffmpeg, a scene cut) starts the keeping over
    if ((this.kept.length % fps === 0) !== idr) {
      if (this.kept.length) this.opts.onLog(`ffmpeg (H.264 encoder): ${idr ? 'an IDR' : 'no IDR'} after ${this.kept.length % fps} frames of a GOP of ${fps}: the still board's loop starts over`);
      this.kept = [];
      if (!idr) return;
    }
    if (idr && this.kept.length === 2 * fps) this.kept.splice(0, fps);
    this.kept.push({ payloads: payloads.map((p) => Buffer.from(p)), idrId });
    if (this.kept.length === 2 * fps && this.kept[0].idrId === this.kept[fps].idrId) {
      this.stopLooping(`two IDRs in a row with idr_pic_id ${idrId}`);
    }
  }

  private stopLooping(why: string): void {
    this.noLoop = true;
    this.kept = [];
    this.opts.onLog(`ffmpeg (H.264 encoder): ${why}: a still board is encoded every frame`);
  }

  /** Reads FLV: header, then tags (11-byte header, data, 4-byte previous-tag size). */
  private onFlv(d: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    if (!this.headerSeen) {
      if (buf.length < 13) return void (this.pending = Buffer.from(buf));
      if (buf.toString('latin1', 0, 3) !== 'FLV') {
        this.opts.onLog('ffmpeg (H.264 encoder) wrote no FLV header: restarting it');
        this.child.kill();
        return;
      }
      buf = buf.subarray(buf.readUInt32BE(5) + 4);
      this.headerSeen = true;
    }
    while (buf.length >= 11) {
      const size = buf.readUIntBE(1, 3);
      if (buf.length < 11 + size + 4) break;
      if (buf[0] === 9) this.onVideoTag(buf.subarray(11, 11 + size));
      buf = buf.subarray(11 + size + 4);
    }
    this.pending = Buffer.from(buf);
  }

  private onVideoTag(tag: Buffer): void {
    if (tag.length < 5 || (tag[0] & 0x0f) !== 7) return; // not AVC
    const body = tag.subarray(5);
    if (tag[1] === 0) {
      // AVC sequence header: the SPS and PPS of this child
      try {
        const c = parseAvcC(body);
        if (this.sps && (!c.sps.equals(this.sps) || !c.pps.equals(this.pps!))) {
          this.opts.onLog('ffmpeg (H.264 encoder) restarted with other parameter sets than the SDP\'s: players take them from the stream');
        }
        this.sps = c.sps;
        this.spsLayout = undefined;
        this.pps = c.pps;
        this.lengthSize = c.lengthSize;
        this.readyResolve();
      } catch (e) {
        this.opts.onLog(`ffmpeg (H.264 encoder): ${(e as Error).message}`);
      }
      return;
    }
    if (tag[1] !== 1) return;
    let nals: Buffer[];
    try {
      nals = splitLengthPrefixed(body, this.lengthSize);
    } catch (e) {
      this.opts.onLog(`ffmpeg (H.264 encoder): ${(e as Error).message}`);
      nals = [];
    }
    // the frame this access unit answers; one asked for long before it never came back
    const now = Date.now();
    while (this.fifo.length > 1 && now - this.fifo[0].at > LOST_AFTER_MS) {
      this.fifo.shift();
      this.framesDropped++;
    }
    const asked = this.fifo.shift();
    if (!asked || asked.rtpTime === undefined || !nals.length) return;
    const idr = nals.some((n) => nalType(n) === NAL_IDR);
    if (idr) this.idrs++;
    // parameter sets in-band before every IDR (a late player need not have read the SDP)
    const au = idr && this.sps && !nals.some((n) => nalType(n) === NAL_SPS) ? [this.sps, this.pps!, ...nals] : nals;
    const payloads = h264Payloads(au);
    if (asked.gen === this.gen && !this.noLoop) {
      // kept without SEI: x264 writes one (its settings, as text) into a child's first frame only,
      // and ffmpeg's RTSP client gave that frame no time whenever it came round again
      this.keep(nals.some((n) => nalType(n) === NAL_SEI) ? h264Payloads(au.filter((n) => nalType(n) !== NAL_SEI)) : payloads, nals, idr);
    }
    this.out?.(payloads, asked.rtpTime);
  }

  close(): Promise<void> {
    if (!this.isReady) this.fail('closed before its first picture');
    return this.child.close();
  }
}

/** A JPEG as one part of a multipart stream, with its length (see the file's comment). */
function mpjpegPart(jpeg: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`--${MPJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`, 'latin1'), jpeg, Buffer.from('\r\n')]);
}
