/**
 * The announcement stream with its video board, played by real players on 127.0.0.1: ffmpeg
 * (TCP and UDP) and GStreamer's rtspsrc record both tracks as they time them; a call "A012,
 * window 3" must show its board (PSNR of the number's region against the board we rendered) at the
 * same instant as its speech (±100 ms on the player's timeline); a player that joins late sees the
 * current board within a second; msg.image replaces the board; a player that sets up only the
 * audio track hears the stream as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStation, type AnnouncementStream } from '../../lib/announce';
import { NUMBER_REGION } from '../../lib/video/board';
import { RtspOutput } from '../../lib/rtsp';
import { encodeJpeg } from '../../lib/video/jpeg';
import { missingPeer, stoppedCleanly } from '../support/peers';
import { freePort, scratch, spawnPeer, until, type Peer } from '../announce/support';
import { assertTimeline, readRaw, startFeeder } from '../rtsp/support';
import { CJK_FONT, audioOnset, decodeJpeg, encodePng, psnr, readRecording, scaled, ffmpegRecorder as recordWithFfmpeg, gstRecorder as recordWithGst, type Recording, type Rgba } from './support';

const { dir, peers, cleanup } = scratch('video-players-');
const W = 640;
const H = 368;

async function station(): Promise<{ st: AnnouncementStream; url: string }> {
  const port = await freePort();
  const st = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'board', codec: 'opus', engine: 'embedded', voice: 'en-us', chime: 'none', video: 'mjpeg', fps: 2, videoWidth: W, videoHeight: H, fontFile: CJK_FONT });
  st.on('log', () => {});
  cleanup.push(() => st.close());
  await st.start();
  await st.warmUp();
  return { st, url: `rtsp://127.0.0.1:${port}/board` };
}

const ffmpegRecorder = (url: string, file: string, seconds: number, transport: 'tcp' | 'udp'): Peer => recordWithFfmpeg(peers, url, file, seconds, transport);

const gstRecorder = (url: string, file: string, mode?: 'synced' | 'default'): Peer => recordWithGst(peers, 'mjpeg', url, file, mode);

/** The board the stream shows once `number` is called (its JPEG decoded), when it is drawn. */
function boardOf(st: AnnouncementStream, number: string): Promise<Rgba> {
  return new Promise((resolve) => {
    const on = (e: { number?: string; jpeg: Buffer }) => {
      if (e.number !== number) return;
      st.board!.off('change', on);
      resolve(decodeJpeg(e.jpeg));
    };
    st.board!.on('change', on);
  });
}

const region = scaled(NUMBER_REGION, W, H);
const shows = (frame: Rgba, board: Rgba, r = region) => psnr(frame, board, r) >= 30;

/** The board change in a recording: the first frame showing `board` after frames that did not. */
function boardChange(rec: Recording, board: Rgba): { t: number; db: number; before: number } {
  const i = rec.frames.findIndex((f) => shows(f.img, board));
  assert.ok(i > 0, `a frame showing the board after one that does not: ${rec.frames.map((f) => `${f.t.toFixed(2)}:${psnr(f.img, board, region).toFixed(1)}dB`).join(' ')}`);
  return { t: rec.frames[i].t, db: psnr(rec.frames[i].img, board, region), before: psnr(rec.frames[i - 1].img, board, region) };
}

async function callAndCheck(who: string, record: (url: string, file: string) => Peer, stop: (p: Peer) => void | Promise<void>): Promise<void> {
  const { st, url } = await station();
  const file = join(dir, `${who}.mkv`);
  const p = record(url, file);
  const out = st.output as RtspOutput;
  await until(() => out.players === 1, 20000, `${who} playing`);
  await new Promise((r) => setTimeout(r, 2000));
  const drawn = boardOf(st, 'A012');
  st.announce({ text: 'A012, window 3' }, { call: { number: 'A012', counter: '3' } });
  const board = await drawn;
  await until(() => st.announcer.playing === undefined, 20000, 'speech finished');
  await stop(p);
  const code = await p.exited;
  assert.ok(stoppedCleanly(code, p.stderr()), `${who} exit ${code}: ${p.stderr().slice(-2000)}`);
  const rec = readRecording(file, dir);
  const change = boardChange(rec, board);
  const onset = audioOnset(rec, 1000, change.t - 1.5);
  assert.ok(onset !== undefined, `${who}: speech in the audio`);
  assert.ok(audioOnset(rec, 1000) === onset, `${who}: silence before the call (first sound at ${audioOnset(rec, 1000)} s, the call's at ${onset} s)`);
  const skew = (change.t - onset!) * 1000;
  // eslint-disable-next-line no-console
  console.log(`${who}: board change at ${change.t.toFixed(3)} s (${change.db.toFixed(1)} dB, before ${change.before.toFixed(1)} dB), speech at ${onset!.toFixed(3)} s: ${skew.toFixed(0)} ms`);
  assert.ok(Math.abs(skew) <= 100, `${who}: the board changed ${skew.toFixed(0)} ms from the speech's start (±100 ms)`);
  assert.ok(change.db >= 30 && change.before < 30);
}

test('ffmpeg over TCP: the call "A012, window 3" shows its board at the speech (±100 ms), PSNR ≥ 30 dB on the number', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await callAndCheck('ffmpeg-tcp', (url, file) => ffmpegRecorder(url, file, 9, 'tcp'), () => undefined);
});

test('ffmpeg over UDP: the same', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await callAndCheck('ffmpeg-udp', (url, file) => ffmpegRecorder(url, file, 9, 'udp'), () => undefined);
});

test('GStreamer rtspsrc: both tracks arrive, the board and the speech at the same instant (±100 ms)', { skip: missingPeer('gstreamer', 'ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await callAndCheck('gstreamer', gstRecorder, async (p) => {
    await new Promise((r) => setTimeout(r, 1500));
    p.kill('SIGINT');
  });
});

test('GStreamer rtspsrc in its default buffer mode: the board and the speech at the same instant (±100 ms)', { skip: missingPeer('gstreamer', 'ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await callAndCheck('gstreamer-default', (url, file) => gstRecorder(url, file, 'default'), async (p) => {
    await new Promise((r) => setTimeout(r, 1500));
    p.kill('SIGINT');
  });
});

test('a player that joins late sees the current board within 1 s; msg.image replaces the board', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  const { st, url } = await station();
  const drawn = boardOf(st, 'A012');
  st.announce({ text: 'A012' }, { call: { number: 'A012', counter: '3' } });
  const board = await drawn;
  await until(() => st.announcer.playing === undefined && st.announcer.queued === 0, 20000, 'the call played');
  const late = join(dir, 'late.mkv');
  const p = ffmpegRecorder(url, late, 2, 'tcp');
  assert.equal(await p.exited, 0, p.stderr());
  const rec = readRecording(late, dir);
  assert.ok(rec.frames.length >= 2, `${rec.frames.length} frames in 2 s at 2 fps`);
  assert.ok(rec.frames[0].t - rec.audioStart <= 1, `first frame ${rec.frames[0].t} s, audio from ${rec.audioStart} s`);
  assert.ok(shows(rec.frames[0].img, board), `the late player's first frame shows A012 (${psnr(rec.frames[0].img, board, region).toFixed(1)} dB)`);

  // a user's picture (PNG, another size and aspect): the whole board becomes that picture
  const pic: Rgba = { width: 400, height: 300, data: new Uint8Array(400 * 300 * 4) };
  for (let i = 0; i < 400 * 300; i++) pic.data.set([(i % 400) * 0.6, 40, 200 - (Math.floor(i / 400) % 200), 255], i * 4);
  const file = join(dir, 'image.mkv');
  const q = ffmpegRecorder(url, file, 4, 'tcp');
  await until(() => (st.output as RtspOutput).players === 1, 20000, 'player');
  await new Promise((r) => setTimeout(r, 1000));
  await st.showBoard({ image: encodePng(pic) });
  const shown = decodeJpeg(st.board!.lastJpeg!);
  assert.equal(await q.exited, 0, q.stderr());
  const rec2 = readRecording(file, dir);
  const whole = { x: 0, y: 0, width: W, height: H };
  const last = rec2.frames[rec2.frames.length - 1];
  assert.ok(psnr(last.img, shown, whole) >= 30, `the picture on the player (${psnr(last.img, shown, whole).toFixed(1)} dB)`);
  assert.ok(psnr(rec2.frames[0].img, shown, whole) < 30, 'and not before');
  // a broken picture is refused and the stream goes on with the last board
  await assert.rejects(st.announce({ text: 'B001' }, { image: Buffer.from('not an image') }).ready, (e: Error & { code?: string }) => e.code === 'video.badImage');
  assert.equal(st.announcer.queued + (st.announcer.playing ? 1 : 0), 0, 'nothing queued for the broken picture');
});

test('a player that sets up only the audio track of a stream with video hears every tone burst on time', { skip: missingPeer('ffmpeg') }, async () => {
  const port = await freePort();
  const out = new RtspOutput({ mode: 'serve', codec: 'opus', rate: 48000, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port, path: 'av' }, video: { fps: 2, width: 320, height: 240 } });
  out.on('error', () => {});
  await out.start();
  const pic = new Uint8Array(320 * 240 * 4).fill(128);
  out.showVideo(encodeJpeg(pic, 320, 240).jpeg, 0);
  const feeder = startFeeder((f) => out.writeFrame(f), 48000);
  cleanup.push(async () => feeder.stop(), () => out.close());
  const raw = join(dir, 'audio-only.raw');
  const p = spawnPeer('ffmpeg', ['-hide_banner', '-nostdin', '-rtsp_transport', 'tcp', '-allowed_media_types', 'audio', '-i', `rtsp://127.0.0.1:${port}/av`, '-t', '4', '-f', 's16le', '-ar', '16000', '-ac', '1', '-y', raw], 30000);
  peers.push(p);
  await until(() => out.players === 1, 15000, 'audio-only player');
  const sentBefore = out.stats().videoFrames;
  assert.equal(await p.exited, 0, p.stderr().slice(-2000));
  assertTimeline(readRaw(raw), 16000, 2, 'audio-only ffmpeg');
  assert.ok(out.stats().videoFrames! > sentBefore!, 'the video track went on meanwhile');
});
