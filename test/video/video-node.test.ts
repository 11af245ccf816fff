/**
 * tts-rtsp-out with its video board in a real Node-RED runtime (node-red-node-test-helper): the
 * stream offers both tracks (ffprobe), a call with msg.number plays, a broken msg.image is an
 * error at its message (Catch) while the stream goes on, board fields without video are an error,
 * and H.264 without ffmpeg is refused at deploy (video in push mode: video-push.test.ts); the board's
 * drawing thread dying is one warning and a log line when it is back. The test runtime's
 * RED._ returns catalog keys, so errors read "errors.video.<code>".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, collectErrors, getNode, load, unload, until } from '../support/node-red';
import { ttsFlow, ttsNode, ttsNodeRuntime } from '../announce/tts-node';
import { missingPeer } from '../support/peers';
import { freePort, scratch, spawnPeer } from '../announce/support';
import { BoardDrawer } from '../../lib/video/board-drawer';
import { CJK_FONT } from './support';

const { peers } = scratch('video-node-');
ttsNodeRuntime();

const node = (extra: Record<string, unknown>) => ttsFlow({ path: 'board', voice: 'en-us', ...extra });

test('tts-rtsp-out video=mjpeg: both tracks offered, a call plays, a broken msg.image is an error and the stream goes on', { skip: missingPeer('ffprobe', 'fonts-noto-cjk') }, async (t) => {
  t.after(() => unload());
  const port = await freePort();
  await load(ttsNode, node({ port: String(port), video: 'mjpeg', resolution: '640x368', fps: '2', fontFile: CJK_FONT, boardTitle: '请到窗口办理' }));
  const events = collect('out');
  const errors = collectErrors('tts');
  const tts = getNode('tts');
  const statuses: string[] = [];
  tts.on('call:status', (c: { args: Array<{ text?: string }> }) => statuses.push(c.args[0]?.text ?? ''));
  await until(() => statuses.some((s) => s.includes('listening')), 15000, 'listening');
  const probe = () => {
    const p = spawnPeer('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_type,codec_name,width,height', '-of', 'compact', `rtsp://127.0.0.1:${port}/board`], 30000);
    peers.push(p);
    return p;
  };
  const p1 = probe();
  assert.equal(await p1.exited, 0, p1.stderr());
  assert.match(p1.stdout(), /codec_name=opus\|codec_type=audio/);
  assert.match(p1.stdout(), /codec_name=mjpeg\|codec_type=video\|width=640\|height=368/);

  tts.receive({ payload: 'A012, window 3', number: 'A012', counter: '3', id: 'A012' });
  tts.receive({ payload: 'B001', image: Buffer.from('not a picture'), id: 'B001' });
  tts.receive({ number: '', image: undefined, payload: undefined, counter: '2' });
  await until(() => events.some((m) => m.topic === 'finished' && m.payload.id === 'A012'), 20000, 'A012 finished');
  await until(() => errors.length >= 2, 5000, `errors (${errors.join(' | ')})`);
  // each when it is known: the picture's after its decoding on the board's thread
  assert.ok(errors.some((e) => /errors\.video\.badImage|cannot be shown/.test(e)), errors.join(' | '));
  assert.ok(errors.some((e) => /errors\.announce\.badPayload|payload is/.test(e)), errors.join(' | '));
  assert.deepEqual(events.filter((m) => m.topic === 'queued').map((m) => m.payload.id), ['A012'], 'the broken picture queued nothing');
  // the stream goes on: still both tracks
  const p2 = probe();
  assert.equal(await p2.exited, 0, p2.stderr());
  assert.match(p2.stdout(), /codec_type=video/);
  // a board change without speech
  tts.receive({ number: 'A013', counter: '4' });
  await until(() => errors.length === 2 && events.length === 3, 3000, 'no new error');
});

test('tts-rtsp-out: the board\'s drawing thread dies: one warning, a log line when it is back, and the next call draws its board', { skip: missingPeer('fonts-noto-cjk') }, async (t) => {
  // the drawers the node makes, caught as they start their thread (the node keeps its station to itself)
  const proto = BoardDrawer.prototype as unknown as { spawn: (...a: unknown[]) => unknown };
  const spawn = proto.spawn;
  const drawers: BoardDrawer[] = [];
  proto.spawn = function (this: BoardDrawer, ...a: unknown[]) {
    if (!drawers.includes(this)) drawers.push(this);
    return spawn.apply(this, a);
  };
  t.after(() => {
    proto.spawn = spawn;
    return unload();
  });
  await load(ttsNode, node({ port: String(await freePort()), video: 'mjpeg', resolution: '320x240', fps: '2', fontFile: CJK_FONT }));
  const tts = getNode('tts');
  const warnings: string[] = [];
  const logs: string[] = [];
  tts.on('call:warn', (c: { args: unknown[] }) => warnings.push(String(c.args[0])));
  tts.on('call:log', (c: { args: unknown[] }) => logs.push(String(c.args[0])));
  const events = collect('out');
  const statuses: string[] = [];
  tts.on('call:status', (c: { args: Array<{ text?: string }> }) => statuses.push(c.args[0]?.text ?? ''));
  await until(() => statuses.some((x) => x.includes('listening')), 15000, 'listening');
  assert.equal(drawers.length, 1);
  await drawers[0].thread.terminate();
  await until(() => logs.some((l) => /boardRecovered|drawing thread is back/.test(l)), 15000, `the recovery logged (${logs.join(' | ')})`);
  assert.equal(warnings.length, 1, warnings.join(' | '));
  assert.match(warnings[0], /errors\.video\.drawFailed|drawing thread failed/);
  const errors = collectErrors('tts');
  tts.receive({ number: 'A012', counter: '3', payload: 'A012', id: 'A012' });
  await until(() => events.some((m) => m.topic === 'finished' && m.payload.id === 'A012'), 20000, `A012 finished (${JSON.stringify(events.map((m) => m.topic))} ${errors.join(' | ')} ${statuses.join(',')})`);
  assert.equal(warnings.length, 1, 'no more warnings');
  assert.ok((await drawers[0].draw({ current: { number: 'A012' }, history: [], clock: '12:00' })).length > 1000, 'the thread draws again');
});

test('tts-rtsp-out: board fields without video are an error; H.264 is refused at deploy', async (t) => {
  t.after(() => unload());
  await load(ttsNode, node({ port: String(await freePort()) }));
  const errors = collectErrors('tts');
  getNode('tts').receive({ number: 'A012' });
  await until(() => errors.length === 1, 5000, 'video.off');
  assert.match(errors[0], /errors\.video\.off|has no video/);
  await unload();

  for (const [extra, code] of [
    [{ video: 'h264', ffmpegPath: 'no/such/ffmpeg' }, /errors\.video\.ffmpegMissing|needs ffmpeg/],
    [{ video: 'mjpeg', resolution: '1280x700' }, /errors\.rtsp\.badConfig|multiple of 16/],
    [{ video: 'mjpeg', resolution: 'big' }, /errors\.video\.badResolution|not valid/],
    [{ video: 'mjpeg', fontFile: 'no/such/font.ttc' }, /errors\.video\.badFont|cannot be read/],
  ] as const) {
    await load(ttsNode, node({ port: String(await freePort()), ...extra }));
    const tts = getNode('tts');
    const errs = collectErrors('tts');
    tts.receive({ payload: 'hello' });
    await until(() => errs.length >= 1, 5000, `refused ${JSON.stringify(extra)}`);
    assert.match(errs[errs.length - 1], code, JSON.stringify(extra));
    await unload();
  }
});

test('the example "queue board + voice": its tts-rtsp-out deploys with the board on (a free port in place of 8554)', { skip: missingPeer('ffprobe', 'fonts-noto-cjk') }, async (t) => {
  t.after(() => unload());
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const flow = require('../../../examples/tts-rtsp-out-queue-board.json') as Array<Record<string, unknown>>;
  const cfg = flow.find((n) => n.type === 'tts-rtsp-out')!;
  assert.equal(cfg.host, '127.0.0.1');
  assert.equal(cfg.video, 'mjpeg');
  const port = await freePort();
  const { z: _tab, x: _x, y: _y, ...props } = cfg;
  await load(ttsNode, [{ ...props, id: 'tts', port: String(port), wires: [[]] }]);
  const statuses: string[] = [];
  getNode('tts').on('call:status', (c: { args: Array<{ text?: string }> }) => statuses.push(c.args[0]?.text ?? ''));
  await until(() => statuses.some((s) => s.includes('listening')), 15000, 'listening');
  const p = spawnPeer('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_type,width,height', '-of', 'compact', `rtsp://127.0.0.1:${port}/queue`], 30000);
  peers.push(p);
  assert.equal(await p.exited, 0, p.stderr());
  assert.match(p.stdout(), /codec_type=video\|width=1280\|height=720/);
  assert.ok(flow.some((n) => n.type === 'http in' && n.url === '/call'));
});
