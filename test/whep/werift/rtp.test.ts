/**
 * Guards lib/whep/werift/rtp.ts: the fast RTP header parser installed into werift must give
 * exactly what werift's own parser gives (fields, field order, prototype, errors), so a werift
 * upgrade that changes the header shape fails here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RtpHeader, RtpPacket } from 'werift';
import '../../../lib/whep'; // installs the fast parser, as whep-in does
import { fastDeserializeRtpHeader, installFastRtpParsing, weriftOriginal } from '../../../lib/whep/werift/rtp';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// header bytes (+ payload) covering the branches of RFC 3550 / RFC 8285 parsing
const packets: Record<string, Buffer> = {
  plain: hex('80 6f 1234 00000960 deadbeef  fc ff fe'),
  marker: hex('80 ef ffff ffffffff 00000001  01 02'),
  csrcs: hex('82 6f 0001 00000000 11111111  22222222 33333333  aa bb'),
  oneByteExt: hex('90 6f 0002 00000000 11111111  bede 0002  10 aa 21 bbcc 00 00 00  fc'),
  oneByteExtPaddingBytesAndStop: hex('90 6f 0003 00000000 11111111  bede 0002  00 00 31 01020304 f0 00  fc'),
  twoByteExt: hex('90 6f 0004 00000000 11111111  1000 0002  01 02 aabb 00 03 01 cc 00  fc'),
  otherProfileExt: hex('90 6f 0005 00000000 11111111  abcd 0001  01020304  fc'),
  padding: hex('a0 6f 0006 00000000 11111111  fc 01 02 00 00 03'),
  csrcAndExtAndPadding: hex('b1 6f 0007 00000000 11111111 44444444  bede 0001  40 99 00 00  fc 00 02'),
  extensionPastEnd: hex('90 6f 0008 00000000 11111111  bede 0004  10 aa'),
};

// werift's callers (SRTP decryption, the DTLS transport) drop a packet whose header throws,
// whatever the error: "throws" is the outcome to match (the error classes differ on garbage)
function outcome(parse: (b: Buffer) => RtpHeader, b: Buffer): { ok: RtpHeader } | { threw: true } {
  try {
    return { ok: parse(b) };
  } catch {
    return { threw: true };
  }
}

describe('werift RTP header parsing (lib/whep/werift/rtp.ts)', () => {
  test('is installed into werift', () => {
    assert.doesNotThrow(installFastRtpParsing, 'werift RtpHeader fields differ from the ones lib/whep/werift/rtp.ts mirrors');
    assert.equal(RtpHeader.deSerialize, fastDeserializeRtpHeader);
    assert.notEqual(RtpPacket.prototype.clone, weriftOriginal.clone);
  });

  for (const [name, buf] of Object.entries(packets)) {
    test(`same header as werift's parser: ${name}`, () => {
      const want = weriftOriginal.deSerialize(buf);
      const got = fastDeserializeRtpHeader(buf);
      assert.ok(got instanceof RtpHeader);
      assert.deepStrictEqual(got, want);
      assert.deepEqual(Object.keys(got), Object.keys(want)); // field order too
      // the serializer (werift's, on the shared prototype) gives back the same header bytes
      if (!name.includes('PastEnd') && !name.includes('Stop')) {
        assert.deepEqual(got.serialize(got.serializeSize), want.serialize(want.serializeSize));
      }
    });
  }

  test('same outcome on every truncation of every packet (same header, or both throw)', () => {
    for (const [name, buf] of Object.entries(packets)) {
      for (let n = 0; n <= buf.length; n++) {
        const b = buf.subarray(0, n);
        assert.deepStrictEqual(outcome(fastDeserializeRtpHeader, b), outcome(weriftOriginal.deSerialize, b), `${name} cut to ${n} bytes`);
      }
    }
  });

  test('same outcome on random headers', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(Array.from({ length: 12 + (rnd() % 40) }, rnd));
      const extAt = 12 + 4 * (b[0] & 0x0f);
      if (i % 2 && extAt + 2 <= b.length) b.writeUInt16BE(i % 4 === 1 ? 0xbede : 0x1000, extAt); // known profiles, often
      // a short extension length: werift's parser is quadratic in it (2^16 words take minutes)
      if (extAt + 4 <= b.length) b[extAt + 2] = 0;
      assert.deepStrictEqual(outcome(fastDeserializeRtpHeader, b), outcome(weriftOriginal.deSerialize, b), b.toString('hex'));
    }
  });

  test('clone gives the same packet as werift\'s clone, with a header of its own', () => {
    const p = RtpPacket.deSerialize(packets.csrcAndExtAndPadding);
    const want = weriftOriginal.clone.call(p);
    const got = p.clone();
    assert.ok(got instanceof RtpPacket && got.header instanceof RtpHeader);
    assert.deepStrictEqual(got, want);
    assert.notEqual(got.header, p.header);
    got.header.sequenceNumber = 99;
    assert.equal(p.header.sequenceNumber, 7);
  });
});
