/**
 * Push mode with the video board: the announcement stream ANNOUNCEs both tracks (audio + RTP/JPEG)
 * to `ffmpeg -rtsp_flags listen` on 127.0.0.1 (TCP interleaved and UDP), which records both as it
 * receives them. A call "A012, window 3" must arrive as a board whose number region matches the
 * board we rendered (PSNR ≥ 30 dB) at the same instant as its speech (±100 ms on ffmpeg's
 * timeline); and when the target goes away and comes back, both tracks are published again after
 * back-off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStation, type AnnouncementStream } from '../../lib/announce';
import { NUMBER_REGION } from '../../lib/video/board';
import type { RtspOutput } from '../../lib/rtsp';
import { missingPeer } from '../support/peers';
import { freePort, scratch, sleep, spawnPeer, until, type Peer } from '../announce/support';
import { CJK_FONT, audioOnset, decodeJpeg, psnr, readRecording, scaled, type Rgba, ffmpegListener } from './support';

const { dir, peers, cleanup } = scratch('video-push-');
const W = 640;
const H = 368;
const region = scaled(NUMBER_REGION, W, H);

const listener = (port: number, file: string, seconds: number): Peer => ffmpegListener(peers, port, file, seconds);

function pushStation(port: number, transport: 'tcp' | 'udp'): AnnouncementStream {
  const st = createStation({
    mode: 'push', url: `rtsp://127.0.0.1:${port}/x`, transport, backoff: { initialMs: 200, maxMs: 1000 },
    codec: 'opus', engine: 'embedded', voice: 'en-us', chime: 'none', video: 'mjpeg', fps: 2, videoWidth: W, videoHeight: H, fontFile: CJK_FONT,
  });
  st.on('log', () => {});
  cleanup.push(() => st.close());
  return st;
}

function boardOf(st: AnnouncementStream, number: string): Promise<Rgba> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the board for ${number} was never shown`)), 20000);
    const on = (e: { number?: string; jpeg: Buffer }) => {
      if (e.number !== number) return;
      st.board!.off('change', on);
      clearTimeout(timer);
      resolve(decodeJpeg(e.jpeg));
    };
    st.board!.on('change', on);
  });
}

async function pushAndCheck(transport: 'tcp' | 'udp'): Promise<void> {
  const port = await freePort();
  const file = join(dir, `push-${transport}.mkv`);
  const target = listener(port, file, 7);
  await sleep(300); // ffmpeg opens its listening socket (a refused first attempt is retried)
  const st = pushStation(port, transport);
  await st.start();
  await st.warmUp();
  await until(() => st.output.state === 'publishing', 20000, 'publishing');
  await sleep(2000);
  const drawn = boardOf(st, 'A012');
  st.announce({ text: 'A012, window 3' }, { call: { number: 'A012', counter: '3' } });
  const board = await drawn;
  const code = await target.exited;
  assert.equal(code, 0, target.stderr().slice(-2000));
  await st.close();
  const rec = readRecording(file, dir);
  assert.ok(rec.frames.length >= 8, `${rec.frames.length} video frames in 7 s at 2 fps`);
  const i = rec.frames.findIndex((f) => psnr(f.img, board, region) >= 30);
  const dbs = rec.frames.map((f) => `${f.t.toFixed(2)}:${psnr(f.img, board, region).toFixed(1)}dB`).join(' ');
  assert.ok(i > 0, `a frame showing A012 after frames that do not: ${dbs}`);
  assert.ok(rec.frames.slice(i).every((f) => psnr(f.img, board, region) >= 30), `A012 stays on the board: ${dbs}`);
  const onset = audioOnset(rec, 1000);
  assert.ok(onset !== undefined, 'speech in the audio');
  const skew = (rec.frames[i].t - onset!) * 1000;
  // eslint-disable-next-line no-console
  console.log(`push ${transport}: board change at ${rec.frames[i].t.toFixed(3)} s (${psnr(rec.frames[i].img, board, region).toFixed(1)} dB), speech at ${onset!.toFixed(3)} s: ${skew.toFixed(0)} ms`);
  assert.ok(Math.abs(skew) <= 100, `the board changed ${skew.toFixed(0)} ms from the speech's start (±100 ms)`);
}

test('push over TCP to ffmpeg (listen): both tracks arrive and decode, A012 on the board (PSNR ≥ 30 dB) with its speech (±100 ms)', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await pushAndCheck('tcp');
});

test('push over UDP to ffmpeg (listen): the same', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await pushAndCheck('udp');
});

test('push with video: the target goes away and comes back, both tracks are published again after back-off', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  const port = await freePort();
  const first = listener(port, join(dir, 'first.mkv'), 2);
  await sleep(300);
  const st = pushStation(port, 'tcp');
  const states: string[] = [];
  st.output.on('state', (s: string) => states.push(s));
  await st.start();
  assert.equal(await first.exited, 0, first.stderr().slice(-2000));
  await until(() => states.includes('reconnecting'), 10000, 'reconnecting after the target left');
  const file = join(dir, 'second.mkv');
  const second = listener(port, file, 3);
  assert.equal(await second.exited, 0, second.stderr().slice(-2000));
  assert.ok((st.output as RtspOutput).stats().reconnects >= 1);
  const rec = readRecording(file, dir);
  assert.ok(rec.frames.length >= 3, `${rec.frames.length} video frames after the reconnect`);
  assert.ok(rec.audio.length / 32000 > 2.5, `${rec.audio.length / 32000} s of audio after the reconnect`);
  // the first frame after the reconnect is the board, not something partial
  assert.ok(psnr(rec.frames[0].img, decodeJpeg(st.board!.lastJpeg!), { x: 0, y: 0, width: W, height: H }) >= 30);
});
