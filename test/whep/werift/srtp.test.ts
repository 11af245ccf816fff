/**
 * Guards lib/whep/werift/srtp.ts: the leaner SRTP decryption installed into werift must give
 * exactly what werift's own gives, for both profiles werift negotiates: the same plaintext and
 * header for every packet, the same SrtpAuthenticationError for every tampered or truncated
 * one, and the same roll-over counter state afterwards (werift keeps no replay window; neither
 * does the replacement: that bookkeeping is werift's own code, untouched).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, test } from 'node:test';
import { RtpHeader, SrtpAuthenticationError, SrtpSession } from 'werift';
import '../../../lib/whep'; // installs it, as whep-in does
import { installFastSrtp, uninstallFastSrtp, weriftOriginalSrtp } from '../../../lib/whep/werift/srtp';

const PROFILES = { 'AES_CM_128_HMAC_SHA1_80': 0x0001, 'AEAD_AES_128_GCM': 0x0007 } as const;

// a seeded generator, so a failure can be reproduced
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
}

type Ctx = { srtpSSRCStates: Record<number, unknown>; cipher: { decryptRtp: unknown } };
function sessions(profile: number, key: Buffer, salt: Buffer) {
  const cfg = () => new SrtpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile } as never);
  return { sender: cfg(), theirs: cfg(), ours: cfg() };
}
const ctx = (s: SrtpSession) => (s as unknown as { remoteContext: Ctx }).remoteContext;

type Outcome = { ok: Buffer; header: RtpHeader } | { error: string };
function decryptWith(fast: boolean, s: SrtpSession, packet: Buffer): Outcome {
  if (fast) installFastSrtp();
  else uninstallFastSrtp();
  try {
    const [ok, header] = (ctx(s) as unknown as { decryptRtp(b: Buffer): [Buffer, RtpHeader] }).decryptRtp(packet);
    return { ok, header };
  } catch (err) {
    assert.ok(err instanceof SrtpAuthenticationError, `not an SrtpAuthenticationError: ${(err as Error).stack}`);
    return { error: (err as Error).message };
  } finally {
    installFastSrtp();
  }
}

function makePacket(r: () => number, sender: SrtpSession, seq: number): Buffer {
  const shape = Math.floor(r() * 5);
  const payloadLen = [0, 1, 15, 16, 17, 160, 1200][Math.floor(r() * 7)];
  const payload = crypto.randomBytes(payloadLen);
  const header = new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: Math.floor(r() * 2 ** 32), ssrc: Math.floor(r() * 2 ** 32), marker: r() < 0.5 });
  if (shape === 1) {
    header.csrc = [0x11111111, 0x22222222];
    header.csrcLength = 2;
  } else if (shape === 2) {
    header.extension = true;
    header.extensions = [{ id: 1, payload: Buffer.from([0x7f]) }, { id: 3, payload: Buffer.from([1, 2, 3]) }];
  } else if (shape === 3 && payloadLen > 0) {
    // RTP padding: the last payload byte counts the padding bytes (werift checks it after decryption)
    header.padding = true;
    payload[payloadLen - 1] = 1 + Math.floor(r() * payloadLen);
  } else if (shape === 4 && payloadLen > 0) {
    header.padding = true;
    payload[payloadLen - 1] = r() < 0.5 ? 0 : payloadLen + 1; // invalid padding: both must reject
  }
  return sender.encrypt(payload, header);
}

describe('werift SRTP decryption (lib/whep/werift/srtp.ts)', () => {
  test('is installed into werift for both profiles', () => {
    assert.doesNotThrow(installFastSrtp, "werift's SRTP ciphers changed: lib/whep/werift/srtp.ts no longer mirrors them");
    for (const profile of Object.values(PROFILES)) {
      const s = sessions(profile, crypto.randomBytes(16), crypto.randomBytes(profile === 7 ? 12 : 14));
      const decrypt = ctx(s.ours).cipher.decryptRtp;
      assert.notEqual(decrypt, profile === 1 ? weriftOriginalSrtp.ctr : weriftOriginalSrtp.gcm);
    }
  });

  for (const [name, profile] of Object.entries(PROFILES)) {
    test(`${name}: same plaintext, header, errors and roll-over state as werift on many packets (around a roll-over too)`, () => {
      const r = rng(profile * 7919);
      const key = crypto.randomBytes(16);
      const salt = crypto.randomBytes(profile === 7 ? 12 : 14);
      const { sender, theirs, ours } = sessions(profile, key, salt);
      // a run through the 16-bit wrap (the ROC goes to 1), with some reordering and repeats
      const seqs: number[] = [];
      for (let s = 65400; s < 65536 + 200; s++) seqs.push(s % 65536);
      for (let i = 0; i < 60; i++) {
        const a = Math.floor(r() * seqs.length);
        const b = Math.min(seqs.length - 1, a + 1 + Math.floor(r() * 3));
        [seqs[a], seqs[b]] = [seqs[b], seqs[a]];
      }
      let ok = 0;
      let failed = 0;
      for (const seq of seqs) {
        const packet = makePacket(r, sender, seq);
        const want = decryptWith(false, theirs, packet);
        const got = decryptWith(true, ours, packet);
        assert.deepStrictEqual(got, want, `seq ${seq}`);
        assert.deepStrictEqual(ctx(ours).srtpSSRCStates, ctx(theirs).srtpSSRCStates, `roll-over state after seq ${seq}`);
        if ('ok' in got) ok++;
        else failed++;
      }
      assert.ok(ok > seqs.length / 2, `${ok} packets decrypted`);
      assert.ok(failed > 0, 'the invalid-padding packets were rejected');
    });

    test(`${name}: every tampered or truncated packet fails the same way, and a wrong key fails`, () => {
      const r = rng(profile * 104729);
      const key = crypto.randomBytes(16);
      const salt = crypto.randomBytes(profile === 7 ? 12 : 14);
      const { sender, theirs, ours } = sessions(profile, key, salt);
      for (let i = 0; i < 40; i++) {
        const packet = makePacket(r, sender, 100 + i);
        // one flipped bit in each byte position (header, payload, tag)
        for (let pos = 0; pos < packet.length; pos += 1 + Math.floor(packet.length / 40)) {
          const bad = Buffer.from(packet);
          bad[pos] ^= 1 << Math.floor(r() * 8);
          const want = decryptWith(false, theirs, bad);
          const got = decryptWith(true, ours, bad);
          assert.deepStrictEqual(got, want, `bit flip at ${pos} of ${packet.length}`);
          assert.ok('error' in got, `a flip at ${pos} was accepted`);
        }
        for (const cut of [1, 5, 10, 16, packet.length - 12, packet.length - 1]) {
          if (cut <= 0 || cut >= packet.length) continue;
          const short = packet.subarray(0, packet.length - cut);
          assert.deepStrictEqual(decryptWith(true, ours, short), decryptWith(false, theirs, short), `cut ${cut}`);
        }
        assert.deepStrictEqual(ctx(ours).srtpSSRCStates, ctx(theirs).srtpSSRCStates);
      }
      const other = sessions(profile, crypto.randomBytes(16), salt);
      const packet = makePacket(r, sender, 500);
      const got = decryptWith(true, other.ours, packet);
      assert.ok('error' in got, 'a packet under another key was accepted');
      assert.deepStrictEqual(got, decryptWith(false, other.theirs, packet));
    });
  }
});
