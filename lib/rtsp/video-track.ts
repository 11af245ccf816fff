/**
 * The video track of the announcement stream: one still picture (the queue board) as RTP/JPEG,
 * re-sent `fps` times a second so a player that joins late shows it at once, replaced when the
 * board changes. The picture is packetized once per change; a re-send only builds RTP headers.
 *
 * Time: the track has no clock of its own. RtspOutput drives it from the audio's media time (the
 * PCM frames written), and its RTP time is that media time at 90 kHz; its sender reports take the
 * audio's NTP ↔ RTP mapping, so players put a board change and the audio written at the same
 * moment at the same instant.
 */
import { JPEG_CLOCK_RATE, JPEG_PAYLOAD_TYPE, jpegPayloads, parseJpeg } from './jpeg-rtp';
import { RtpStream } from './rtp';

export const FPS_MIN = 1;
export const FPS_MAX = 10;
/** Least time between two pictures: one 20 ms audio frame (in ms and in RTP ticks at 90 kHz). */
const MIN_GAP_MS = 20;
const MIN_GAP_TICKS = (MIN_GAP_MS * JPEG_CLOCK_RATE) / 1000;

export class VideoTrack {
  readonly rtp: RtpStream;
  private payloads: Buffer[] | undefined;
  /** media time (ms) at which the picture is due again */
  private dueMs = 0;
  /** RTP time of the last frame sent: a frame is never sent with an earlier one */
  private lastTs: number | undefined;
  private readonly periodMs: number;
  framesSent = 0;

  constructor(
    readonly fps: number,
    readonly width: number,
    readonly height: number,
    /** the packets of one picture, in order (the last one with the marker bit) */
    private readonly send: (packets: Buffer[]) => void,
    /** the audio stream's CNAME: players sync the two tracks by it */
    cname: string,
  ) {
    this.rtp = new RtpStream(JPEG_PAYLOAD_TYPE, JPEG_CLOCK_RATE, cname);
    this.periodMs = 1000 / fps;
  }

  get hasPicture(): boolean {
    return this.payloads !== undefined;
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
    const parts = parseJpeg(jpeg);
    this.payloads = jpegPayloads(parts);
    this.sendFrame(atMs);
    // and once more with the next audio packet: ffmpeg's MJPEG parser (ffplay, mpv, ffmpeg
    // recorders) hands a frame on only when the next one starts, so without this the new board
    // would show a whole period (500 ms at 2 fps) after its speech
    this.dueMs = atMs + MIN_GAP_MS;
  }

  /** The next tick sends the picture (a player just started). */
  refresh(): void {
    this.dueMs = 0;
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

  /** Called with the media time of every audio packet: re-sends the picture when it is due. */
  tick(mediaMs: number): void {
    if (this.payloads && mediaMs >= this.dueMs && this.expecting === undefined) this.sendFrame(mediaMs);
  }

  private sendFrame(atMs: number): void {
    this.expecting = undefined;
    const p = this.payloads!;
    let ts = this.rtpTime(atMs);
    // never back in time (players drop such frames), and never within one audio frame of the frame
    // before: a change that starts with the same audio packet as a re-send would otherwise follow
    // it by a few microseconds, and recorders that keep time in ms (ffmpeg's muxers, NVRs) see two
    // frames at one instant and drop the second, the new board
    if (this.lastTs !== undefined && ((ts - this.lastTs) | 0) < MIN_GAP_TICKS) ts = (this.lastTs + MIN_GAP_TICKS) >>> 0;
    this.lastTs = ts;
    const packets: Buffer[] = new Array(p.length);
    for (let i = 0; i < p.length; i++) packets[i] = this.rtp.packet(p[i], ts, i === p.length - 1);
    this.send(packets);
    this.framesSent++;
    this.dueMs = atMs + this.periodMs;
  }
}
