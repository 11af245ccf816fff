/**
 * `route` and `udp`: a shorter route for received RTP inside werift (0.24), set up per peer
 * connection through lib/whep/werift/index.ts (`shortenRtpRoute` there never throws).
 *
 * Why: after decrypting a packet, werift hands it to the connection's RtpRouter (header
 * extensions parsed into an object, SSRC and RID tables), then to the RTCRtpReceiver's
 * handleRTP, which for every packet looks the codec up through getters that rebuild arrays,
 * lower-cases the codec name twice to check for RTX and RED, clones the packet, and calls its
 * async RTCP loop starter (a promise per packet), and only then fires the track's event. For an
 * audio-only WHEP stream none of that does anything after the first packet (its cost:
 * docs/benchmarks.md, `npm run bench -- whep --alternate ";route"`).
 *
 * What: once werift itself has delivered a packet of an SSRC to our track, so that the receiver
 * has created that SSRC's statistics and started its RTCP loop, later packets of that SSRC with
 * the same payload type skip the router and the receiver: werift's own statistics of that SSRC
 * are updated as handleRTP would (so its receiver reports stay right) and the packet goes to our
 * handler as the track would hand it. Anything else takes werift's route unchanged: another
 * SSRC, another payload type (RTX, RED), transport-wide congestion control set up, the receiver
 * stopped. If werift's internals are not shaped as expected, nothing is changed.
 * `test/whep/werift/receive.test.ts` checks both routes give the same packets and statistics.
 *
 * Shorter still (`udp`): those packets also skip werift's ICE and DTLS layers. Each datagram
 * went through the UDP transport, an attempt to parse it as STUN, the ICE connection's event,
 * every subscriber of the DTLS transport (the handshake's too), SRTP decryption through the
 * session wrapper (the header parsed, the state object copied), a second parse of the decrypted
 * header and the DTLS transport's event, which is the router's way in (its cost:
 * docs/benchmarks.md, `--alternate ";udp"`). Once the route has learnt the SSRC, a
 * datagram on the nominated pair's UDP transport that is RTP of that SSRC and payload type is
 * decrypted with the DTLS transport's own SRTP context (werift's rollover state, the ciphers of
 * lib/whep/werift/srtp.ts when active), its header parsed once, and handed on as above; the statistics werift
 * keeps on the way (ICE pair, DTLS transport, receiver) are updated as werift updates them.
 * Everything else, STUN, DTLS, RTCP and any other RTP, reaches werift unchanged.
 */
import { RtpPacket, type RTCPeerConnection, type RTCRtpReceiver, type RtpHeader } from 'werift';

/** the parts of werift's internals the shortcut uses (not in its typings: private or untyped) */
interface Internals {
  router?: { routeRtp?: (packet: RtpPacket) => void };
}
interface ReceiverInternals {
  remoteStreams?: Record<number, { add?: (packet: RtpPacket) => void }>;
  receiverTWCC?: unknown;
  stopped?: boolean;
}

/** the parts of werift's ICE and DTLS internals the datagram shortcut uses */
interface UdpTransportInternals {
  onData?: (data: Buffer, addr: unknown) => void;
}
interface PairInternals {
  protocol?: { transport?: UdpTransportInternals };
  packetsReceived: number;
  bytesReceived: number;
}
interface DtlsInternals {
  srtp?: { remoteContext?: { decryptRtp?: (data: Buffer) => [Buffer, RtpHeader] } };
  iceTransport?: { connection?: { nominated?: PairInternals } };
  bytesReceived: number;
  packetsReceived: number;
}

let enabled = true;
let udpEnabled = true;
/** Turns the shortcut on or off for every connection, also ones already set up (the benchmark's A/B). */
export function setShortRtpRoute(on: boolean): void {
  enabled = on;
}
/** Turns the datagram shortcut (ICE and DTLS layers skipped) on or off, also on connections already set up (the benchmark's A/B). */
export function setUdpRtpRoute(on: boolean): void {
  udpEnabled = on;
}

export interface RtpRoute {
  /** Call with each packet werift delivers to the track: its SSRC and payload type may then take the short route. */
  learn(rtp: RtpPacket): void;
  /** packets that took the short route (tests) */
  readonly shortcuts: number;
  /** of those, packets that also skipped werift's ICE and DTLS layers (tests) */
  readonly datagrams: number;
}

/**
 * Sets up the short route on `pc` for packets of `receiver`, delivered to `deliver`. Throws why
 * (nothing changed) when werift does not look as expected. The datagram shortcut is set up at
 * the first learnt packet, once ICE has nominated a pair; if werift's ICE or DTLS internals are
 * not there then, `onDatagramFallback` hears why and those packets keep werift's layers. Without
 * `onDatagramFallback` there is no datagram shortcut.
 */
export function shortenRtpRoute(pc: RTCPeerConnection, receiver: RTCRtpReceiver, deliver: (rtp: RtpPacket) => void, onDatagramFallback?: (reason: string) => void): RtpRoute {
  const router = (pc as unknown as Internals).router;
  const original = router?.routeRtp;
  const rx = receiver as unknown as ReceiverInternals;
  if (!router || typeof original !== 'function') throw new Error('werift RTCPeerConnection has no router.routeRtp');
  if (typeof rx.remoteStreams !== 'object' || rx.remoteStreams === null) throw new Error('werift RTCRtpReceiver has no remoteStreams');
  // one SSRC per audio receiver is the rule; a Map would cost more than the checks it saves
  let ssrc = -1;
  let payloadType = -1;
  let stats: { add: (packet: RtpPacket) => void } | undefined;
  const usable = () => stats !== undefined && !rx.stopped && rx.receiverTWCC === undefined;
  const route = {
    shortcuts: 0,
    datagrams: 0,
    learn(rtp: RtpPacket): void {
      const h = rtp.header;
      if (h.ssrc === ssrc && h.payloadType === payloadType) return;
      const s = rx.remoteStreams?.[h.ssrc];
      if (!s || typeof s.add !== 'function') return;
      ssrc = h.ssrc;
      payloadType = h.payloadType;
      stats = s as { add: (packet: RtpPacket) => void };
      if (onDatagramFallback) shortenDatagramRoute(onDatagramFallback);
    },
  };
  router.routeRtp = (packet: RtpPacket) => {
    const h = packet.header;
    if (enabled && h.ssrc === ssrc && h.payloadType === payloadType && usable()) {
      stats!.add(packet);
      route.shortcuts++;
      deliver(packet);
      return;
    }
    original.call(router, packet);
  };

  /** The datagram shortcut on the nominated pair's UDP transport (see the top of this file); once. */
  let udpInstalled = false;
  function shortenDatagramRoute(onDatagramFallback: (reason: string) => void): void {
    if (udpInstalled) return;
    udpInstalled = true; // tried once per connection, whatever the outcome
    const dtls = receiver.dtlsTransport as unknown as DtlsInternals | undefined;
    const pair = dtls?.iceTransport?.connection?.nominated;
    const udp = pair?.protocol?.transport;
    const werift = udp?.onData;
    const missing =
      typeof RtpPacket !== 'function' ? 'werift exports no RtpPacket'
      : !dtls || !pair ? "werift's DTLS transport has no iceTransport.connection.nominated"
      : !udp || typeof werift !== 'function' ? "werift's nominated ICE pair has no protocol.transport.onData"
      : typeof dtls.srtp?.remoteContext?.decryptRtp !== 'function' ? "werift's DTLS transport has no srtp.remoteContext.decryptRtp"
      : typeof dtls.bytesReceived !== 'number' || typeof pair.packetsReceived !== 'number' ? "werift's DTLS transport or ICE pair keeps no packet counters"
      : undefined;
    if (missing || !dtls || !pair || !udp || !werift) {
      onDatagramFallback(missing ?? 'werift internals missing');
      return;
    }
    const connection = dtls.iceTransport!.connection!;
    udp.onData = (data: Buffer, addr: unknown) => {
      // RTP (version 2, not RTCP's 192–208 in the second byte) of the learnt SSRC and payload type
      if (
        !(udpEnabled && enabled && data.length >= 12 && (data[0] & 0xc0) === 0x80 && (data[1] < 192 || data[1] > 208) && (data[1] & 0x7f) === payloadType && data.readUInt32BE(8) === ssrc && usable())
      ) {
        werift.call(udp, data, addr);
        return;
      }
      const context = dtls.srtp?.remoteContext;
      if (!context?.decryptRtp) {
        werift.call(udp, data, addr);
        return;
      }
      // the statistics werift's layers keep on the way: the nominated pair's, the DTLS transport's
      const nominated = connection.nominated;
      if (nominated && nominated.protocol?.transport === udp) {
        nominated.packetsReceived++;
        nominated.bytesReceived += data.length;
      }
      dtls.bytesReceived += data.length;
      dtls.packetsReceived++;
      let decrypted: Buffer;
      let header: RtpHeader;
      try {
        [decrypted, header] = context.decryptRtp(data);
      } catch {
        return; // werift drops a packet that fails authentication or is malformed, and so do we
      }
      const packet = new RtpPacket(header, decrypted.subarray(header.payloadOffset, decrypted.length - header.paddingSize));
      stats!.add(packet);
      route.shortcuts++;
      route.datagrams++;
      deliver(packet);
    };
  }
  return route;
}
