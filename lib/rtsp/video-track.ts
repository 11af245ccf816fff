/**
 * The video track of the announcement stream: one still picture (the queue board), re-sent `fps`
 * times a second so a player that joins late shows it soon, replaced when the board changes. The
 * track decides WHEN a picture goes out and with which RTP time; its coder turns the picture into
 * RTP payloads: MJPEG (RFC 2435) packetizes the JPEG once per change and hands out the same
 * payloads at once for every re-send; H.264 (lib/rtsp/h264.ts) encodes each re-send in an ffmpeg
 * child and hands the access unit back a few ms later, stamped with the time it was asked for.
 *
 * Time: the track has no clock of its own. RtspOutput drives it from the audio's media time (the
 * PCM frames written), and its RTP time is that media time at 90 kHz; its sender reports take the
 * audio's NTP ↔ RTP mapping, so players put a board change and the audio written at the same
 * moment at the same instant.
 */
import { JPEG_CLOCK_RATE, JPEG_PAYLOAD_TYPE, jpegPayloads, parseJpeg } from './jpeg-rtp';
import { RtpStream } from './rtp';

/** One frame's RTP payloads (the last one goes out with the marker bit) and its RTP time. */
export type VideoFrameOut = (payloads: Buffer[], rtpTime: number) => void;

/** What turns the track's picture into RTP payloads. */
export interface VideoCoder {
  readonly payloadType: number;
  /** the SDP's a=rtpmap value and a=fmtp parameters (H.264: known once the encoder is up) */
  readonly rtpmap: string;
  readonly fmtp?: string;
  /** the track hands itself in: frames go out through `out`, now or later, in the order asked */
  attach(out: VideoFrameOut): void;
  /** a new picture: a JPEG at the track's size (throws video.badJpeg for one it cannot take) */
  setPicture(jpeg: Buffer): void;
  /** one frame of the current picture at RTP time `rtpTime` */
  frame(rtpTime: number): void;
  /** a player starts: the next frame should be one it can decode on its own, where the coder can */
  refresh?(): void;
  /**
   * How many frames follow a new picture one audio frame (20 ms) apart, before the re-sends at
   * `fps`: players whose decoder hands a frame on only once later ones have arrived show the
   * change after that many short gaps instead of as many whole periods.
   */
  readonly followUps: number;
  close(): Promise<void>;
}

/** RTP/JPEG: the picture's payloads are built once per change and re-sent as they are. */
export class MjpegCoder implements VideoCoder {
  readonly payloadType = JPEG_PAYLOAD_TYPE;
  readonly rtpmap = 'JPEG/90000';
  /** ffmpeg's MJPEG parser (ffplay, mpv, ffmpeg recorders) ends a frame when the next one starts */
  readonly followUps = 1;
  private out: VideoFrameOut | undefined;
  private payloads: Buffer[] | undefined;

  attach(out: VideoFrameOut): void {
    this.out = out;
  }

  setPicture(jpeg: Buffer): void {
    this.payloads = jpegPayloads(parseJpeg(jpeg));
  }

  frame(rtpTime: number): void {
    if (this.payloads) this.out?.(this.payloads, rtpTime);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const FPS_MIN = 1;
export const FPS_MAX = 10;
/** Least time between two pictures: one 20 ms audio frame (in ms and in RTP ticks at 90 kHz). */
const MIN_GAP_MS = 20;
const MIN_GAP_TICKS = (MIN_GAP_MS * JPEG_CLOCK_RATE) / 1000;

export class VideoTrack {
  readonly rtp: RtpStream;
  private hasPic = false;
  /** media time (ms) at which the picture is due again */
  private dueMs = 0;
  /** RTP time of the last frame sent: a frame is never sent with an earlier one */
  private lastTs: number | undefined;
  private readonly periodMs: number;
  /** frames still to follow the last new picture one audio frame apart (the coder's followUps) */
  private followUpsLeft = 0;
  framesSent = 0;

  constructor(
    readonly fps: number,
    readonly width: number,
    readonly height: number,
    /** the packets of one picture, in order (the last one with the marker bit) */
    private readonly send: (packets: Buffer[]) => void,
    /** the audio stream's CNAME: players sync the two tracks by it */
    cname: string,
    readonly coder: VideoCoder = new MjpegCoder(),
  ) {
    this.rtp = new RtpStream(coder.payloadType, JPEG_CLOCK_RATE, cname);
    this.periodMs = 1000 / fps;
    coder.attach((payloads, ts) => {
      const packets: Buffer[] = new Array(payloads.length);
      for (let i = 0; i < payloads.length; i++) packets[i] = this.rtp.packet(payloads[i], ts, i === payloads.length - 1);
      if (packets.length) this.send(packets);
      this.framesSent++;
    });
  }

  get hasPicture(): boolean {
    return this.hasPic;
  }

  /** RTP time for a media time (ms). */
  rtpTime(mediaMs: number): number {
    return Math.round((mediaMs * JPEG_CLOCK_RATE) / 1000) >>> 0;
  }

  /**
   * A new picture (a baseline 4:2:0/4:2:2 JPEG at the track's size, throws video.badJpeg
   * otherwise), shown from media time `atMs` on: sent now with that time, then every period.
   */
  show(jpeg: Buffer, atMs: number): void {
    this.coder.setPicture(jpeg);
    this.hasPic = true;
    // and again with the next audio packets (the coder says how often): ffmpeg's MJPEG parser and
    // its frame-threaded H.264 decoder (ffplay, mpv, ffmpeg recorders) hand a frame on only when
    // later ones arrive, so without these the new board would show whole periods (500 ms each at
    // 2 fps) after its speech
    this.followUpsLeft = this.coder.followUps;
    this.sendFrame(atMs);
  }

  /** The next tick sends the picture (a player just started). */
  refresh(): void {
    this.dueMs = 0;
    this.coder.refresh?.();
  }

  /**
   * A new picture for media time `atMs` is being made (the board of an announcement that has just
   * started): no re-send until it is shown, so none goes out with a later time than the change.
   */
  expect(atMs: number): void {
    this.expecting = atMs;
  }

  /** The picture expected will not come (its rendering failed): re-sends go on. */
  cancelExpect(): void {
    this.expecting = undefined;
  }

  private expecting: number | undefined;

  /**
   * Called with the media time of every audio packet: re-sends the picture when it is due.
   * `nextMs`: where the next packet starts (the end of this one). When the due time falls before
   * it, the picture goes out now, a little early, rather than up to a packet late: between
   * announcements Opus packets are 120 ms long, and at 2 fps "due, then the next packet" made
   * the pictures 600 ms apart, so a player that joins late (MJPEG) or an IDR every `fps` pictures
   * (H.264) came more than a second apart.
   */
  tick(mediaMs: number, nextMs = mediaMs): void {
    if (this.hasPic && (mediaMs >= this.dueMs || nextMs > this.dueMs) && this.expecting === undefined) this.sendFrame(mediaMs);
  }

  private sendFrame(atMs: number): void {
    this.expecting = undefined;
    let ts = this.rtpTime(atMs);
    // never back in time (players drop such frames), and never within one audio frame of the frame
    // before: a change that starts with the same audio packet as a re-send would otherwise follow
    // it by a few microseconds, and recorders that keep time in ms (ffmpeg's muxers, NVRs) see two
    // frames at one instant and drop the second, the new board
    if (this.lastTs !== undefined && ((ts - this.lastTs) | 0) < MIN_GAP_TICKS) ts = (this.lastTs + MIN_GAP_TICKS) >>> 0;
    this.lastTs = ts;
    this.coder.frame(ts);
    if (this.followUpsLeft > 0) {
      this.followUpsLeft--;
      this.dueMs = atMs + MIN_GAP_MS;
    } else this.dueMs = atMs + this.periodMs;
  }
}
