/**
 * A shorter route for received RTP inside werift (0.24), set up per peer connection.
 *
 * Why: after decrypting a packet, werift hands it to the connection's RtpRouter (header
 * extensions parsed into an object, SSRC and RID tables), then to the RTCRtpReceiver's
 * handleRTP, which for every packet looks the codec up through getters that rebuild arrays,
 * lower-cases the codec name twice to check for RTX and RED, clones the packet, and calls its
 * async RTCP loop starter (a promise per packet), and only then fires the track's event. For an
 * audio-only WHEP stream none of that does anything after the first packet; in bench/whep it was
 * about a tenth of the main thread (README, Benchmarks → whep: `--alternate ";route"`).
 *
 * What: once werift itself has delivered a packet of an SSRC to our track, so that the receiver
 * has created that SSRC's statistics and started its RTCP loop, later packets of that SSRC with
 * the same payload type skip the router and the receiver: werift's own statistics of that SSRC
 * are updated as handleRTP would (so its receiver reports stay right) and the packet goes to our
 * handler as the track would hand it. Anything else takes werift's route unchanged: another
 * SSRC, another payload type (RTX, RED), transport-wide congestion control set up, the receiver
 * stopped. If werift's internals are not shaped as expected, nothing is changed.
 * `test/whep/werift-route.test.ts` checks both routes give the same packets and statistics.
 */
import type { RTCPeerConnection, RTCRtpReceiver, RtpPacket } from 'werift';

/** the parts of werift's internals the shortcut uses (not in its typings: private or untyped) */
interface Internals {
  router?: { routeRtp?: (packet: RtpPacket) => void };
}
interface ReceiverInternals {
  remoteStreams?: Record<number, { add?: (packet: RtpPacket) => void }>;
  receiverTWCC?: unknown;
  stopped?: boolean;
}

let enabled = true;
/** Turns the shortcut on or off for every connection, also ones already set up (the benchmark's A/B). */
export function setShortRtpRoute(on: boolean): void {
  enabled = on;
}

export interface RtpRoute {
  /** Call with each packet werift delivers to the track: its SSRC and payload type may then take the short route. */
  learn(rtp: RtpPacket): void;
  /** packets that took the short route (tests) */
  readonly shortcuts: number;
}

/**
 * Sets up the short route on `pc` for packets of `receiver`, delivered to `deliver`. Returns
 * undefined (nothing changed) when werift does not look as expected.
 */
export function shortenRtpRoute(pc: RTCPeerConnection, receiver: RTCRtpReceiver, deliver: (rtp: RtpPacket) => void): RtpRoute | undefined {
  const router = (pc as unknown as Internals).router;
  const original = router?.routeRtp;
  const rx = receiver as unknown as ReceiverInternals;
  if (!router || typeof original !== 'function' || typeof rx.remoteStreams !== 'object' || rx.remoteStreams === null) return undefined;
  // one SSRC per audio receiver is the rule; a Map would cost more than the checks it saves
  let ssrc = -1;
  let payloadType = -1;
  let stats: { add: (packet: RtpPacket) => void } | undefined;
  const route = {
    shortcuts: 0,
    learn(rtp: RtpPacket): void {
      const h = rtp.header;
      if (h.ssrc === ssrc && h.payloadType === payloadType) return;
      const s = rx.remoteStreams?.[h.ssrc];
      if (!s || typeof s.add !== 'function') return;
      ssrc = h.ssrc;
      payloadType = h.payloadType;
      stats = s as { add: (packet: RtpPacket) => void };
    },
  };
  router.routeRtp = (packet: RtpPacket) => {
    const h = packet.header;
    if (enabled && h.ssrc === ssrc && h.payloadType === payloadType && stats && !rx.stopped && rx.receiverTWCC === undefined) {
      stats.add(packet);
      route.shortcuts++;
      deliver(packet);
      return;
    }
    original.call(router, packet);
  };
  return route;
}
