/**
 * The silent packets between announcements (idleFrames) against independent decoders: 120 ms
 * Opus code-3 packets (6 frames of 20 ms; RFC 6716 §3.2.5, RFC 7587 §4.2: a packet may hold up
 * to 120 ms) must be decoded as 120 ms each by ffmpeg's native Opus decoder (what ffplay uses)
 * and by GStreamer's rtpopusdepay ! opusdec (libopus), served and pushed. The decoders here write
 * exactly the samples they decoded (no resampler filling gaps from timestamps), so a decoder that
 * took a 120 ms packet for less would shorten the silence, and the distance between two tones
 * around it would shrink. That distance must equal the stream's own: frames counted by the pacer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStation, EspeakWasmEngine, toRate } from '../../lib/announce';
import type { AnnouncementEvent, AnnouncementStream } from '../../lib/announce';
import { bestMatch, envelope, freePort, readWav, runs, scratch, sleep, spawnPeer, tone, toneTrack, until } from './support';
import type { Peer } from './support';
import { gstStderr, missingPeer } from '../support/peers';

const { dir, peers, cleanup } = scratch('announce-silence-');

const RATE = 48000;
const TEXT = 'Ticket A twelve, counter three.';
/** frames per silent packet under test (IDLE_FRAMES=3 or 1 runs the same checks on 60 or 20 ms packets) */
const IDLE = Number(process.env.IDLE_FRAMES ?? 6);
const idleRate = 1000 / (20 * IDLE);
const idleRateOk = (r: number) => r > idleRate * 0.75 && r < idleRate * 1.25;

/** ffmpeg's native Opus decoder (not libopus), samples written as decoded. */
function ffmpegNative(input: string[], out: string, maxMs: number): Peer {
  const p = spawnPeer('ffmpeg', ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-c:a', 'opus', ...input, '-ac', '1', '-ar', '48000', '-y', out], maxMs);
  peers.push(p);
  return p;
}

/** GStreamer: RTSP over TCP, rtpopusdepay and libopus's opusdec named explicitly (no decodebin choice). */
function gstOpusdec(url: string, out: string, maxMs: number): Peer {
  const p = spawnPeer(
    'gst-launch-1.0',
    ['-e', '-q', 'rtspsrc', `location=${url}`, 'protocols=tcp', 'latency=200', '!', 'rtpopusdepay', '!', 'opusdec', '!', 'audioconvert', '!', 'audioresample', '!', 'audio/x-raw,rate=48000,channels=1,format=S16LE', '!', 'wavenc', '!', 'filesink', `location=${out}`],
    maxMs,
  );
  peers.push(p);
  return p;
}

/** Frame index (pacer count) at which each announcement went on air. */
function onAir(s: AnnouncementStream): Map<string, number> {
  const at = new Map<string, number>();
  s.on('event', (e: AnnouncementEvent) => {
    if (e.event === 'started') at.set(e.id, s.pacer.frames - 1);
  });
  return at;
}

/** Start (ms into the decoded audio) of each steady tone of `hz` (250 ms or more: the 300 ms tones, not a vowel of the speech). */
function toneStarts(pcm: Buffer, rate: number, hz: number[]): Array<[number, number]> {
  const starts: Array<[number, number]> = [];
  let t = 0;
  for (const [f, n] of runs(toneTrack(pcm, rate, hz, 10))) {
    if (f !== 0 && n >= 25) starts.push([f, t]);
    t += n * 10;
  }
  return starts;
}

/**
 * Plays: idle, tone A (1000 Hz), idle with 120 ms packets, speech, idle, tone B (1400 Hz), idle.
 * Returns the frames at which A and B went on air and what the speech engine said.
 */
async function program(s: AnnouncementStream, at: Map<string, number>, countPackets: () => number, players: number): Promise<{ a: number; b: number; idlePacketsPerSec: number }> {
  const done = (id: string) => until(() => at.has(id) && s.announcer.playing === undefined && s.announcer.queued === 0, 20000, `${id} to finish`);
  await sleep(1500);
  s.announce({ id: 'A', audio: { pcm: tone(RATE, 1000, 300), rate: RATE, channels: 1 } });
  await done('A');
  // idle: count what goes on the wire meanwhile (120 ms packets: ~8 per second per player)
  await sleep(500);
  const p0 = countPackets();
  const t0 = performance.now();
  await sleep(2000);
  const idlePacketsPerSec = ((countPackets() - p0) / players / (performance.now() - t0)) * 1000;
  s.announce({ id: 'speech', text: TEXT });
  await done('speech');
  await sleep(1500);
  s.announce({ id: 'B', audio: { pcm: tone(RATE, 1400, 300), rate: RATE, channels: 1 } });
  await done('B');
  await sleep(1500);
  return { a: at.get('A')!, b: at.get('B')!, idlePacketsPerSec };
}

/** The tones are as far apart in the decoded audio as on the stream's clock; the speech is between them. */
async function checkDecoded(name: string, file: string, aFrame: number, bFrame: number): Promise<void> {
  const { pcm, rate } = readWav(file);
  assert.ok(pcm.length / 2 / rate > 5, `${name} decoded ${pcm.length / 2 / rate} s`);
  const starts = toneStarts(pcm, rate, [1000, 1400]);
  const a = starts.find(([f]) => f === 1000);
  const b = starts.find(([f]) => f === 1400);
  assert.ok(a && b, `${name}: both tones decoded: ${JSON.stringify(starts)}`);
  const expected = (bFrame - aFrame) * 20;
  // a window (10 ms) of rounding at each end; one 120 ms packet taken for less than 120 ms would
  // already be off by 20 ms or more, and there are dozens of them between the tones
  assert.ok(Math.abs(b[1] - a[1] - expected) <= 20, `${name}: tones ${b[1] - a[1]} ms apart in the decoded audio, ${expected} ms on the stream's clock: ${JSON.stringify(starts)}`);
  // the speech, between them
  const engine = new EspeakWasmEngine();
  cleanup.push(() => engine.close());
  const ref = await engine.synthesize(TEXT, { voice: 'en-us' });
  const refEnv = envelope(toRate(ref.pcm, ref.rate, 48000), 48000);
  const env = envelope(pcm, rate);
  const m = bestMatch(env, refEnv);
  assert.ok(m.corr > 0.8, `${name}: the speech's envelope matches the engine's output (correlation ${m.corr.toFixed(2)})`);
  assert.ok(m.offset * 10 > a[1] && m.offset * 10 < b[1], `${name}: speech at ${m.offset * 10} ms, between the tones (${a[1]}, ${b[1]} ms)`);
}

test('serve, 120 ms silent packets: ffmpeg (native Opus decoder) and GStreamer (opusdec) keep the timeline and play the speech', { skip: missingPeer('ffmpeg', 'gstreamer') }, async () => {
  const port = await freePort();
  const s = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'announce', voice: 'en-us', chime: 'none', gapMs: 0, idleFrames: IDLE });
  cleanup.push(() => s.close());
  const at = onAir(s);
  await s.start();
  await s.warmUp();
  const url = `rtsp://127.0.0.1:${port}/announce`;
  const ff = ffmpegNative(['-rtsp_transport', 'tcp', '-i', url, '-t', '14'], join(dir, 'serve-ffmpeg.wav'), 45000);
  const gst = gstOpusdec(url, join(dir, 'serve-gst.wav'), 45000);
  const out = s.output as unknown as { players: number; stats(): { packetsSent: number } };
  await until(() => out.players >= 2, 15000, `two players (ffmpeg: ${ff.stderr()} gst: ${gst.stderr()})`);
  const r = await program(s, at, () => out.stats().packetsSent, 2);
  assert.ok(idleRateOk(r.idlePacketsPerSec), `${r.idlePacketsPerSec.toFixed(1)} packets/s per player while idle (${IDLE * 20} ms packets: ${idleRate.toFixed(1)})`);
  await until(() => ff.child.exitCode !== null, 20000, `ffmpeg to finish its 14 s (${ff.stderr()})`);
  assert.equal(await ff.exited, 0, ff.stderr());
  gst.kill('SIGINT'); // -e: EOS on interrupt, so wavenc finishes the file
  await Promise.race([gst.exited, sleep(5000)]);
  assert.doesNotMatch(ff.stderr(), /error|invalid|corrupt/i);
  assert.doesNotMatch(gstStderr(gst.stderr()), /error|invalid/i);
  await checkDecoded('ffmpeg', join(dir, 'serve-ffmpeg.wav'), r.a, r.b);
  await checkDecoded('gst', join(dir, 'serve-gst.wav'), r.a, r.b);
});

test('push, 120 ms silent packets: ffmpeg -rtsp_flags listen (native Opus decoder) keeps the timeline and plays the speech', { skip: missingPeer('ffmpeg') }, async () => {
  const port = await freePort();
  const file = join(dir, 'push-ffmpeg.wav');
  const ff = ffmpegNative(['-rtsp_flags', 'listen', '-timeout', '30', '-i', `rtsp://127.0.0.1:${port}/x`], file, 60000);
  await sleep(300); // ffmpeg binds its port
  const s = createStation({ mode: 'push', url: `rtsp://127.0.0.1:${port}/x`, voice: 'en-us', chime: 'none', gapMs: 0, idleFrames: IDLE, backoff: { initialMs: 200, maxMs: 1000 } });
  cleanup.push(() => s.close());
  const at = onAir(s);
  await s.start();
  await s.warmUp();
  await until(() => s.output.state === 'publishing', 15000, `publishing (${ff.stderr()})`);
  const out = s.output as unknown as { stats(): { packetsSent: number } };
  const r = await program(s, at, () => out.stats().packetsSent, 1);
  assert.ok(idleRateOk(r.idlePacketsPerSec), `${r.idlePacketsPerSec.toFixed(1)} packets/s while idle (${IDLE * 20} ms packets: ${idleRate.toFixed(1)})`);
  await s.close(); // TEARDOWN: the target finishes its file
  assert.equal(await ff.exited, 0, ff.stderr());
  assert.doesNotMatch(ff.stderr(), /error|invalid|corrupt/i);
  await checkDecoded('ffmpeg (push)', file, r.a, r.b);
});
