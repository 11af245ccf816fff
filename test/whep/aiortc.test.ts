/**
 * Interop with an independent WebRTC stack: python3-aiortc (Debian) as the WHEP server, its own
 * libopus encoding espeak-ng speech. What arrives must be that speech, whole.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { until } from '../support/node-red';
import { speechPcm48k } from '../peers/whep-source';
import { bestCorrelation, collectingEngine, resampleWithSox, samples, startAiortc } from './support';
import { missingPeer } from '../support/peers';

let server: Awaited<ReturnType<typeof startAiortc>> | undefined;
/** why the peer could not be had on this machine (it never answered; a crash is a failure) */
let unavailable: string | undefined;
let speech: Buffer;
const c = collectingEngine({ rate: 16000, channels: 1 });

before(async () => {
  if (missingPeer('aiortc', 'sox')) return;
  speech = speechPcm48k('Number B 3 4 5, please go to counter 7.');
  try {
    server = await startAiortc(speech);
  } catch (e) {
    const msg = (e as Error).message;
    // Python sitting silent twice is this machine, not our code: the test says so loudly (skipped,
    // with the stacks the script dumped) instead of failing the whole suite. Anything else fails.
    if (!/did not start within/.test(msg) || /exited \(/.test(msg)) throw e;
    unavailable = msg;
  }
});
after(async () => {
  await c.engine.close();
  await server?.stop();
});

test('aiortc WHEP server: the speech it sends arrives (duration and correlation), DELETE on stop', { skip: missingPeer('aiortc', 'sox') }, async (t) => {
  if (!server) {
    t.diagnostic(unavailable ?? '');
    t.skip('the aiortc peer did not start on this machine (see the diagnostic)');
    return;
  }
  c.engine.start({ url: server.url, stmId: 'py', traceId: 'py-trace' });
  const speechMs = (speech.length / 96000) * 1000;
  // aiortc sends silence after the speech: wait for the speech plus a margin, then compare
  await until(() => c.audio('py').length / 32 >= speechMs + 1000, 30_000, 'speech and 1 s of what follows');
  const got = samples(c.audio('py'));
  const { corr, lagMs } = bestCorrelation(got, samples(resampleWithSox(speech, 16000)), 16000);
  assert.ok(corr > 0.7, `correlation ${corr.toFixed(3)} at lag ${lagMs} ms`);
  assert.ok(lagMs >= -100 && lagMs < 1500, `speech starts ${lagMs} ms into the stream`);
  assert.ok(c.of('py').every((m, i) => m.seq === i && m.traceId === 'py-trace' && m.rate === 16000));
  await c.engine.stop('py');
  await until(() => server!.lines().some((l) => l.startsWith('DELETE 1')), 5000, 'DELETE at the aiortc server');
  assert.equal(c.of('py').at(-1)!.complete, true);
});
