/**
 * The code paths as they were before the per-packet and idle-path work (issue #5), put back on a
 * running stream for some of the benchmark's slices, so before and after are measured side by side
 * in one run on the same (noisy, shared) machine. Each `use…(station, on)` swaps an instance's
 * methods for the old ones (on) or removes the swap (off). Bench code only: nothing in lib/ knows.
 */
import { interleave, interleavedFor } from '../../lib/rtsp/message';
import { wallMs } from '../../lib/rtsp/rtp';
import type { AnnouncementStream } from '../../lib/announce';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

/**
 * #1 before: the RTP packet built without room for the interleaved header, the wall clock read
 * for every packet, and `interleave()` copying it once more (Buffer.concat) for the TCP players.
 */
export function useCopyingPackets(station: AnnouncementStream, on: boolean): void {
  const { rtp, server } = parts(station);
  rtp.packet = on ? copyingPacket : rtp.packetNow;
  server.broadcast = on ? copyingBroadcast : server.broadcastNow;
}

/**
 * The objects the variants change, with today's methods put on them as own properties once, so
 * switching a variant on and off only reassigns them (adding and deleting properties would change
 * the objects' shapes and slow down every later slice, "now" included).
 */
function parts(station: AnnouncementStream): { rtp: Any; server: Any; pacer: Any } {
  const out = station.output as Any;
  const rtp = out.rtp as Any;
  const server = out.server as Any;
  const pacer = station.pacer as Any;
  if (!rtp.packetNow) {
    rtp.packetNow = rtp.packet;
    rtp.wallBefore = 0;
    rtp.packet = rtp.packetNow;
    server.broadcastNow = server.broadcast;
    server.broadcast = server.broadcastNow;
    pacer.clockNow = pacer.clock;
    pacer.clock = pacer.clockNow;
  }
  return { rtp, server, pacer };
}

function copyingPacket(this: Any, payload: Buffer, timestamp: number, marker = false): Buffer {
  const p = Buffer.allocUnsafe(12 + payload.length);
  p[0] = 0x80;
  p[1] = (marker ? 0x80 : 0) | this.payloadType;
  p.writeUInt16BE(this.seq, 2);
  p.writeUInt32BE(timestamp >>> 0, 4);
  p.writeUInt32BE(this.ssrc, 8);
  payload.copy(p, 12);
  this.seq = (this.seq + 1) & 0xffff;
  this.packets++;
  this.octets += payload.length;
  this.lastTs = timestamp >>> 0;
  this.wallBefore = wallMs(); // the clock read per packet
  this.senderReportDue = false; // the 5 s timer sent them (one per 5 s: nothing to measure)
  return p;
}

function copyingBroadcast(this: Any, rtpPacket: Buffer): void {
  const framed: Buffer[] = [];
  for (const s of this.sessions.values()) {
    if (!s.playing) continue;
    if (s.tcp) {
      if (s.conn.destroyed || s.conn.writableLength > 512 * 1024) continue;
      s.conn.write((framed[s.rtpChannel] ??= interleave(s.rtpChannel, rtpPacket)));
    } else {
      this.rtpSock?.send(rtpPacket, s.rtpPort, s.address);
    }
    this.packetsSent++;
    this.bytesSent += rtpPacket.length;
  }
}

/**
 * #2 before: the fan-out walking the session map (an iterator and a `playing` check per session,
 * counters bumped per player) and the pacer making a new timer closure at every wake-up.
 */
export function useMapWalk(station: AnnouncementStream, on: boolean): void {
  const { server, pacer } = parts(station);
  server.broadcast = on ? mapWalkBroadcast : server.broadcastNow;
  const clock = pacer.clockNow;
  // a new closure per wake-up, as `setTimeout(() => this.tick(), wait)` made
  pacer.clock = on ? { now: clock.now, clearTimeout: clock.clearTimeout, setTimeout: (fn: () => void, ms: number) => clock.setTimeout(() => fn(), ms) } : clock;
}

function mapWalkBroadcast(this: Any, framed: Buffer): void {
  const rtpLen = framed.length - 4;
  const other: Buffer[] = [];
  for (const s of this.sessions.values()) {
    if (!s.playing) continue;
    if (s.tcp) {
      if (s.conn.destroyed || s.conn.writableLength > 512 * 1024) continue;
      s.conn.write(s.rtpChannel === 0 ? framed : (other[s.rtpChannel] ??= interleavedFor(s.rtpChannel, framed)));
    } else {
      this.rtpSock?.send(framed, 4, rtpLen, s.rtpPort, s.address);
    }
    this.packetsSent++;
    this.bytesSent += rtpLen;
  }
}

/** #1 and #2 before: the stream as it was. */
export function useOriginal(station: AnnouncementStream, on: boolean): void {
  useMapWalk(station, on);
  useCopyingPackets(station, on); // its broadcast walks the map too
}

/**
 * #4 before: every TCP player's connection kept its idle timeout while playing, so Node re-armed
 * that timer (a timer-list remove and insert) at every write, per packet per player.
 */
export function useSocketTimeouts(station: AnnouncementStream, on: boolean): void {
  const { server } = parts(station);
  for (const s of server.playing as Array<{ tcp: boolean; conn: { setTimeout(ms: number): void } }>) {
    if (s.tcp) s.conn.setTimeout(on ? server.timeoutSec * 1000 : 0);
  }
}
