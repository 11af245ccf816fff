/**
 * Frame timestamps after gaps: every frame's `timestamp` is the capture time of its first sample,
 * also after a publisher pause, a reconnect (a jump forward) or an overlap (a jump back), with
 * input in the irregular sizes resample produces. Against a real `ws` receiver.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { WsSender } from '../../lib/ws';
import * as chunker from '../../lib/pcm/chunker';

/** the chunker's stated tolerance for timestamps that do not continue the buffered audio */
const GAP_TOLERANCE_MS = chunker.GAP_TOLERANCE_MS ?? 50;
import { WsReceiver } from '../peers/ws-receiver';
import { until } from '../support/processes';
import { FMT16K, pcmFor } from './helpers';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

test('a 10 s pause, a jump back and clock jitter: every frame is timestamped with its first sample\'s capture time', async () => {
  const r = await new WsReceiver().start();
  cleanup.push(() => r.stop());
  const s = new WsSender({ target: { url: r.url, backoffInitialMs: 20, backoffMaxMs: 100 } });
  cleanup.push(() => s.close());
  const t0 = 1_700_000_000_000;
  const sizes = [317, 323, 320, 1, 640, 159, 480];
  /** capture time of every sample sent, by its index in the stream's PCM */
  const captured: number[] = [];
  let n = 0;
  let clock = t0; // capture time of the next sample
  const send = (samples: number, jitterMs = 0) => {
    for (let i = 0; i < samples; i++) captured.push(clock + (i * 1000) / 16000);
    s.push({ payload: pcmFor(0, n, samples), ...FMT16K, stmId: 'ts', timestamp: clock + jitterMs });
    n += samples;
    clock += (samples * 1000) / 16000;
  };
  for (let k = 0; k < 40; k++) send(sizes[k % sizes.length], k % 3 === 0 ? GAP_TOLERANCE_MS / 2 : 0); // within tolerance: one timeline
  clock += 10_000; // the publisher paused 10 s
  for (let k = 0; k < 40; k++) send(sizes[k % sizes.length]);
  clock -= 500; // an overlap (a source that restarted its clock a little back)
  for (let k = 0; k < 40; k++) send(sizes[k % sizes.length]);
  s.push({ complete: true, stmId: 'ts' });
  await until(() => r.pcm('ts').length === n * 2, 10_000, 'all audio');
  let first = 0;
  const short: number[] = [];
  r.stream('ts').forEach((f, i) => {
    const samples = Buffer.from(f.json.data, 'base64').length / 2;
    const want = captured[first];
    // within the tolerance (jittered input), and exact where the input was exact
    assert.ok(Math.abs(f.json.timestamp * 1000 - want) <= GAP_TOLERANCE_MS, `frame ${i} (sample ${first}): ${f.json.timestamp * 1000 - want} ms off`);
    if (samples !== 3200) short.push(i);
    first += samples;
  });
  const frames = r.stream('ts').length;
  // short frames: the one ending before the pause, the one before the jump back, and the stream's last
  assert.equal(short.length, 3, `short frames at ${short.join(', ')} of ${frames}`);
  assert.equal(short[2], frames - 1);
});
