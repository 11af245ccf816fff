/**
 * `rr`: receiver reports at RTP's pace instead of werift's (0.24), per peer connection, set up
 * through lib/whep/werift/index.ts (`paceReceiverReports` there never throws).
 *
 * Why: werift's receiver sends an RTCP receiver report every 0.5–1.5 s per stream, each encrypted
 * (SRTCP) and sent as its own datagram, about one send a second per stream (its cost:
 * docs/benchmarks.md, `npm run bench -- whep --alternate ";rr"`). RTP (RFC 3550 §6.2) recommends at
 * least 5 s between reports, and browsers send audio receiver reports every 5 s; WHEP servers (SRS,
 * mediamtx, Janus) do not need them more often, since ICE consent checks keep the session alive.
 *
 * What: the connection's DTLS transport sends a packet list that is a lone receiver report at most
 * once per `minIntervalMs` (default 5000); werift still builds one every 0.5–1.5 s and the ones in
 * between are not sent. A report that is sent is built just before (its LSR/DLSR are right; its
 * fraction lost covers the last second rather than the whole interval). Every other RTCP packet
 * (NACK, PLI, BYE, compound packets) goes out as before.
 */
import { RtcpRrPacket } from 'werift';

let enabled = true;
/** Turns the pacing on or off for every connection, also ones already set up (the benchmark's A/B). */
export function setReceiverReportPacing(on: boolean): void {
  enabled = on;
}

interface DtlsInternals {
  sendRtcp?: (packets: unknown[]) => Promise<unknown>;
}

export const RR_MIN_INTERVAL_MS = 5000;

/** Paces the lone receiver reports `transport` sends; throws why (nothing changed) if werift's DTLS transport or RTCP classes differ. */
export function paceReceiverReports(transport: unknown, minIntervalMs = RR_MIN_INTERVAL_MS): void {
  const t = transport as DtlsInternals | undefined;
  const original = t?.sendRtcp;
  if (!t || typeof original !== 'function') throw new Error("werift's DTLS transport has no sendRtcp");
  if (typeof RtcpRrPacket !== 'function') throw new Error('werift exports no RtcpRrPacket');
  let lastSent = -Infinity;
  t.sendRtcp = function (this: unknown, packets: unknown[]) {
    if (enabled && packets.length === 1 && packets[0] instanceof RtcpRrPacket) {
      const now = performance.now();
      if (now - lastSent < minIntervalMs) return Promise.resolve(undefined);
      lastSent = now;
    }
    return original.call(t, packets);
  };
}
