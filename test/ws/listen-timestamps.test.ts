/**
 * The listen pipeline whep-in → resample → base64-ws-out (engines, as the nodes wire them) from a
 * real WHEP source (werift, real Opus over ICE/DTLS/SRTP on 127.0.0.1) whose publisher pauses for
 * 10 s: every frame's timestamp is the capture time of its first sample, before and after the
 * pause. The source sends in real time, so a frame's last sample was captured just before the
 * frame could be completed: its arrival at the receiver minus (timestamp + duration) is the
 * pipeline's latency, which must stay under one chunk (200 ms) — the old chunker made it 10 s
 * for every frame after the pause.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { WhepIn } from '../../lib/whep';
import type { PcmMessage } from '../../lib/pcm';
import { ResampleStreams } from '../../lib/resample/streams';
import { WsSender } from '../../lib/ws';
import { startWhepSource, type WhepSource } from '../peers/whep-source';
import { WsReceiver } from '../peers/ws-receiver';
import { sleep, until } from '../support/processes';
import { missingPeer } from '../support/peers';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

test('whep-in → resample → base64-ws-out, publisher paused 10 s: frame timestamps within one chunk of capture, before and after', { skip: missingPeer('espeak-ng') }, async () => {
  const src: WhepSource = await startWhepSource({ text: 'Number A 0 1 2, please go to counter 3.', loop: true });
  cleanup.push(() => src.stop());
  const r = await new WsReceiver().start();
  cleanup.push(() => r.stop());
  const sender = new WsSender({ target: { url: r.url, backoffInitialMs: 50, backoffMaxMs: 500 } });
  cleanup.push(() => sender.close());
  const resample = new ResampleStreams({ outRate: 16000, outChannels: 1, mix: 'average', quality: 'standard', idleMs: 60_000 });
  const whep = new WhepIn(
    { iceHostAddresses: ['127.0.0.1'], rate: 48000, channels: 2, idleMs: 1000, idleReconnectMs: 0, retryInitialMs: 200, retryMaxMs: 2000 },
    {
      chunk: (m: PcmMessage) => {
        for (const out of resample.handle(m as unknown as Record<string, unknown>)) sender.push(out as Record<string, unknown>);
      },
      event: () => undefined,
    },
  );
  cleanup.push(() => whep.close());
  whep.start({ url: src.url, stmId: 'listen' });
  await until(() => r.stream('listen').length >= 15, 30_000, '3 s of frames before the pause');
  src.pauseRtp();
  const pausedAt = Date.now();
  await sleep(10_000);
  src.resumeRtp();
  const before = r.stream('listen').length;
  await until(() => r.stream('listen').length >= before + 15, 30_000, '3 s of frames after the pause');
  const frames = r.stream('listen');
  const lags = frames.map((f) => {
    const ms = Buffer.from(f.json.data, 'base64').length / 32;
    return { lag: f.at - (f.json.timestamp * 1000 + ms), at: f.at, ms };
  });
  const after10 = lags.filter((l) => l.at > pausedAt + 10_000);
  assert.ok(after10.length >= 15, 'frames after the pause');
  // the audio buffered when the publisher paused waits for the next audio to show it is complete:
  // that one short frame arrives after the pause, stamped with when it was captured, just before it
  const held = lags.filter((l) => l.at > pausedAt + 10_000 && l.at - l.lag < pausedAt + 200);
  assert.ok(held.length <= 1, `${held.length} frames held over the pause`);
  for (const h of held) assert.ok(Math.abs(h.at - h.lag - pausedAt) < 200 && h.ms < 200, `the held frame ends ${(h.at - h.lag - pausedAt).toFixed(0)} ms from the pause`);
  for (const [i, l] of lags.entries()) {
    if (held.includes(l)) continue;
    assert.ok(Math.abs(l.lag) < 200, `frame ${i} (${l.ms} ms, ${l.at > pausedAt ? 'after' : 'before'} the pause): last sample captured ${l.lag.toFixed(0)} ms before it arrived`);
  }
  console.log(`# lags before: median ${median(lags.filter((l) => l.at < pausedAt).map((l) => l.lag))} ms, after: median ${median(after10.map((l) => l.lag))} ms; short frames ${lags.filter((l) => l.ms !== 200).length}`);
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)] ?? NaN);
}
