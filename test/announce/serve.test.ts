/**
 * serve mode against independent players: ffmpeg (RTSP over TCP) and GStreamer rtspsrc (RTP over
 * UDP) play the same stream at once; the announcement must be in what they decode, with the
 * energy envelope of the engine's own output, and silence around it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStation, EspeakWasmEngine, toRate } from '../../lib/announce';
import type { AnnouncementEvent } from '../../lib/announce';
import { bestMatch, envelope, ffmpegPlayer, freePort, gstPlayer, readWav, runs, scratch, sleep, tone, toneTrack, until } from './support';
import { missingPeer } from '../support/peers';

const { dir, peers, cleanup } = scratch('announce-serve-');

const TEXT = '请 A012 号到 3 号窗口';

test('serve: ffmpeg (TCP) and GStreamer (UDP) play at once; the announcement is there, silence around it', { skip: missingPeer('ffmpeg', 'gstreamer') }, async () => {
  const port = await freePort();
  const station = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'announce', voice: 'cmn', chime: 'none' });
  cleanup.push(() => station.close());
  const events: AnnouncementEvent[] = [];
  station.on('event', (e: AnnouncementEvent) => events.push(e));
  await station.start();
  await station.warmUp();
  const url = `rtsp://127.0.0.1:${port}/announce`;
  const ff = ffmpegPlayer(url, join(dir, 'ffmpeg.wav'), 10, ['-rtsp_transport', 'tcp']);
  const gst = gstPlayer(url, join(dir, 'gst.wav'), 40000, 'udp');
  peers.push(ff, gst);
  const out = station.output as unknown as { players: number };
  await until(() => out.players >= 2, 15000, `two players (ffmpeg: ${ff.stderr()} gst: ${gst.stderr()})`);
  // 3 s of idle silence first: it goes out as 120 ms packets (6 Opus frames each), so where the
  // players decode the announcement shows they took each of them for 120 ms (as 20 ms, the
  // announcement would come ~2 s early)
  await sleep(3000);
  station.announce({ text: TEXT, id: 'A012' });
  await until(() => events.some((e) => e.event === 'finished'), 20000, 'the announcement to finish');
  const code = await ff.exited;
  assert.equal(code, 0, ff.stderr());
  gst.kill('SIGINT'); // -e: EOS on interrupt, so wavenc finishes the file
  await Promise.race([gst.exited, sleep(5000)]);

  // what the engine said, at the stream's rate
  const engine = new EspeakWasmEngine();
  cleanup.push(() => engine.close());
  const ref = await engine.synthesize(TEXT, { voice: 'cmn' });
  const refEnv = envelope(toRate(ref.pcm, ref.rate, 48000), 48000);
  const started = events.find((e) => e.event === 'started')!;
  assert.equal(started.id, 'A012');
  assert.ok(Math.abs(started.durationMs! - (ref.pcm.length / 2 / ref.rate) * 1000) < 30, `announced ${started.durationMs} ms`);

  for (const name of ['ffmpeg', 'gst']) {
    const { pcm, rate } = readWav(join(dir, `${name}.wav`));
    assert.ok(pcm.length / 2 / rate > 5, `${name} decoded ${pcm.length / 2 / rate} s`);
    const env = envelope(pcm, rate);
    const m = bestMatch(env, refEnv);
    assert.ok(m.corr > 0.8, `${name}: the announcement's envelope matches the engine's output (correlation ${m.corr.toFixed(2)})`);
    assert.ok(m.offset * 10 >= 2500, `${name}: the announcement starts ${m.offset * 10} ms into the decoded audio, after 3 s of silence`);
    // silence before and after it (Opus leaves a little noise near the edges)
    const outside = env.filter((_, i) => i < m.offset - 5 || i > m.offset + refEnv.length + 5);
    assert.ok(outside.length > 100, `${name}: ${outside.length} windows of silence`);
    const loud = Math.max(...outside);
    assert.ok(loud < 200, `${name}: silence around the announcement (max RMS ${loud.toFixed(0)})`);
    const speechRms = Math.max(...env.slice(m.offset, m.offset + refEnv.length));
    assert.ok(speechRms > 2000, `${name}: speech is loud (${speechRms.toFixed(0)})`);
  }
});

test('serve: the timeline a player decodes has no gap or jump (a metronome keeps its 400 ms beat)', { skip: missingPeer('ffmpeg') }, async () => {
  const port = await freePort();
  const station = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'announce', chime: 'none' });
  cleanup.push(() => station.close());
  const events: AnnouncementEvent[] = [];
  station.on('event', (e: AnnouncementEvent) => events.push(e));
  await station.start();
  const ff = ffmpegPlayer(`rtsp://127.0.0.1:${port}/announce`, join(dir, 'metronome.wav'), 6, ['-rtsp_transport', 'tcp']);
  peers.push(ff);
  await until(() => (station.output as unknown as { players: number }).players >= 1, 15000, `a player (${ff.stderr()})`);
  await sleep(800);
  const beat = Buffer.concat([tone(48000, 1000, 100), Buffer.alloc((48000 * 300 * 2) / 1000)]);
  station.announce({ id: 'metronome', audio: { pcm: Buffer.concat(Array(10).fill(beat)), rate: 48000, channels: 1 } });
  await until(() => events.some((e) => e.event === 'finished'), 15000, 'metronome finished');
  assert.equal(await ff.exited, 0, ff.stderr());
  const { pcm, rate } = readWav(join(dir, 'metronome.wav'));
  const beats: number[] = [];
  let t = 0;
  const r = runs(toneTrack(pcm, rate, [1000]));
  for (const [f, n] of r) {
    if (f === 1000) beats.push(t);
    t += n * 20;
  }
  assert.equal(beats.length, 10, JSON.stringify(r));
  for (let i = 1; i < beats.length; i++) assert.ok(Math.abs(beats[i] - beats[i - 1] - 400) <= 40, `beats ${beats[i] - beats[i - 1]} ms apart: ${JSON.stringify(r)}`);
});
