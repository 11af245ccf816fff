/**
 * The board's drawing thread does the heavy work and survives:
 * - a user's picture (msg.image) is decoded, scaled and JPEG-encoded on the board's thread, never
 *   on the main thread (the pacer's): a 4000×3000 PNG holds up the event loop far less than its
 *   decoding takes there;
 * - messages keep their order on air while a picture before them is decoded, and a broken picture
 *   is its message's error with nothing queued;
 * - a drawing thread that dies is started again: a call made meanwhile shows its board to a real
 *   ffmpeg player once the thread is back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { createStation, type AnnouncementStream } from '../../lib/announce';
import type { AnnouncementEvent } from '../../lib/announce/announcer';
import { RtspOutput } from '../../lib/rtsp';
import { NUMBER_REGION } from '../../lib/video/board';
import { decodeImage, fitImage } from '../../lib/video/image';
import * as jpegModule from '../../lib/video/jpeg';
import { QueueBoard } from '../../lib/video/queue-board';
import { median } from '../../bench/support/stats';
import { missingPeer } from '../support/peers';
import { freePort, scratch, spawnPeer, tone, until } from '../announce/support';
import { CJK_FONT, decodeJpeg, encodePng, psnr, readRecording, scaled, type Rgba, longestLoopGap } from './support';
import { RawRtsp } from '../rtsp/hostile-clients';

const { dir, peers, cleanup } = scratch('video-thread-');

/** A 4000×3000 PNG with detail in it (gradients and a grid), stored with light compression. */
function bigPng(): Buffer {
  const w = 4000;
  const h = 3000;
  const p = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      p.data[o] = (x * 255) / w;
      p.data[o + 1] = (y * 255) / h;
      p.data[o + 2] = (x >> 5) % 2 === (y >> 5) % 2 ? 220 : 30;
      p.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(p, { deflateLevel: 1 });
}

function fakeOutput() {
  const o = { mediaMs: 0, shown: [] as Buffer[] };
  return {
    o,
    output: { get mediaMs() { return o.mediaMs; }, get lastFrameMs() { return o.mediaMs; }, showVideo: (j: Buffer) => void o.shown.push(j), expectVideo: () => {}, cancelVideo: () => {} },
  };
}

test('a user picture is decoded, scaled and encoded off the main thread: a 4000×3000 PNG does not hold up the event loop', async (t) => {
  const png = bigPng();
  // what the same work costs on this thread, measured in this run: the reference for the gap
  const t0 = performance.now();
  const fitted = fitImage(decodeImage(png), 1280, 720);
  const reference = jpegModule.encodeJpeg(fitted, 1280, 720, 85).jpeg;
  const syncMs = performance.now() - t0;

  // the decoders and the encoder as this (main) thread has them: the drawing thread loads its own
  const calls = { png: 0, jpeg: 0, encode: 0 };
  const sync = PNG.sync as { read: typeof PNG.sync.read };
  const read = sync.read;
  sync.read = (...a: Parameters<typeof read>) => (calls.png++, read(...a));
  // the module itself (an `import *` namespace only has getters onto it)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const jj = require('jpeg-js') as { decode: (...a: unknown[]) => unknown };
  const decode = jj.decode;
  jj.decode = (...a: unknown[]) => (calls.jpeg++, decode(...a));
  const jm = jpegModule as { encodeJpeg: typeof jpegModule.encodeJpeg };
  const encode = jm.encodeJpeg;
  jm.encodeJpeg = (...a: Parameters<typeof encode>) => (calls.encode++, encode(...a));
  t.after(() => {
    sync.read = read;
    jj.decode = decode;
    jm.encodeJpeg = encode;
  });

  const { o, output } = fakeOutput();
  const board = new QueueBoard(output, { width: 1280, height: 720 });
  try {
    const gaps: number[] = [];
    const jpegFile = jpegModule.encodeJpeg(new Uint8Array(800 * 600 * 4).fill(90), 800, 600).jpeg;
    calls.encode = 0;
    for (const image of [png, png, jpegFile]) {
      o.mediaMs += 1000;
      gaps.push(await longestLoopGap(async () => board.showNow(await board.prepare({ image }))));
    }
    assert.deepEqual(calls, { png: 0, jpeg: 0, encode: 0 }, 'no picture decoded or encoded on the main thread');
    assert.equal(o.shown.length, 3);
    const a = decodeJpeg(o.shown[0]);
    assert.equal(a.width, 1280);
    assert.ok(psnr(a, decodeJpeg(reference)) >= 40, 'the board is the picture fitted to 1280×720');
    const worstGap = Math.max(gaps[0], gaps[1]);
    t.diagnostic(`4000×3000 PNG: decode + fit + encode on the main thread ${syncMs.toFixed(0)} ms; longest event-loop gap while the board's thread did it: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms (median ${median(gaps).toFixed(0)})`);
    assert.ok(worstGap < syncMs / 2, `the event loop was held ${worstGap.toFixed(0)} ms, the work takes ${syncMs.toFixed(0)} ms on it`);
  } finally {
    board.close();
  }
});

async function videoStation(extra: Record<string, unknown> = {}): Promise<{ st: AnnouncementStream; url: string }> {
  const port = await freePort();
  const st = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'board', codec: 'opus', engine: 'embedded', voice: 'en-us', chime: 'none', video: 'mjpeg', fps: 2, videoWidth: 640, videoHeight: 368, ...extra });
  st.on('log', () => {});
  cleanup.push(() => st.close());
  await st.start();
  return { st, url: `rtsp://127.0.0.1:${port}/board` };
}

/**
 * A UDP player in a process of its own (the test's event loop is the stream's): binds an even
 * port, prints it, then prints the arrival time (ms, its own clock) of every RTP packet.
 */
const UDP_TIMES = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
const port = 2 * (12000 + Math.floor(Math.random() * 18000));
s.on('error', (e) => { console.error(e.message); process.exit(1); });
s.on('message', () => console.log(performance.now().toFixed(1)));
s.bind(port, '127.0.0.1', () => console.log('port ' + port));
`;

test('a 4000×3000 PNG sent while a player listens: the audio packets keep their pace at the player', async (t) => {
  const png = bigPng();
  const t0 = performance.now();
  jpegModule.encodeJpeg(fitImage(decodeImage(png), 1280, 720), 1280, 720, 85);
  const syncMs = performance.now() - t0;
  const { st, url } = await videoStation({ videoWidth: 1280, videoHeight: 720 });
  const times: number[] = [];
  let port = 0;
  const rx = spawnPeer(process.execPath, ['-e', UDP_TIMES], 60000, { onLine: (l) => (l.startsWith('port ') ? (port = Number(l.slice(5))) : times.push(Number(l))) });
  peers.push(rx);
  await until(() => port > 0, 10000, 'the UDP player bound');
  const c = new RawRtsp(Number(new URL(url).port));
  cleanup.push(async () => c.destroy());
  const setup = await c.request('SETUP', `${url}/trackID=0`, { Transport: `RTP/AVP;unicast;client_port=${port}-${port + 1}` });
  assert.equal(setup.status, 200);
  assert.equal((await c.request('PLAY', url, { Session: setup.headers['session'].split(';')[0] })).status, 200);
  await until(() => times.length >= 20, 10000, 'audio at the player');
  // speech-free: a long tone keeps a packet every 20 ms on air while the picture is handled
  st.announce({ id: 'tone', audio: { pcm: tone(48000, 600, 4000), rate: 48000, channels: 1 }, chime: false });
  await new Promise((r) => setTimeout(r, 500));
  // from the last packet seen before the picture (the stall of a picture handled on this thread
  // would come before any packet read after the call)
  const from = times.length - 1;
  const shown = st.showBoard({ image: png });
  await shown;
  await new Promise((r) => setTimeout(r, 500));
  const during = times.slice(from);
  rx.kill();
  const gaps = during.slice(1).map((x, i) => x - during[i]);
  const worst = Math.max(...gaps);
  t.diagnostic(`4000×3000 PNG (${syncMs.toFixed(0)} ms of work when done on the main thread): ${during.length} audio packets at the player meanwhile, longest gap ${worst.toFixed(0)} ms, median ${median(gaps).toFixed(0)} ms`);
  assert.ok(worst < syncMs / 2, `the player waited ${worst.toFixed(0)} ms for an audio packet; the picture takes ${syncMs.toFixed(0)} ms to handle`);
});

test('messages keep their order on air while a picture is decoded; a broken picture is its message\'s error, nothing queued', async () => {
  const { st } = await videoStation();
  const events: AnnouncementEvent[] = [];
  st.on('event', (e: AnnouncementEvent) => events.push(e));
  const beep = (hz: number) => ({ pcm: tone(48000, hz, 300), rate: 48000, channels: 1 });
  const png = encodePng({ width: 1600, height: 1200, data: new Uint8Array(1600 * 1200 * 4).fill(200) });
  const pic = st.announce({ id: 'picture', audio: beep(600), chime: false }, { image: png });
  const bad = st.announce({ id: 'broken', audio: beep(700), chime: false }, { image: Buffer.from('not an image') });
  const text = st.announce({ id: 'after', audio: beep(800), chime: false });
  const stop = st.announce({ id: 'board-only', audio: beep(900), chime: false }, { call: { number: 'A012' } });
  await assert.rejects(bad.ready, (e: Error & { code?: string }) => e.code === 'video.badImage');
  await Promise.all([pic.ready, text.ready, stop.ready]);
  await until(() => events.filter((e) => e.event === 'finished').length === 3, 20000, 'three played');
  const order = (kind: string) => events.filter((e) => e.event === kind).map((e) => e.id);
  assert.deepEqual(order('queued'), ['picture', 'after', 'board-only'], 'queued in the order sent, the broken one not at all');
  assert.deepEqual(order('started'), ['picture', 'after', 'board-only'], 'on air in the order sent');
  assert.equal(events.filter((e) => e.id === 'broken').length, 0, 'nothing of the broken picture');
  // an interrupt after a picture: after it, in order (the picture's announcement is cut, not played after)
  const png2 = encodePng({ width: 3000, height: 2000, data: new Uint8Array(3000 * 2000 * 4).fill(50) });
  const long = st.announce({ id: 'long', audio: { pcm: tone(48000, 500, 3000), rate: 48000, channels: 1 }, chime: false }, { image: png2 });
  await st.interrupt();
  await long.ready;
  await until(() => order('dropped').includes('long'), 5000, 'the picture\'s announcement cut by the interrupt after it');
  assert.deepEqual(order('dropped'), ['long']);
  assert.ok(!order('started').includes('long') || order('dropped').includes('long'));
});

test('a drawing thread that dies is restarted: a call made meanwhile shows its board to an ffmpeg player once it is back', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  const { st, url } = await videoStation({ fontFile: CJK_FONT });
  const board = st.board!;
  const errors: Error[] = [];
  let recovered = 0;
  board.on('error', (e: Error) => errors.push(e));
  board.on('recovered', () => recovered++);
  const file = join(dir, 'restart.mkv');
  const p = spawnPeer('ffmpeg', ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-rtsp_transport', 'tcp', '-i', url, '-t', '8', '-map', '0', '-c:v', 'copy', '-c:a', 'pcm_s16le', '-y', file], 40000);
  peers.push(p);
  await until(() => (st.output as RtspOutput).players === 1, 20000, 'player');
  await new Promise((r) => setTimeout(r, 1000));
  // the thread dies (as on an uncaught error or out of memory) and the call comes while it is down
  await board.drawer.thread.terminate();
  await until(() => errors.length === 1, 5000, 'the failure reported');
  let drawn: Rgba | undefined;
  board.on('change', (e: { number?: string; jpeg: Buffer }) => {
    if (e.number === 'A012') drawn = decodeJpeg(e.jpeg);
  });
  st.announce({ id: 'A012', audio: { pcm: tone(48000, 600, 300), rate: 48000, channels: 1 }, chime: false }, { call: { number: 'A012', counter: '3' } });
  await until(() => drawn !== undefined, 15000, 'the board for A012 drawn after the restart');
  assert.equal(recovered, 1, 'the recovery said once');
  assert.equal(errors.length, 1, 'the failure said once');
  assert.match(errors[0].message, /drawing thread failed/);
  assert.ok(board.drawer.restarts >= 1);
  assert.equal(await p.exited, 0, p.stderr().slice(-2000));
  const rec = readRecording(file, dir);
  const region = scaled(NUMBER_REGION, 640, 368);
  const last = rec.frames[rec.frames.length - 1];
  assert.ok(psnr(last.img, drawn!, region) >= 30, `the player shows A012 at the end (${psnr(last.img, drawn!, region).toFixed(1)} dB)`);
  assert.ok(psnr(rec.frames[0].img, drawn!, region) < 30, 'and not at the start');
  // and it draws again as before
  await st.showBoard({ call: { number: 'A013' } });
  assert.equal(board.state.current?.number, 'A013');
});

test('the drawing thread: a death at start does not stop the stream, a death while it comes back is the same outage (said once), the board is redrawn when it is back, close stops the restarts', async () => {
  const { o, output } = fakeOutput();
  const board = new QueueBoard(output, { width: 320, height: 240, template: { historyCount: 0 } });
  const errors: Error[] = [];
  let recovered = 0;
  board.on('error', (e: Error) => errors.push(e));
  board.on('recovered', () => recovered++);
  try {
    // the thread dies while the stream starts: the start goes on, the board comes once it is back
    const started = board.start();
    await board.drawer.thread.terminate();
    await started;
    await until(() => recovered === 1 && o.shown.length === 1, 10000, 'the first board once back');
    assert.equal(errors.length, 1);
    recovered = 0;
    errors.length = 0;
    await board.drawer.thread.terminate();
    await until(() => board.drawer.restarts === 2, 5000, 'a new thread');
    // the new thread dies before it answered
    await board.drawer.thread.terminate();
    await until(() => recovered === 1, 10000, 'back');
    assert.equal(errors.length, 1, 'one outage, one error');
    assert.equal(board.drawer.restarts, 3);
    await until(() => o.shown.length === 2, 5000, 'the board drawn again once back');
    // a new outage after the recovery is said again; close during the back-off: no more threads
    await board.drawer.thread.terminate();
    await until(() => errors.length === 2, 5000, 'the second outage said');
    board.close();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(board.drawer.restarts, 3, 'no restart after close');
    await assert.rejects(board.prepare({ image: encodePng({ width: 16, height: 16, data: new Uint8Array(16 * 16 * 4) }) }), /closed/);
  } finally {
    board.close();
  }
});
