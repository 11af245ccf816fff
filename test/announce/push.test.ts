/**
 * push mode against an independent RTSP server: `ffmpeg -rtsp_flags listen` accepts our
 * ANNOUNCE/RECORD and decodes what arrives (RTP time gaps filled as silence, so a gap or jump in
 * the stream's timeline shows in the WAV). Announcements here are tones (PCM played as is), so
 * the decoded audio tells exactly which one played when.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { EspeakWasmEngine, createStation, toRate } from '../../lib/announce';
import type { AnnouncementEvent, AnnouncementStream } from '../../lib/announce';
import { bestMatch, envelope, freePort, readWav, runs, scratch, sleep, spawnPeer, tone, toneTrack, until } from './support';
import type { Peer } from './support';
import { missingPeer } from '../support/peers';

const { dir, peers, cleanup } = scratch('announce-push-');

const RATE = 48000;
const FREQS = [400, 600, 800, 1000, 1200, 1400, 1600];

/** The publish target: ffmpeg listening for one RTSP publisher, decoding to `out` until it ends. */
function target(port: number, out: string): Peer {
  const p = spawnPeer(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-rtsp_flags', 'listen', '-timeout', '30', '-i', `rtsp://127.0.0.1:${port}/x`, '-af', 'aresample=async=1', '-ac', '1', '-ar', '48000', '-y', out],
    60000,
  );
  peers.push(p);
  return p;
}

function station(port: number, extra: Partial<Parameters<typeof createStation>[0]> = {}): { s: AnnouncementStream; events: AnnouncementEvent[] } {
  const s = createStation({ mode: 'push', url: `rtsp://127.0.0.1:${port}/x`, chime: 'none', gapMs: 0, backoff: { initialMs: 200, maxMs: 1000 }, ...extra });
  cleanup.push(() => s.close());
  const events: AnnouncementEvent[] = [];
  s.on('event', (e: AnnouncementEvent) => events.push(e));
  return { s, events };
}

const audio = (hz: number, ms: number) => ({ pcm: tone(RATE, hz, ms), rate: RATE, channels: 1 });

/** Decoded runs of tones, as [hz, ms], silence runs shorter than 60 ms merged away. */
function heard(file: string): Array<[number, number]> {
  const { pcm, rate } = readWav(file);
  return runs(toneTrack(pcm, rate, FREQS)).map(([f, n]) => [f, n * 20] as [number, number]);
}

test('push: priority orders the queue, interrupt cuts and clears it, and the timeline has no gap or jump', { skip: missingPeer('ffmpeg') }, async () => {
  const port = await freePort();
  const out = join(dir, 'order.wav');
  const ff = target(port, out);
  await sleep(300); // ffmpeg binds its port
  const { s, events } = station(port);
  await s.start();
  await until(() => s.output.state === 'publishing', 15000, `publishing (${ff.stderr()})`);
  await sleep(500);
  // a "metronome" announcement: 100 ms of 1000 Hz every 400 ms, 8 times (3.2 s)
  const beat = Buffer.concat([tone(RATE, 1000, 100), Buffer.alloc((RATE * 300 * 2) / 1000)]);
  s.announce({ id: 'metronome', audio: { pcm: Buffer.concat(Array(8).fill(beat)), rate: RATE, channels: 1 } });
  await until(() => events.some((e) => e.event === 'started'), 5000, 'metronome on air');
  s.announce({ id: 'low', audio: audio(400, 400), priority: 0 });
  s.announce({ id: 'mid', audio: audio(600, 400), priority: 1 });
  s.announce({ id: 'high', audio: audio(800, 400), priority: 5 });
  s.announce({ id: 'low2', audio: audio(1200, 400), priority: 0 });
  await until(() => events.filter((e) => e.event === 'finished').length === 5, 15000, 'five announcements to finish');
  // interrupt: a long one is cut by an urgent one, which also clears what waited
  s.announce({ id: 'long', audio: audio(1400, 3000) });
  s.announce({ id: 'waiting', audio: audio(400, 400) });
  await until(() => events.some((e) => e.event === 'started' && e.id === 'long'), 5000, 'long on air');
  await sleep(1000);
  s.announce({ id: 'urgent', audio: audio(1600, 400), interrupt: true });
  await until(() => events.some((e) => e.event === 'finished' && e.id === 'urgent'), 5000, 'urgent to finish');
  await sleep(500);
  await s.close(); // TEARDOWN: the target finishes its file
  assert.equal(await ff.exited, 0, ff.stderr());

  assert.deepEqual(
    events.filter((e) => e.event === 'started').map((e) => e.id),
    ['metronome', 'high', 'mid', 'low', 'low2', 'long', 'urgent'],
  );
  assert.deepEqual(
    events.filter((e) => e.event === 'dropped').map((e) => [e.id, e.reason]),
    [
      ['long', 'interrupted'],
      ['waiting', 'interrupted'],
    ],
  );

  const r = heard(out).filter(([f, ms]) => f !== 0 || ms >= 60);
  // the metronome: beats exactly 400 ms apart (no gap, no jump in the timeline)
  const beats: number[] = [];
  let t = 0;
  for (const [f, ms] of heard(out)) {
    if (f === 1000) beats.push(t);
    t += ms;
  }
  assert.equal(beats.length, 8, JSON.stringify(r));
  for (let i = 1; i < beats.length; i++) assert.ok(Math.abs(beats[i] - beats[i - 1] - 400) <= 40, `beats ${beats[i] - beats[i - 1]} ms apart: ${JSON.stringify(r)}`);
  // then high, mid, low, low2 back to back, 400 ms each, then long (cut after ~1 s), then urgent
  const tones = r.filter(([f]) => f !== 0 && f !== 1000);
  assert.deepEqual(
    tones.map(([f]) => f),
    [800, 600, 400, 1200, 1400, 1600],
    JSON.stringify(r),
  );
  for (const [f, ms] of tones.slice(0, 4)) assert.ok(Math.abs(ms - 400) <= 40, `${f} Hz lasted ${ms} ms: ${JSON.stringify(r)}`);
  const long = tones[4][1];
  assert.ok(long >= 800 && long < 2000, `long was cut after ${long} ms`);
  // back to back: no silence between the queued ones (the queue never leaves a gap)
  const seq = r.slice(r.findIndex(([f]) => f === 800));
  assert.deepEqual(seq.slice(0, 4).map(([f]) => f), [800, 600, 400, 1200], JSON.stringify(seq));
});

test('push: the target restarts mid-stream -> republished, and the queued announcements still play', { skip: missingPeer('ffmpeg') }, async () => {
  const port = await freePort();
  const first = join(dir, 'first.wav');
  const second = join(dir, 'second.wav');
  const ff1 = target(port, first);
  await sleep(300);
  const { s, events } = station(port);
  await s.start();
  await until(() => s.output.state === 'publishing', 15000, `publishing (${ff1.stderr()})`);
  await sleep(300);
  s.announce({ id: 'one', audio: audio(600, 1500) });
  s.announce({ id: 'two', audio: audio(800, 500) });
  s.announce({ id: 'three', audio: audio(1200, 500) });
  await until(() => events.some((e) => e.event === 'started' && e.id === 'one'), 5000, 'one on air');
  await sleep(500);
  ff1.kill('SIGKILL'); // the server goes away in the middle of "one"
  await ff1.exited;
  await until(() => s.output.state !== 'publishing', 10000, 'the publisher to notice');
  await sleep(500);
  const ff2 = target(port, second);
  await until(() => s.output.state === 'publishing', 20000, `republished (${ff2.stderr()})`);
  await until(() => events.filter((e) => e.event === 'finished').length === 3, 15000, 'all three to finish');
  await sleep(500);
  await s.close();
  await Promise.race([ff2.exited, sleep(5000)]);

  // "one" was cut by the outage, so it played again from its start once republished
  assert.deepEqual(
    events.filter((e) => e.event === 'finished').map((e) => e.id),
    ['one', 'two', 'three'],
  );
  const r = heard(second).filter(([f]) => f !== 0);
  assert.deepEqual(r.map(([f]) => f), [600, 800, 1200], JSON.stringify(heard(second)));
  assert.ok(Math.abs(r[0][1] - 1500) <= 40, `one played whole after the restart: ${r[0][1]} ms`);
  assert.ok((s.output as unknown as { stats(): { reconnects: number } }).stats().reconnects >= 1);
});

test('push, G.711 µ-law (IP speakers): Cantonese speech at 8 kHz arrives with the engine envelope', { skip: missingPeer('ffmpeg') }, async () => {
  const port = await freePort();
  const out = join(dir, 'pcmu.wav');
  const ff = spawnPeer(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-rtsp_flags', 'listen', '-timeout', '30', '-i', `rtsp://127.0.0.1:${port}/x`, '-af', 'aresample=async=1', '-ac', '1', '-ar', '8000', '-y', out],
    60000,
  );
  peers.push(ff);
  await sleep(300);
  const { s, events } = station(port, { codec: 'pcmu', voice: 'yue' });
  await s.start();
  await until(() => s.output.state === 'publishing', 15000, `publishing (${ff.stderr()})`);
  await sleep(500);
  const text = '请 A012 号到 3 号窗口';
  s.announce({ text, id: 'A012' });
  await until(() => events.some((e) => e.event === 'finished'), 20000, 'finished');
  await sleep(700);
  await s.close();
  assert.equal(await ff.exited, 0, ff.stderr());
  const engine = new EspeakWasmEngine();
  cleanup.push(() => engine.close());
  const ref = await engine.synthesize(text, { voice: 'yue' });
  const refEnv = envelope(toRate(ref.pcm, ref.rate, 8000), 8000);
  const { pcm, rate } = readWav(out);
  assert.equal(rate, 8000);
  const env = envelope(pcm, rate);
  const m = bestMatch(env, refEnv);
  assert.ok(m.corr > 0.8, `envelope correlation ${m.corr.toFixed(2)}`);
  const outside = env.filter((_, i) => i < m.offset - 5 || i > m.offset + refEnv.length + 5);
  // G.711 silence decodes to (nearly) zero
  assert.ok(outside.length > 50 && Math.max(...outside) < 100, `silence around it (max RMS ${Math.max(...outside).toFixed(0)})`);
});
