/**
 * tts-rtsp-out with video=h264 in a real Node-RED runtime (node-red-node-test-helper): with ffmpeg
 * the stream offers Opus and H.264 (ffprobe) and a call plays; on a PATH without ffmpeg the choice
 * is refused at deploy with an error that says how to install ffmpeg and where to name it, and
 * MJPEG still deploys on that PATH. The test runtime's RED._ returns catalog keys, so errors read
 * "errors.video.<code>".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, collectErrors, getNode, load, unload, until } from '../support/node-red';
import { ttsFlow, ttsNode, ttsNodeRuntime } from '../announce/tts-node';
import { missingPeer } from '../support/peers';
import { freePort, scratch, spawnPeer } from '../announce/support';
import { createStation } from '../../lib/announce';
import type { CodedError } from '../../lib/util/errors';
import { CJK_FONT } from './support';

const { peers } = scratch('h264-node-');
ttsNodeRuntime();

const node = (extra: Record<string, unknown>) => ttsFlow({ path: 'board', voice: 'en-us', ...extra });

test('tts-rtsp-out video=h264: the stream offers Opus and H.264 at the board size, a call plays', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async (t) => {
  t.after(() => unload());
  const port = await freePort();
  await load(ttsNode, node({ port: String(port), video: 'h264', resolution: '640x368', fps: '2', fontFile: CJK_FONT }));
  const events = collect('out');
  const errors = collectErrors('tts');
  const statuses: string[] = [];
  const tts = getNode('tts');
  tts.on('call:status', (c: { args: Array<{ text?: string }> }) => statuses.push(c.args[0]?.text ?? ''));
  await until(() => statuses.some((s) => s.includes('listening')), 20000, 'listening');
  const p = spawnPeer('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_type,codec_name,width,height', '-of', 'compact', `rtsp://127.0.0.1:${port}/board`], 30000);
  peers.push(p);
  assert.equal(await p.exited, 0, p.stderr());
  assert.match(p.stdout(), /codec_name=opus\|codec_type=audio/);
  assert.match(p.stdout(), /codec_name=h264\|codec_type=video\|width=640\|height=368/);
  tts.receive({ payload: 'A012, window 3', number: 'A012', counter: '3', id: 'A012' });
  await until(() => events.some((m) => m.topic === 'finished' && m.payload.id === 'A012'), 20000, 'A012 finished');
  assert.deepEqual(errors, []);
});

test('video=h264 on a PATH without ffmpeg: refused at deploy, the error names winget, brew, the Linux package and the ffmpeg setting; MJPEG deploys on the same PATH', { skip: missingPeer('fonts-noto-cjk') || (process.platform === 'win32' && 'Windows also looks in Program Files: a PATH of one empty folder does not hide ffmpeg there') }, async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'no-ffmpeg-'));
  const saved = process.env.PATH;
  process.env.PATH = empty;
  t.after(() => {
    process.env.PATH = saved;
    rmSync(empty, { recursive: true, force: true });
  });
  // the engine's own words (and code)
  assert.throws(
    () => createStation({ mode: 'serve', host: '127.0.0.1', port: 0, video: 'h264', engine: 'embedded' }),
    (e: CodedError) => e.code === 'video.ffmpegMissing' && /winget install ffmpeg/.test(e.message) && /brew install ffmpeg/.test(e.message) && /Linux: the ffmpeg package/.test(e.message) && /ffmpeg setting/.test(e.message) && /MJPEG/.test(e.message),
  );
  // the node: refused at deploy (red ring, every message answered with the error)
  await load(ttsNode, node({ port: String(await freePort()), video: 'h264', resolution: '640x368' }));
  const tts = getNode('tts');
  const errs = collectErrors('tts');
  tts.receive({ payload: 'hello' });
  await until(() => errs.length >= 1, 5000, 'the message refused');
  assert.match(errs[0], /errors\.video\.ffmpegMissing|needs ffmpeg/);
  await unload();
  // the same PATH with MJPEG: nothing else needs ffmpeg
  const port = await freePort();
  await load(ttsNode, node({ port: String(port), video: 'mjpeg', resolution: '640x368', fontFile: CJK_FONT }));
  const ok: string[] = [];
  getNode('tts').on('call:status', (c: { args: Array<{ text?: string }> }) => ok.push(c.args[0]?.text ?? ''));
  await until(() => ok.some((s) => s.includes('listening')), 20000, 'MJPEG listening without ffmpeg');
  await unload();
});
