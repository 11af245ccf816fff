/**
 * The whep engine against the werift source in a process of its own: there none of our werift
 * patches run (the source imports werift alone), so the fast paths are checked against werift's
 * own sending side, not against themselves. The source speaks as SRS (AES_CM_128_HMAC_SHA1_80
 * only) and as a browser (Opus in VoIP mode: SILK/hybrid); the other whep tests mostly see
 * werift↔werift's AES-GCM and CELT.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { speechPcm48k } from '../../peers/whep-source';
import { missingPeer } from '../../support/peers';
import { until } from '../../support/processes';
import { install } from '../../../lib/whep/werift';
import { weriftOriginalSrtp } from '../../../lib/whep/werift/srtp';
import { bestCorrelation, collectingEngine, resampleWithSox, samples, startSourceProcess } from '../support';

const TEXT = 'Number C 5 6 7, please go to counter 9.';

describe('whep engine ↔ werift source in its own process (AES-CM, VoIP Opus)', { skip: missingPeer('espeak-ng', 'sox') }, () => {
  let src: Awaited<ReturnType<typeof startSourceProcess>>;
  const c = collectingEngine({ rate: 16000, channels: 1, idleMs: 1500, idleReconnectMs: 0 });
  before(async () => {
    src = await startSourceProcess(['--srtp', 'aes-cm', '--voip', '--text', TEXT]);
  });
  after(async () => {
    await c.engine.close();
    await src?.kill();
  });

  test('every fast path active on our side; the speech arrives whole and equals what was spoken', async (t) => {
    assert.deepEqual(install().fallbacks, []);
    c.engine.start({ url: src.url, stmId: 'sip', traceId: 'sip-trace' });
    await until(() => c.named('connected', 'sip').length > 0, 30_000, 'connected');
    // the profile DTLS agreed on, and that our AES-CM decryption (not werift's) is the one in use
    type Transport = { dtls?: { srtp: { srtpProfile?: number } }; srtp: { remoteContext: { cipher: { decryptRtp: unknown } } } };
    const transport = (c.engine.get('sip') as unknown as { pc: { dtlsTransports: Transport[] } }).pc.dtlsTransports[0];
    assert.equal(transport.dtls?.srtp.srtpProfile, 1, 'AES_CM_128_HMAC_SHA1_80 negotiated');
    assert.notEqual(transport.srtp.remoteContext.cipher.decryptRtp, weriftOriginalSrtp.ctr, "our AES-CM decryption, not werift's");
    await until(() => c.named('idle', 'sip').length > 0, 30_000, 'the stream to go idle after the speech');
    const durationMs = src.durationMs;
    const ms = c.audio('sip').length / 32;
    // a packet or two may be lost before DTLS settles on a loaded machine, never more than was sent
    assert.ok(ms >= durationMs - 300 && ms <= durationMs + 60, `got ${ms} ms of ${durationMs} ms`);
    const { corr } = bestCorrelation(samples(c.audio('sip')), samples(resampleWithSox(speechPcm48k(TEXT), 16000)), 16000);
    t.diagnostic(`${ms} ms of ${durationMs} ms, correlation ${corr.toFixed(3)}`);
    assert.ok(corr > 0.8, `correlation with the spoken text ${corr.toFixed(3)}`);
    const stats = c.named('idle', 'sip')[0].stats;
    assert.equal(stats.decodeErrors, 0);
    assert.ok(c.of('sip').every((m, i) => m.seq === i && m.traceId === 'sip-trace' && m.payload.length === 640));
  });
});
