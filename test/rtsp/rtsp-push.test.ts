/**
 * push mode against independent RTSP servers on 127.0.0.1:
 * - `ffmpeg -rtsp_flags listen` accepts our ANNOUNCE/SETUP/RECORD and decodes every codec;
 * - GStreamer's RTSP server (gst-rtsp-server, RECORD mode) checks Digest and Basic auth;
 * - the target restarting mid-stream gets the stream republished after back-off.
 * Frames come from a real-time feeder (tone bursts + silence, 20 ms frames on an absolute clock);
 * the decoded audio must show every burst where it was sent and silence in between.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RtspOutput, type RtspCodec, type RtspOutputOptions } from '../../lib/rtsp';
import type { CodedError } from '../../lib/util/errors';
import { freePort, readRaw, sleep, spawnPeer, startFeeder, assertTimeline, until, type Peer } from './support';
import { missingPeer, PYTHON } from '../support/peers';

const dir = mkdtempSync(join(tmpdir(), 'rtsp-push-'));
const RECORD_SERVER = resolve(__dirname, '../../../test/rtsp/record_server.py');
const RATES: Record<RtspCodec, number> = { opus: 48000, pcmu: 8000, pcma: 8000, l16: 16000, aac: 48000 };
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** `ffmpeg -rtsp_flags listen` decoding what is published to raw 16 kHz mono, for `seconds`. */
function ffmpegTarget(port: number, out: string, seconds: number): Peer {
  const p = spawnPeer('ffmpeg', ['-hide_banner', '-nostdin', '-rtsp_flags', 'listen', '-timeout', '30', '-i', `rtsp://127.0.0.1:${port}/x`, '-t', String(seconds), '-f', 's16le', '-ar', '16000', '-ac', '1', '-y', out], 40000);
  cleanups.push(() => p.kill());
  return p;
}

function pushOutput(codec: RtspCodec, port: number, push: Partial<NonNullable<RtspOutputOptions['push']>> = {}): RtspOutput {
  const out = new RtspOutput({ mode: 'push', codec, rate: RATES[codec], channels: 1, frameMs: 20, push: { url: `rtsp://127.0.0.1:${port}/x`, backoff: { initialMs: 200, maxMs: 1000 }, ...push } });
  out.on('error', () => {}); // collected per test where it matters
  cleanups.push(() => out.close());
  return out;
}

for (const [codec, transport] of [['opus', 'tcp'], ['pcmu', 'tcp'], ['pcma', 'udp'], ['l16', 'tcp'], ['aac', 'tcp']] as const) {
  test(`push ${codec} over ${transport} -> ffmpeg (listen) decodes tone bursts where they were sent, silence between`, { skip: missingPeer('ffmpeg') }, async () => {
    const port = await freePort();
    const file = join(dir, `${codec}.raw`);
    const target = ffmpegTarget(port, file, 3.4);
    await sleep(300); // ffmpeg opens its listening socket
    const out = pushOutput(codec, port, { transport });
    const states: string[] = [];
    out.on('state', (s: string) => states.push(s));
    await out.start();
    const feeder = startFeeder((f) => out.writeFrame(f), RATES[codec]);
    const code = await target.exited;
    feeder.stop();
    const stats = out.stats();
    await out.close();
    assert.equal(code, 0, target.stderr().slice(-2000));
    // on a loaded machine ffmpeg may not listen yet at the first attempt: that one is refused
    // and retried (back-off 200 ms); what matters is that it publishes and nothing else fails
    assert.equal(states[0], 'connecting');
    assert.deepEqual(states.filter((s) => s !== 'reconnecting').slice(0, 2), ['connecting', 'publishing']);
    assert.ok(stats.packetsSent > 100, JSON.stringify(stats));
    const pcm = readRaw(file);
    assert.ok(pcm.length / 32000 > 3.3, `decoded ${pcm.length / 32000} s of 3.4 s`);
    assertTimeline(pcm, 16000, 2);
  });
}

function recordServer(port: number, out: string, auth?: [string, string, string]): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn(PYTHON, [RECORD_SERVER, String(port), 'x', out, ...(auth ?? [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  const guard = setTimeout(() => child.kill('SIGKILL'), 40000);
  child.on('exit', () => clearTimeout(guard));
  cleanups.push(() => child.kill('SIGKILL'));
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((res, rej) => {
    child.stdout.once('data', () => res(child));
    child.once('exit', (c) => rej(new Error(`record_server.py exited ${c}: ${err}`)));
  });
}

async function stop(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  child.kill('SIGKILL');
}

for (const [scheme, codec] of [['digest', 'opus'], ['basic', 'l16']] as const) {
  test(`push ${codec} with ${scheme} auth -> GStreamer RTSP server (record) accepts the right password`, { skip: missingPeer('gst-rtsp-server') }, async () => {
    const port = await freePort();
    const file = join(dir, `gst-${scheme}.raw`);
    const server = await recordServer(port, file, [scheme, 'caller', 'pa ss:wd']);
    const out = pushOutput(codec, port, { auth: { username: 'caller', password: 'pa ss:wd' } });
    await out.start();
    const feeder = startFeeder((f) => out.writeFrame(f), RATES[codec]);
    await until(() => out.state === 'publishing', 10000, 'publishing');
    await sleep(3300);
    feeder.stop();
    await out.close();
    await sleep(300);
    await stop(server);
    assert.equal(out.stats().reconnects, 0);
    assertTimeline(readRaw(file), 16000, 2);
  });
}

test('push with a wrong password: rtsp.pushUnauthorized, retried with back-off, the feeder never sees an exception', { skip: missingPeer('gst-rtsp-server') }, async () => {
  const port = await freePort();
  const server = await recordServer(port, join(dir, 'never.raw'), ['digest', 'caller', 'right']);
  const out = pushOutput('pcmu', port, { auth: { username: 'caller', password: 'wrong' } });
  const errors: CodedError[] = [];
  out.on('error', (e: CodedError) => errors.push(e));
  await out.start();
  const feeder = startFeeder((f) => out.writeFrame(f), 8000);
  await until(() => errors.length >= 2, 10000, 'two refused attempts');
  feeder.stop();
  await out.close();
  await stop(server);
  assert.equal(errors[0].code, 'rtsp.pushUnauthorized');
  assert.match(errors[0].message, /401 Unauthorized \(wrong user name or password\)/);
  assert.equal(out.stats().packetsSent, 0);
  assert.ok(out.stats().framesDropped > 0);
});

test('push: the target restarting mid-stream -> republished after back-off, the new target decodes the bursts', { skip: missingPeer('ffmpeg') }, async () => {
  const port = await freePort();
  const first = ffmpegTarget(port, join(dir, 'first.raw'), 30);
  await sleep(300);
  const out = pushOutput('opus', port, { backoff: { initialMs: 300, maxMs: 2000 } });
  const states: string[] = [];
  out.on('state', (s: string) => states.push(s));
  await out.start();
  const feeder = startFeeder((f) => out.writeFrame(f), 48000);
  try {
    await until(() => out.state === 'publishing', 10000, 'first publish');
    await sleep(1500);
    first.kill('SIGKILL'); // the server dies without a goodbye
    await first.exited;
    await until(() => out.state === 'reconnecting', 10000, 'the loss to be noticed');
    await sleep(800); // the target is down for a while: attempts fail and back off
    const second = ffmpegTarget(port, join(dir, 'second.raw'), 3.4);
    const code = await second.exited;
    assert.equal(code, 0, second.stderr().slice(-2000));
  } finally {
    feeder.stop();
  }
  const stats = out.stats();
  await out.close();
  assert.ok(stats.reconnects >= 1, JSON.stringify(stats));
  const i = states.indexOf('reconnecting');
  assert.ok(i > 0 && states.indexOf('publishing', i) > i, `states ${states.join(' -> ')}`);
  assert.ok(stats.framesDropped > 0, 'frames written while down were dropped, not queued');
  assertTimeline(readRaw(join(dir, 'second.raw')), 16000, 2);
});
