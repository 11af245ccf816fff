/**
 * Guards lib/whep/werift/route.ts and lib/whep/werift/rtcp.ts on a real werift connection.
 *
 * The short route: a real werift connection (two peer
 * connections on 127.0.0.1 in this process, DTLS-SRTP between them) delivers every packet, in
 * order, with the same header and payload, once; werift's own receiver statistics (what its
 * receiver reports say) count every packet; and packets the short route is not for (another
 * payload type or SSRC) still take werift's route. A werift upgrade that moves the internals
 * the route uses makes shortenRtpRoute answer undefined, which the first test catches.
 *
 * The datagram shortcut (ICE and DTLS layers skipped as well): the same packets, once, in order;
 * werift's ICE pair and DTLS transport counters still count them; a datagram that fails SRTP
 * authentication is dropped as werift drops it; switched off, werift's layers take them again.
 *
 * Receiver reports: paced, the sender gets at most one in 5 s; unpaced (werift's own pace) one
 * every 0.5–1.5 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RTCPeerConnection, RTCRtpCodecParameters, RtcpRrPacket, RtpHeader, RtpPacket, type RTCRtpTransceiver } from 'werift';
import { paceReceiverReports, shortenRtpRoute, type RtpRoute } from '../../../lib/whep/werift';
import { setFastPath } from '../../../lib/whep/werift/bench-switches';
import '../../../lib/whep'; // the other receive-path replacements, installed as whep-in has them
import { until } from '../../support/processes';

const LOOPBACK = { iceUseIpv4: false, iceUseIpv6: false, iceAdditionalHostAddresses: ['127.0.0.1'], iceInterfaceAddresses: { udp4: '127.0.0.1' } };
const opus = () => new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 });

interface Got {
  seq: number;
  ts: number;
  payload: Buffer;
}

describe('werift receive path: short RTP route, paced receiver reports', () => {
  let sender: RTCPeerConnection;
  let receiver: RTCPeerConnection;
  let out: RTCRtpTransceiver;
  let route: RtpRoute | undefined;
  let paced = false;
  /** when the sender got each receiver report (ms, performance.now) */
  const reports: number[] = [];
  const got: Got[] = [];
  let seq = 1000;
  let ts = 5000;

  before(async () => {
    sender = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: [], ...LOOPBACK, codecs: { audio: [opus()] } });
    receiver = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: [], ...LOOPBACK, codecs: { audio: [opus()] } });
    const inT = receiver.addTransceiver('audio', { direction: 'recvonly' });
    route = shortenRtpRoute(receiver, inT.receiver, (rtp) => got.push({ seq: rtp.header.sequenceNumber, ts: rtp.header.timestamp, payload: Buffer.from(rtp.payload) }));
    inT.onTrack.subscribe((track) =>
      track.onReceiveRtp.subscribe((rtp) => {
        route?.learn(rtp);
        got.push({ seq: rtp.header.sequenceNumber, ts: rtp.header.timestamp, payload: Buffer.from(rtp.payload) });
      }),
    );
    await receiver.setLocalDescription(await receiver.createOffer());
    await sender.setRemoteDescription(receiver.localDescription!);
    out = sender.getTransceivers()[0];
    out.setDirection('sendonly');
    await sender.setLocalDescription(await sender.createAnswer());
    await receiver.setRemoteDescription(sender.localDescription!);
    paced = paceReceiverReports(inT.receiver.dtlsTransport);
    out.sender.onRtcp.subscribe((p) => {
      if (p instanceof RtcpRrPacket) reports.push(performance.now());
    });
    await until(() => receiver.connectionState === 'connected' && out.sender.dtlsTransport?.state === 'connected', 20_000, 'the two werift peers to connect');
  });
  after(async () => {
    setFastPath('route', true);
    setFastPath('udp', true);
    setFastPath('rr', true);
    await Promise.all([sender?.close(), receiver?.close()]);
  });

  /** sends n packets 20 ms of RTP time apart and waits (bounded) until `got` has grown by n */
  async function send(n: number): Promise<Got[]> {
    const start = got.length;
    const sent: Got[] = [];
    for (let i = 0; i < n; i++) {
      const payload = Buffer.from(Array.from({ length: 40 + (i % 7) }, (_, k) => (k * 31 + seq) & 0xff));
      sent.push({ seq, ts, payload });
      await out.sender.sendRtp(new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: ts }), payload));
      seq = (seq + 1) & 0xffff;
      ts = (ts + 960) >>> 0;
    }
    await until(() => got.length >= start + n, 10_000, `the ${n} packets sent to arrive`);
    assert.equal(got.length - start, n, `${n} packets sent, ${got.length - start} delivered`);
    return sent;
  }

  test('is set up on a werift peer connection', () => {
    assert.ok(route, 'shortenRtpRoute found werift 0.24 internals it needs (router.routeRtp, receiver.remoteStreams)');
  });

  /** the receiver's DTLS transport and nominated ICE pair, as werift 0.24 has them (not in its typings) */
  function layers(): { dtls: { packetsReceived: number }; pair: { packetsReceived: number; protocol: { transport: { onData(d: Buffer, a: unknown): void } } } } {
    const dtls = receiver.getTransceivers()[0].receiver.dtlsTransport as unknown as { packetsReceived: number; iceTransport: { connection: { nominated: ReturnType<typeof layers>['pair'] } } };
    return { dtls, pair: dtls.iceTransport.connection.nominated };
  }
  /** werift's own counters on the way in: the ICE pair's and the DTLS transport's */
  function layerCounters(): { pair: number; dtls: number } {
    const { dtls, pair } = layers();
    return { pair: pair.packetsReceived, dtls: dtls.packetsReceived };
  }

  test('delivers every packet once, in order, unchanged; werift still counts them all', async () => {
    const before = layerCounters();
    const sent = await send(60);
    assert.deepEqual(got.slice(-60), sent);
    // the first packet went werift's whole way (the track), the rest the short route, past werift's ICE and DTLS layers too
    assert.equal(route!.shortcuts, 59);
    assert.equal(route!.datagrams, 59);
    const ssrc = out.sender.ssrc;
    const stats = (receiver.getTransceivers()[0].receiver as unknown as { remoteStreams: Record<number, { packets_received: number; max_seq: number }> }).remoteStreams[ssrc];
    assert.equal(stats.packets_received, 60, "werift's statistics (its receiver reports) count every packet");
    assert.equal(stats.max_seq, sent[59].seq);
    const after = layerCounters();
    // RTCP from the sender counts there too: at least every RTP packet
    assert.ok(after.pair - before.pair >= 60, `ICE pair counted ${after.pair - before.pair} of 60`);
    assert.ok(after.dtls - before.dtls >= 60, `DTLS transport counted ${after.dtls - before.dtls} of 60`);
  });

  test('a datagram of the SSRC that fails SRTP authentication is dropped, as werift drops it', async () => {
    const udp = layers().pair.protocol.transport;
    const forged = Buffer.alloc(12 + 40 + 16, 0x5a);
    forged[0] = 0x80;
    forged[1] = 111;
    forged.writeUInt16BE(seq, 2);
    forged.writeUInt32BE(ts, 4);
    forged.writeUInt32BE(out.sender.ssrc, 8);
    const n = got.length;
    udp.onData(forged, ['127.0.0.1', 9]);
    assert.equal(got.length, n, 'nothing delivered');
    // the stream goes on: the forged packet left the SRTP state alone
    const sent = await send(5);
    assert.deepEqual(got.slice(-5), sent);
  });

  test('datagram shortcut switched off: werift ICE and DTLS layers again, router still skipped', async () => {
    setFastPath('udp', false);
    const before = { shortcuts: route!.shortcuts, datagrams: route!.datagrams };
    const sent = await send(10);
    setFastPath('udp', true);
    assert.deepEqual(got.slice(-10), sent);
    assert.equal(route!.datagrams, before.datagrams);
    assert.equal(route!.shortcuts, before.shortcuts + 10);
    await send(5);
    assert.equal(route!.datagrams, before.datagrams + 5);
  });

  test('other payload types and SSRCs take werift route', async () => {
    const before = route!.shortcuts;
    const n = got.length;
    const router = (receiver as unknown as { router: { routeRtp(p: RtpPacket): void } }).router;
    // a payload type nobody negotiated: werift drops it, and so must the short route
    router.routeRtp(new RtpPacket(new RtpHeader({ payloadType: 0, sequenceNumber: seq, timestamp: ts, ssrc: out.sender.ssrc }), Buffer.alloc(40)));
    // an SSRC werift has not delivered yet: werift's route decides
    router.routeRtp(new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: ts, ssrc: (out.sender.ssrc + 1) >>> 0 }), Buffer.alloc(40)));
    assert.equal(route!.shortcuts, before);
    assert.equal(got.length, n, 'werift delivered neither (unknown payload type, unknown SSRC)');
  });

  test('receiver reports: 5 s or more apart when paced, werift pace (0.5–1.5 s) when not', async () => {
    assert.ok(paced, "the receiver's DTLS transport has sendRtcp to pace");
    await send(5); // werift's report loop runs once a packet has arrived
    const since = (from: number) => reports.filter((t) => t >= from);
    const gaps = (ts: number[]) => ts.slice(1).map((t, i) => t - ts[i]);
    // waits on the reports themselves, not on a window: a loaded machine only makes them later
    let from = performance.now();
    await until(() => since(from).length >= 2, 20_000, 'two paced receiver reports');
    const pacedGap = Math.min(...gaps(since(from)));
    // (a report's trip over loopback may be delayed, never earlier than sent: a little below 5 s at most)
    assert.ok(pacedGap >= 4500, `paced: two reports ${Math.round(pacedGap)} ms apart`);
    setFastPath('rr', false);
    try {
      from = performance.now();
      // three reports are at least 10 s when paced; werift's own pace sends them in 1.5–4.5 s
      await until(() => since(from).length >= 3, 9000, "three receiver reports at werift's pace");
      assert.ok(Math.min(...gaps(since(from))) < 2500, `unpaced gaps ${gaps(since(from)).map(Math.round).join(', ')} ms`);
    } finally {
      setFastPath('rr', true);
    }
  });

  test('switched off, packets take werift route again', async () => {
    setFastPath('route', false);
    const before = route!.shortcuts;
    const sent = await send(10);
    assert.deepEqual(got.slice(-10), sent);
    assert.equal(route!.shortcuts, before);
    setFastPath('route', true);
    await send(5);
    assert.equal(route!.shortcuts, before + 5);
  });
});
