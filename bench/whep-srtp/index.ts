/**
 * SRTP decryption cost per packet: werift 0.24's own code vs lib/whep/werift/srtp.ts, for both
 * profiles werift negotiates, with N receiving sessions interleaved packet by packet (as N
 * streams arrive; one hot session would flatter both).
 *
 *   npm run bench -- whep-srtp [--sessions 50] [--payload 160] [--rounds 7]
 *
 * Rounds alternate the two implementations; prints one JSON line per profile with the median
 * ns per packet of each and their ratio. The whole-pipeline effect is in `bench/whep`
 * (--alternate ";srtp"). Figures come from a shared, noisy 2-core machine.
 */
import crypto from 'node:crypto';
import { RtpHeader, SrtpSession } from 'werift';
import { installWeriftLayer } from '../../lib/whep';
import { setFastPath } from '../../lib/whep/werift/bench-switches';
import { median, numberOption } from '../support/stats';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => numberOption(args, name, d);
const sessions = opt('sessions', 50);
const payload = opt('payload', 160);
const rounds = opt('rounds', 7);
const PACKETS = 1000; // per session and round: 20 s of 20 ms packets

installWeriftLayer(); // as whep-in runs it: the SRTP layer parses headers through the fast parser too

for (const [name, profile] of [['AES_CM_128_HMAC_SHA1_80', 0x0001], ['AEAD_AES_128_GCM', 0x0007]] as const) {
  // one sender per session; every round decrypts the same packets with fresh receivers
  const keys = Array.from({ length: sessions }, () => ({ key: crypto.randomBytes(16), salt: crypto.randomBytes(profile === 7 ? 12 : 14) }));
  const session = (k: (typeof keys)[number]) => new SrtpSession({ keys: { localMasterKey: k.key, localMasterSalt: k.salt, remoteMasterKey: k.key, remoteMasterSalt: k.salt }, profile } as never);
  const packets = keys.map((k, s) => {
    const tx = session(k);
    return Array.from({ length: PACKETS }, (_, i) => tx.encrypt(crypto.randomBytes(payload), new RtpHeader({ payloadType: 111, sequenceNumber: (1000 + i) & 0xffff, timestamp: i * 960, ssrc: 0x1000 + s })));
  });
  const ns: Record<'werift' | 'ours', number[]> = { werift: [], ours: [] };
  for (let r = 0; r < rounds * 2; r++) {
    const which = (r % 2 === 0) === (Math.floor(r / 2) % 2 === 0) ? 'werift' : 'ours';
    setFastPath('srtp', which === 'ours');
    const rx = keys.map(session);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PACKETS; i++) for (let s = 0; s < sessions; s++) rx[s].decrypt(packets[s][i]);
    const per = Number(process.hrtime.bigint() - t0) / (PACKETS * sessions);
    if (r >= 2) ns[which].push(per); // the first pair warms both up
  }
  setFastPath('srtp', true);
  const w = median(ns.werift);
  const o = median(ns.ours);
  console.log(JSON.stringify({ profile: name, sessions, payloadBytes: payload, weriftNsPerPacket: Math.round(w), oursNsPerPacket: Math.round(o), ratio: +(o / w).toFixed(3), rounds: ns.ours.length }));
}
