/**
 * The tts-rtsp-out node in a real Node-RED runtime (node-red-node-test-helper): text and audio in,
 * events out, errors to Catch for bad input while the stream keeps running, the stream playable by
 * ffmpeg, the edit dialog's voice list, and close releasing the port.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { collect, collectErrors, getNode, helper, load, startServer, stopServer, unload, until } from '../support/node-red';
import { encodeWav } from '../../lib/pcm';
import { envelope, ffmpegPlayer, freePort, readWav, spawnPeer, tone } from './support';
import type { Peer } from './support';
import { missingPeer } from '../support/peers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ttsNode = require('../../nodes/tts-rtsp-out/tts-rtsp-out');

const dir = mkdtempSync(join(tmpdir(), 'announce-node-'));
const peers: Peer[] = [];
before(() => startServer());
after(async () => {
  for (const p of peers) p.kill();
  await unload();
  await stopServer();
  rmSync(dir, { recursive: true, force: true });
});

function flow(port: number, extra: Record<string, unknown> = {}) {
  return [
    { id: 'tts', type: 'tts-rtsp-out', mode: 'serve', host: '127.0.0.1', port: String(port), path: 'announce', codec: 'opus', engine: 'embedded', voice: 'cmn', chime: 'builtin', maxChars: '40', maxQueue: '5', wires: [['out']], ...extra },
    { id: 'out', type: 'helper' },
  ];
}

test('tts-rtsp-out: text in -> speech on the stream (ffmpeg plays it), events out with id and durations', { skip: missingPeer('ffmpeg') }, async (t) => {
  t.after(() => unload());
  const port = await freePort();
  await load(ttsNode, flow(port));
  const events = collect('out');
  const tts = getNode('tts');
  // the test runtime's RED._ returns the catalog key, so statuses read "tts-rtsp-out.status.<key>"
  const statuses: string[] = [];
  tts.on('call:status', (c: { args: Array<{ text?: string; shape?: string }> }) => statuses.push(`${c.args[0]?.text ?? ''}/${c.args[0]?.shape ?? ''}`));
  await until(() => statuses.some((s) => s.includes('listening')), 10000, 'listening status');
  const ff = ffmpegPlayer(`rtsp://127.0.0.1:${port}/announce`, join(dir, 'node.wav'), 6, ['-rtsp_transport', 'tcp']);
  peers.push(ff);
  // a player connected: the ring becomes a dot
  await until(() => statuses.includes('tts-rtsp-out.status.listening/dot'), 10000, `a player in the status (${statuses.join(' | ')})`);
  tts.receive({ payload: '请 A012 号到 3 号窗口', id: 'A012', priority: 1 });
  await until(() => events.some((m) => m.topic === 'finished'), 20000, 'finished event');
  assert.deepEqual(
    events.map((m) => m.topic),
    ['queued', 'started', 'finished'],
  );
  for (const m of events) {
    assert.equal(m.payload.id, 'A012');
    assert.equal(m.payload.text, '请 A012 号到 3 号窗口');
    assert.equal(m.payload.priority, 1);
  }
  assert.ok(events[1].payload.durationMs > 2000, 'chime + speech');
  assert.ok(statuses.includes('tts-rtsp-out.status.speaking/dot'), statuses.join(' | '));
  assert.equal(await ff.exited, 0, ff.stderr());
  const { pcm, rate } = readWav(join(dir, 'node.wav'));
  const env = envelope(pcm, rate);
  assert.ok(env.filter((v) => v > 1000).length > 100, 'speech (and chime) in what ffmpeg decoded');
  assert.ok(env.filter((v) => v < 100).length > 50, 'and silence');
  await unload();
});

test('tts-rtsp-out: bad input -> done(err) with a clear message, the stream keeps running; audio buffers play', async (t) => {
  t.after(() => unload());
  const port = await freePort();
  await load(ttsNode, flow(port));
  const events = collect('out');
  const errors = collectErrors('tts');
  const tts = getNode('tts');
  tts.receive({ payload: '这是一条非常非常长的播报文字，超过了节点设置的四十个字符的上限，所以应该被拒绝并给出清楚的错误信息。' });
  tts.receive({ payload: 'hello', voice: 'nosuch' });
  tts.receive({ payload: Buffer.alloc(3), rate: 16000 });
  tts.receive({ payload: { text: 'x' } });
  tts.receive({ payload: 'x', repeat: 99 });
  await until(() => errors.length === 5, 15000, `five errors (${errors.join(' | ')})`);
  assert.match(errors[0], /more than the 40 allowed/);
  assert.match(errors.join('\n'), /has no voice "nosuch"/);
  assert.match(errors.join('\n'), /payload has 3 bytes, not a whole number/);
  assert.match(errors.join('\n'), /payload is object: send text to speak/);
  assert.match(errors.join('\n'), /repeat 99 is not valid/);
  // still running: PCM (the contract) and a WAV buffer play as they are
  tts.receive({ payload: tone(16000, 440, 300), rate: 16000, channels: 1, id: 'pcm', chime: false });
  tts.receive({ payload: encodeWav(tone(22050, 660, 300), { rate: 22050, channels: 1 }), id: 'wav', chime: false });
  await until(() => events.filter((m) => m.topic === 'finished').length === 2, 15000, 'two finished');
  const fin = events.filter((m) => m.topic === 'finished').map((m) => [m.payload.id, m.payload.durationMs]);
  assert.deepEqual(fin, [
    ['pcm', 300],
    ['wav', 300],
  ]);
  // an interrupt without text only cuts and clears
  tts.receive({ payload: tone(16000, 440, 5000), rate: 16000, id: 'long', chime: false });
  await until(() => events.some((m) => m.topic === 'started' && m.payload.id === 'long'), 10000, 'long started');
  tts.receive({ interrupt: true });
  await until(() => events.some((m) => m.topic === 'dropped' && m.payload.id === 'long'), 5000, 'long dropped');
  assert.equal(errors.length, 5);
  await unload();
});

test('tts-rtsp-out: close releases the port (redeploy on the same port works); voices for the edit dialog', { skip: missingPeer('ffprobe') }, async (t) => {
  t.after(() => unload());
  const port = await freePort();
  await load(ttsNode, flow(port));
  await unload();
  await load(ttsNode, flow(port));
  const errors = collectErrors('tts');
  // the second node listens on the same port: ffprobe finds the stream there
  const probe = spawnPeer('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', `rtsp://127.0.0.1:${port}/announce`], 20000);
  peers.push(probe);
  assert.equal(await probe.exited, 0, probe.stderr());
  assert.equal(probe.stdout().trim(), 'opus');
  assert.equal(errors.length, 0, errors.join(' | '));
  const res = await helper.request().get('/live-audio/voices?engine=embedded').expect(200);
  const names = (res.body as Array<{ name: string }>).map((v) => v.name);
  for (const v of ['cmn', 'yue', 'en-us']) assert.ok(names.includes(v), v);
  await unload();
});

test('tts-rtsp-out: a port already in use is a clear error at deploy, and every message gets it', async (t) => {
  t.after(() => unload());
  const port = await freePort();
  const blocker = createServer().listen(port, '127.0.0.1');
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  await new Promise((r) => blocker.once('listening', r));
  await load(ttsNode, flow(port));
  const errors = collectErrors('tts');
  await until(() => errors.length >= 1, 10000, 'the deploy error');
  assert.match(errors[0], /in use|EADDRINUSE/i);
  getNode('tts').receive({ payload: '请 A012 号到 3 号窗口' });
  await until(() => errors.length >= 2, 10000, 'the message error');
  assert.match(errors[1], /in use|EADDRINUSE/i);
});

test('tts-rtsp-out: a configuration the engine refuses (bad push URL) is an error at deploy and for every message', async (t) => {
  t.after(() => unload());
  await load(ttsNode, [{ ...flow(0)[0], mode: 'push', url: 'http://not-rtsp/x' }, flow(0)[1]]);
  const errors = collectErrors('tts');
  getNode('tts').receive({ payload: 'hello' });
  await until(() => errors.length >= 1, 10000, 'the message error');
  assert.match(errors[0], /rtsp/i);
});

test('tts-rtsp-out: a silence-packet length other than 120, 60 or 20 ms is an error at deploy and for every message', async (t) => {
  t.after(() => unload());
  await load(ttsNode, flow(0, { silence: '45' }));
  const errors = collectErrors('tts');
  getNode('tts').receive({ payload: 'hello' });
  await until(() => errors.length >= 1, 10000, 'the message error');
  assert.match(errors[0], /silence frames per packet 2\.25/);
});

test('tts-rtsp-out: a relative chime file is taken from Node-RED\'s user directory, not the working directory (a Windows service runs in C:\\Windows\\System32)', async (t) => {
  const userDir = join(dir, 'userdir');
  mkdirSync(join(userDir, 'sounds'), { recursive: true });
  writeFileSync(join(userDir, 'sounds', 'ding.wav'), encodeWav(tone(16000, 880, 400), { rate: 16000, channels: 1 }));
  helper.settings({ userDir });
  t.after(async () => {
    await unload();
    helper.settings({});
  });
  const port = await freePort();
  await load(ttsNode, flow(port, { chime: 'file', chimeFile: 'sounds/ding.wav' }));
  const events = collect('out');
  const errors = collectErrors('tts');
  getNode('tts').receive({ payload: tone(16000, 440, 200), rate: 16000, channels: 1, id: 'a' });
  await until(() => events.some((m) => m.topic === 'finished') || errors.length > 0, 15000, 'the announcement played');
  assert.deepEqual(errors, []);
  const started = events.find((m) => m.topic === 'started')!;
  // the chime's 400 ms are part of what played
  assert.ok(started.payload.durationMs >= 580, `played ${started.payload.durationMs} ms`);
});
