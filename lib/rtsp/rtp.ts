/**
 * RTP packets (RFC 3550) and RTCP sender reports for one outgoing audio stream. One instance per
 * stream: every listener and the publisher get the very same packets (same SSRC, sequence and
 * timestamps), so a packet is built once and fanned out.
 */
import { randomBytes } from 'node:crypto';

/** Seconds between 1900-01-01 (NTP epoch) and 1970-01-01 (Unix epoch). */
const NTP_UNIX_OFFSET = 2208988800;

/** Wall clock in ms since the Unix epoch with sub-ms resolution, monotonic within the process. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** 64-bit NTP timestamp (seconds, fraction) for a wall-clock time in ms. */
export function ntpTime(ms: number): { sec: number; frac: number } {
  const s = Math.floor(ms / 1000);
  const frac = Math.floor(((ms - s * 1000) / 1000) * 0x100000000);
  return { sec: (s + NTP_UNIX_OFFSET) >>> 0, frac: Math.min(frac, 0xffffffff) >>> 0 };
}

export interface RtpHeaderFields {
  payloadType: number;
  marker?: boolean;
}

/**
 * Bytes in front of the RTP packet in what RtpStream.packet() returns: the RTSP interleaved-frame
 * header (`$`, channel, 16-bit length; RFC 2326 §10.12), filled in for channel 0. A TCP player or
 * publisher on channel 0 (nearly all) is sent that very buffer, a UDP one the bytes after it: one
 * allocation per packet, whatever the number of listeners (see `interleavedFor`, `rtpOf`).
 */
export const TCP_HEADROOM = 4;

/** The RTP packet inside a packet built by RtpStream.packet() (a view, no copy). */
export function rtpOf(framed: Buffer): Buffer {
  return framed.subarray(TCP_HEADROOM);
}

/** Seconds of RTP time between RTCP sender reports (RFC 3550's minimum interval). */
export const SR_INTERVAL_S = 5;

export class RtpStream {
  readonly ssrc: number;
  private seq: number;
  /** RTP timestamp of the last packet built */
  private lastTs: number | undefined;
  /**
   * The NTP <-> RTP mapping of sender reports: RTP time `anchorTs` was current at wall clock
   * `anchorWall` (ms). Taken at the packet that makes a report due, so the wall clock is read
   * once per report (every 5 s), not once per packet.
   */
  private anchorTs = 0;
  private anchorWall = 0;
  /** the next packet takes a fresh anchor and says a sender report is due */
  private srWanted = true;
  private readonly srTicks: number;
  /** the last packet built made a sender report due (see packet()) */
  senderReportDue = false;
  packets = 0;
  octets = 0;
  readonly cname: string;

  /**
   * `cname`: the SDES CNAME of the reports; streams a player must play in sync (the audio and the
   * video board) share one, which is how RTP receivers such as GStreamer's rtpbin pair them
   * (RFC 3550 §6.5.1). Default: one of its own.
   */
  constructor(
    readonly payloadType: number,
    readonly clockRate: number,
    cname?: string,
  ) {
    const r = randomBytes(6);
    this.ssrc = r.readUInt32BE(0);
    this.seq = r.readUInt16BE(4);
    this.cname = cname ?? `live-audio-${this.ssrc.toString(16)}`;
    this.srTicks = SR_INTERVAL_S * clockRate;
  }

  /** The sequence number the next packet will carry. */
  get nextSeq(): number {
    return this.seq;
  }

  /**
   * Builds one RTP packet, `TCP_HEADROOM` bytes of interleaved header (channel 0) in front.
   * `timestamp` is in clock units (wrapping at 2^32 is handled here). Afterwards
   * `senderReportDue` says whether an RTCP sender report should follow it: the first packet, every
   * 5 s of RTP time, and the packet after requestSenderReport().
   */
  packet(payload: Buffer, timestamp: number, marker = false): Buffer {
    const len = 12 + payload.length;
    const p = Buffer.allocUnsafe(TCP_HEADROOM + len);
    p[0] = 0x24; // '$'
    p[1] = 0; // channel: see interleavedFor
    p.writeUInt16BE(len, 2);
    p[4] = 0x80; // V=2, no padding, no extension, no CSRC
    p[5] = (marker ? 0x80 : 0) | this.payloadType;
    p.writeUInt16BE(this.seq, 6);
    const ts = timestamp >>> 0;
    p.writeUInt32BE(ts, 8);
    p.writeUInt32BE(this.ssrc, 12);
    payload.copy(p, 16);
    this.seq = (this.seq + 1) & 0xffff;
    this.packets++;
    this.octets += payload.length;
    this.lastTs = ts;
    // RTP time runs with the wall clock (the pacer), so "5 s of RTP time" is the report interval
    // without a timer or a clock read per packet; unsigned difference: wraps at 2^32
    this.senderReportDue = this.srWanted || ((ts - this.anchorTs) >>> 0) >= this.srTicks;
    if (this.senderReportDue) {
      this.srWanted = false;
      this.anchorTs = ts;
      this.anchorWall = wallMs();
    }
    return p;
  }

  /** Wall clock (ms) of the last sender report's anchor: when the packet that made it due was built. */
  get anchorWallMs(): number {
    return this.anchorWall;
  }

  /** The next packet makes a sender report due (a player just started; a publisher just connected). */
  requestSenderReport(): void {
    this.srWanted = true;
  }

  /** The RTP timestamp that corresponds to wall-clock `ms` (extrapolated from the last report's anchor). */
  rtpTimeAt(ms: number): number {
    if (this.lastTs === undefined) return 0;
    return (this.anchorTs + Math.round(((ms - this.anchorWall) * this.clockRate) / 1000)) >>> 0;
  }

  /**
   * A compound RTCP packet: sender report (NTP ↔ RTP timestamp of "now", packet and octet counts)
   * followed by an SDES CNAME, as RFC 3550 §6.1 requires. By default "now" is the moment the
   * packet that made the report due was built (its RTP timestamp exactly): send it right after.
   */
  senderReport(ms = this.anchorWall): Buffer {
    return this.senderReportFor(ms, this.rtpTimeAt(ms));
  }

  /**
   * A sender report mapping wall-clock `ms` to RTP time `rtpTs` given by the caller: a second
   * track (the video board) takes its mapping from the audio's, so players line both up on one
   * clock.
   */
  senderReportFor(ms: number, rtpTs: number): Buffer {
    const sr = Buffer.alloc(28);
    sr[0] = 0x80; // V=2, RC=0
    sr[1] = 200;
    sr.writeUInt16BE(6, 2); // length in 32-bit words minus one
    sr.writeUInt32BE(this.ssrc, 4);
    const ntp = ntpTime(ms);
    sr.writeUInt32BE(ntp.sec, 8);
    sr.writeUInt32BE(ntp.frac, 12);
    sr.writeUInt32BE(rtpTs >>> 0, 16);
    sr.writeUInt32BE(this.packets >>> 0, 20);
    sr.writeUInt32BE(this.octets >>> 0, 24);
    const name = Buffer.from(this.cname, 'ascii');
    // SDES chunk: SSRC, item CNAME (type 1, length, text), end (0), padded to 32 bits
    const chunkLen = 4 + 2 + name.length + 1;
    const padded = Math.ceil(chunkLen / 4) * 4;
    const sdes = Buffer.alloc(4 + padded);
    sdes[0] = 0x81; // V=2, SC=1
    sdes[1] = 202;
    sdes.writeUInt16BE(padded / 4, 2);
    sdes.writeUInt32BE(this.ssrc, 4);
    sdes[8] = 1;
    sdes[9] = name.length;
    name.copy(sdes, 10);
    return Buffer.concat([sr, sdes]);
  }
}

/** Parsed RTP header fields (tests and diagnostics). */
export function parseRtp(p: Buffer): { payloadType: number; marker: boolean; seq: number; timestamp: number; ssrc: number; payload: Buffer } {
  const cc = p[0] & 0x0f;
  const ext = (p[0] & 0x10) !== 0;
  let off = 12 + 4 * cc;
  if (ext) off += 4 + 4 * p.readUInt16BE(off + 2);
  let end = p.length;
  if (p[0] & 0x20) end -= p[p.length - 1];
  return { payloadType: p[1] & 0x7f, marker: (p[1] & 0x80) !== 0, seq: p.readUInt16BE(2), timestamp: p.readUInt32BE(4), ssrc: p.readUInt32BE(8), payload: p.subarray(off, end) };
}
