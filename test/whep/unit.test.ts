/** Unit tests of lib/whep pieces that need no network: reorder buffer, Opus TOC, SDP, Link headers, decoder. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OpusDecoder, opusPacketSamples, parseIceServerLinks, ReorderBuffer, sanitizeAnswer, type Ordered } from '../../lib/whep';
import { encodeOpus } from '../peers/whep-source';

const P = (n: number) => Buffer.from([0xfc, n]); // TOC 0xfc: CELT 20 ms, one frame → 960 samples

function run(rb: ReorderBuffer, packets: Array<[number, number]>): string[] {
  const out: Ordered[] = [];
  for (const [seq, ts] of packets) rb.push(seq, ts, P(seq & 0xff), out);
  return out.map((o) => (o.kind === 'packet' ? `p${o.payload[1]}@${o.ts}` : o.kind === 'gap' ? `gap${o.samples}@${o.ts}` : `reset@${o.ts}`));
}

describe('ReorderBuffer', () => {
  const mk = (window = 3) => new ReorderBuffer({ window, packetSamples: opusPacketSamples });

  test('in-order packets pass straight through', () => {
    const rb = mk();
    assert.deepEqual(run(rb, [[10, 0], [11, 960], [12, 1920]]), ['reset@0', 'p10@0', 'p11@960', 'p12@1920']);
    assert.equal(rb.held, 0);
  });

  test('a late packet inside the window is put back in order', () => {
    const rb = mk();
    assert.deepEqual(run(rb, [[1, 0], [3, 1920], [2, 960], [4, 2880]]), ['reset@0', 'p1@0', 'p2@960', 'p3@1920', 'p4@2880']);
    assert.equal(rb.stats.lost, 0);
  });

  test('duplicates are dropped, whether held or already played', () => {
    const rb = mk();
    assert.deepEqual(run(rb, [[1, 0], [3, 1920], [3, 1920], [2, 960], [2, 960], [1, 0]]), ['reset@0', 'p1@0', 'p2@960', 'p3@1920']);
    assert.equal(rb.stats.duplicates, 1);
    assert.equal(rb.stats.late, 2);
  });

  test('a loss is declared once the window is full, and its time is reported as a gap', () => {
    const rb = mk(2);
    assert.deepEqual(run(rb, [[1, 0], [3, 1920], [4, 2880], [5, 3840]]), ['reset@0', 'p1@0', 'gap960@960', 'p3@1920', 'p4@2880', 'p5@3840']);
    assert.equal(rb.stats.lost, 1);
    // the lost packet arriving afterwards is too late
    assert.deepEqual(run(rb, [[2, 960]]), []);
    assert.equal(rb.stats.late, 1);
  });

  test('flush gives up waiting (the stream went quiet after a loss)', () => {
    const rb = mk();
    run(rb, [[1, 0], [3, 1920]]);
    assert.equal(rb.held, 1);
    const out = rb.flush().map((o) => o.kind);
    assert.deepEqual(out, ['gap', 'packet']);
  });

  test('sequence numbers wrap around 65535', () => {
    const rb = mk();
    assert.deepEqual(run(rb, [[65534, 0], [0, 1920], [65535, 960], [1, 2880]]), ['reset@0', 'p254@0', 'p255@960', 'p0@1920', 'p1@2880']);
  });

  test('a jump in numbering or a long silence in the RTP clock starts a new timeline, not a fill', () => {
    const rb = mk();
    assert.deepEqual(run(rb, [[1, 0], [2, 960], [30000, 5_000_000]]), ['reset@0', 'p1@0', 'p2@960', 'reset@5000000', 'p48@5000000']);
    assert.deepEqual(run(rb, [[30001, 5_000_960 + 48000 * 10]]), ['reset@5480960', 'p49@5480960']);
    assert.equal(rb.stats.resets, 2);
  });

  test('a DTX-style gap in timestamps with consecutive numbers is filled', () => {
    const rb = mk();
    assert.deepEqual(run(rb, [[1, 0], [2, 960 * 5]]), ['reset@0', 'p1@0', 'gap3840@960', 'p2@4800']);
  });
});

describe('Opus', () => {
  test('packet duration from the TOC byte', () => {
    assert.equal(opusPacketSamples(Buffer.from([0xfc])), 960); // CELT 20 ms
    assert.equal(opusPacketSamples(Buffer.from([0x08])), 960); // SILK NB 20 ms
    assert.equal(opusPacketSamples(Buffer.from([0x1b, 0x02])), 5760); // SILK 60 ms, code 3, 2 frames
    assert.equal(opusPacketSamples(Buffer.from([0xfd])), 1920); // two 20 ms CELT frames
    assert.equal(opusPacketSamples(Buffer.alloc(0)), 960);
  });

  test('decodes straight to 16 kHz mono and 48 kHz stereo; concealment has the gap\'s length', () => {
    const tone = Buffer.alloc(960 * 2 * 10);
    for (let i = 0; i < 960 * 10; i++) tone.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48000)), 2 * i);
    const packets = encodeOpus(tone);
    const d16 = new OpusDecoder(16000, 1);
    const d48 = new OpusDecoder(48000, 2);
    try {
      assert.equal(d16.decode(packets[0]).length, 640);
      assert.equal(d48.decode(packets[0]).length, 3840);
      assert.equal(d16.conceal(960).length, 640);
      assert.equal(d16.conceal(960 * 20).length, 640 * 20); // 400 ms: PLC then silence
      assert.equal(d48.conceal(480).length, 1920);
      // loud tone decoded loud (bytes given to opusscript as s16le, not as samples)
      let pcm: Buffer = Buffer.alloc(0);
      const seq = new OpusDecoder(16000, 1);
      for (const p of packets) pcm = seq.decode(p);
      seq.close();
      let peak = 0;
      for (let i = 0; i < pcm.length; i += 2) peak = Math.max(peak, Math.abs(pcm.readInt16LE(i)));
      assert.ok(peak > 5000 && peak < 12000, `peak ${peak}`);
    } finally {
      d16.close();
      d48.close();
    }
    assert.throws(() => new OpusDecoder(44100 as 48000, 2), { code: 'whep.opusRate' });
  });

  test('hundreds of decoders: the first still decodes after the wasm heap grew (opusscript\'s class breaks here)', () => {
    const packets = encodeOpus(Buffer.alloc(1920 * 3, 0x11));
    const first = new OpusDecoder(48000, 2);
    const many = Array.from({ length: 250 }, () => new OpusDecoder(48000, 2));
    try {
      for (const d of [first, many[0], many[249]]) for (const p of packets) assert.equal(d.decode(p).length, 3840);
    } finally {
      first.close();
      for (const d of many) d.close();
    }
  });
});

describe('SDP answers and Link headers', () => {
  const srs = [
    'v=0',
    'o=SRS/6.0.48(Bee) 107408542208384 2 IN IP4 0.0.0.0',
    's=SRSPlaySession',
    't=0 0',
    'a=ice-lite',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS live/livestream',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'c=IN IP4 0.0.0.0',
    'a=ice-ufrag:1d4f8b2e',
    'a=ice-pwd:9ad1w3l5s7d9m1b3n5v7c9x1z3a5s7d9',
    'a=fingerprint:sha-256 3A:9F:2C:11:05:44:7B:8E:19:3D:6A:C2:FF:01:92:7E:58:3B:A0:1C:DD:E4:66:09:72:B8:CE:3F:41:15:88:2D',
    'a=setup:passive',
    'a=mid:0',
    'a=sendonly',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 ;minptime=10;useinbandfec=1',
    'a=candidate:0 1 udp 2130706431 192.0.2.10 8000 typ host generation 0',
  ].join('\n');

  test("SRS's answer (bare LF, fmtp starting with ';', ICE-lite, no end-of-candidates) is made acceptable", () => {
    const out = sanitizeAnswer(srs);
    assert.ok(out.includes('a=fmtp:111 minptime=10;useinbandfec=1\r\n'));
    assert.ok(out.endsWith('\r\n') && !/[^\r]\n/.test(out));
    assert.ok(out.includes('a=ice-lite'));
  });

  test('answers that cannot work are errors with a reason', () => {
    assert.throws(() => sanitizeAnswer('<html>502 Bad Gateway</html>'), { code: 'whep.sdpNotSdp' });
    assert.throws(() => sanitizeAnswer(srs.replace(/m=audio/, 'm=video')), { code: 'whep.sdpNoAudio' });
    assert.throws(() => sanitizeAnswer(srs.replace(/opus/, 'PCMU')), { code: 'whep.sdpNoOpus' });
    assert.throws(() => sanitizeAnswer(srs.replace(/a=fingerprint.*\n/, '')), { code: 'whep.sdpNoFingerprint' });
  });

  test('Link: rel="ice-server" headers become ICE servers; other links are ignored', () => {
    const got = parseIceServerLinks([
      '<stun:stun.example.net>; rel="ice-server", <https://example.net/doc>; rel="help"',
      '<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="pa,ss"; credential-type="password"',
    ]);
    assert.deepEqual(got, [{ urls: 'stun:stun.example.net' }, { urls: 'turn:turn.example.net?transport=udp', username: 'user', credential: 'pa,ss' }]);
    assert.deepEqual(parseIceServerLinks(undefined), []);
  });
});
