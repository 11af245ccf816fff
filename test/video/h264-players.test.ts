/**
 * The announcement stream with its board as H.264 (RFC 6184, encoded by an ffmpeg child), played
 * by real players on 127.0.0.1: ffmpeg (TCP and UDP) and GStreamer's rtspsrc record both tracks as
 * they time them; a call "A012, window 3" must show its board (PSNR of the number's region against
 * the board we rendered) at the same instant as its speech (±100 ms on the player's timeline); a
 * player that joins late sees the current board within a second; push with both tracks to
 * `ffmpeg -rtsp_flags listen`; the encoder child killed mid-stream is restarted (an error event)
 * and the board comes back; close leaves no ffmpeg behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStation, type AnnouncementStream, type StationConfig } from '../../lib/announce';
import { NUMBER_REGION } from '../../lib/video/board';
import type { RtspOutput } from '../../lib/rtsp';
import type { H264Coder } from '../../lib/rtsp/h264';
import type { CodedError } from '../../lib/util/errors';
import { missingPeer, stoppedCleanly } from '../support/peers';
import { freePort, scratch, sleep, spawnPeer, until, type Peer } from '../announce/support';
import { CJK_FONT, audioOnset, decodeJpeg, psnr, readRecording, scaled, ffmpegRecorder as recordWithFfmpeg, gstRecorder as recordWithGst, type Recording, type Rgba, ffmpegListener } from './support';

const { dir, peers, cleanup } = scratch('h264-players-');
const W = 640;
const H = 368;
const region = scaled(NUMBER_REGION, W, H);
const whole = { x: 0, y: 0, width: W, height: H };

const BASE: StationConfig = { mode: 'serve', codec: 'opus', engine: 'embedded', voice: 'en-us', chime: 'none', video: 'h264', fps: 2, videoWidth: W, videoHeight: H, fontFile: CJK_FONT };

async function station(extra: Partial<StationConfig> = {}): Promise<{ st: AnnouncementStream; url: string; errors: CodedError[] }> {
  const port = await freePort();
  const st = createStation({ ...BASE, host: '127.0.0.1', port, path: 'board', ...extra });
  const errors: CodedError[] = [];
  st.on('log', () => {});
  st.output.on('error', (e: CodedError) => void errors.push(e));
  cleanup.push(() => st.close());
  await st.start();
  await st.warmUp();
  return { st, url: `rtsp://127.0.0.1:${port}/board`, errors };
}

/** The ffmpeg H.264 encoder child of a stream (its pid: supervision and close are checked on it). */
const coderOf = (st: AnnouncementStream) => (st.output as unknown as { video: { coder: H264Coder } }).video.coder;

const ffmpegRecorder = (url: string, file: string, seconds: number, transport: 'tcp' | 'udp'): Peer => recordWithFfmpeg(peers, url, file, seconds, transport);

const gstRecorder = (url: string, file: string, mode?: 'synced' | 'default'): Peer => recordWithGst(peers, 'h264', url, file, mode);

/**
 * The board the stream shows once `number` is called, when it is drawn: its JPEG, decoded only when
 * asked for. Not in the 'change' event: decoding there holds up the main thread just when the
 * board's access unit comes back from ffmpeg, and players that time packets by their arrival
 * (GStreamer's default buffer mode) would show the board that much late.
 */
function boardOf(st: AnnouncementStream, number: string): Promise<Rgba> {
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the board for ${number} was never shown`)), 20000);
    const on = (e: { number?: string; jpeg: Buffer }) => {
      if (e.number !== number) return;
      st.board!.off('change', on);
      clearTimeout(timer);
      resolve(e.jpeg);
    };
    st.board!.on('change', on);
  }).then((jpeg) => new Promise((r) => setTimeout(() => r(decodeJpeg(jpeg)), 1000)));
}

const dbs = (rec: Recording, board: Rgba, r = region) => rec.frames.map((f) => `${f.t.toFixed(2)}:${psnr(f.img, board, r).toFixed(1)}dB`).join(' ');

/** The board change in a recording: the first frame showing `board` after frames that did not. */
function boardChange(rec: Recording, board: Rgba): { t: number; db: number; before: number } {
  const i = rec.frames.findIndex((f) => psnr(f.img, board, region) >= 30);
  assert.ok(i > 0, `a frame showing the board after one that does not: ${dbs(rec, board)}`);
  assert.ok(rec.frames.slice(i).every((f) => psnr(f.img, board, region) >= 30), `the board stays: ${dbs(rec, board)}`);
  return { t: rec.frames[i].t, db: psnr(rec.frames[i].img, board, region), before: psnr(rec.frames[i - 1].img, board, region) };
}

/** The call in a recording: the board's change and the speech's onset, within ±100 ms. */
function checkSync(who: string, rec: Recording, board: Rgba): void {
  const change = boardChange(rec, board);
  const onset = audioOnset(rec, 1000, change.t - 1.5);
  assert.ok(onset !== undefined, `${who}: speech in the audio`);
  assert.ok(audioOnset(rec, 1000) === onset, `${who}: silence before the call (first sound at ${audioOnset(rec, 1000)} s, the call's at ${onset} s)`);
  const skew = (change.t - onset!) * 1000;
  // eslint-disable-next-line no-console
  console.log(`${who}: board change at ${change.t.toFixed(3)} s (${change.db.toFixed(1)} dB, before ${change.before.toFixed(1)} dB), speech at ${onset!.toFixed(3)} s: ${skew.toFixed(0)} ms`);
  assert.ok(Math.abs(skew) <= 100, `${who}: the board changed ${skew.toFixed(0)} ms from the speech's start (±100 ms): ${dbs(rec, board)}`);
}

async function callAndCheck(who: string, record: (url: string, file: string) => Peer, stop: (p: Peer) => void | Promise<void>): Promise<void> {
  const { st, url, errors } = await station();
  const file = join(dir, `${who}.mkv`);
  const p = record(url, file);
  const out = st.output as RtspOutput;
  await until(() => out.players === 1, 20000, `${who} playing`);
  await sleep(2000);
  const drawn = boardOf(st, 'A012');
  st.announce({ text: 'A012, window 3' }, { call: { number: 'A012', counter: '3' } });
  const board = await drawn;
  await until(() => st.announcer.playing === undefined, 20000, 'speech finished');
  await stop(p);
  const code = await p.exited;
  assert.ok(stoppedCleanly(code, p.stderr()), `${who} exit ${code}: ${p.stderr().slice(-2000)}`);
  checkSync(who, readRecording(file, dir), board);
  assert.deepEqual(errors, []);
}

const stopGst = async (p: Peer) => {
  await sleep(1500);
  p.kill('SIGINT');
};

test('H.264, ffmpeg over TCP: the call "A012, window 3" shows its board at the speech (±100 ms), PSNR ≥ 30 dB on the number', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await callAndCheck('h264-ffmpeg-tcp', (url, file) => ffmpegRecorder(url, file, 9, 'tcp'), () => undefined);
});

test('H.264, ffmpeg over UDP: the same', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await callAndCheck('h264-ffmpeg-udp', (url, file) => ffmpegRecorder(url, file, 9, 'udp'), () => undefined);
});

test('H.264, GStreamer rtspsrc (rtph264depay): both tracks arrive, the board and the speech at the same instant (±100 ms)', { skip: missingPeer('gstreamer', 'ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await callAndCheck('h264-gstreamer', gstRecorder, stopGst);
});

test('H.264, GStreamer rtspsrc in its default buffer mode: the board and the speech at the same instant (±100 ms)', { skip: missingPeer('gstreamer', 'ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  await callAndCheck('h264-gstreamer-default', (url, file) => gstRecorder(url, file, 'default'), stopGst);
});

test('H.264: a player that joins late sees the current board within 1 s', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  const { st, url } = await station();
  const drawn = boardOf(st, 'A012');
  st.announce({ text: 'A012' }, { call: { number: 'A012', counter: '3' } });
  const board = await drawn;
  await until(() => st.announcer.playing === undefined && st.announcer.queued === 0, 20000, 'the call played');
  for (let i = 0; i < 3; i++) {
    const late = join(dir, `late-${i}.mkv`);
    const p = ffmpegRecorder(url, late, 2, i === 1 ? 'udp' : 'tcp');
    assert.equal(await p.exited, 0, p.stderr());
    const rec = readRecording(late, dir);
    assert.ok(rec.frames.length >= 2, `${rec.frames.length} frames in 2 s at 2 fps`);
    assert.ok(rec.frames[0].t - rec.audioStart <= 1, `first frame ${rec.frames[0].t} s, audio from ${rec.audioStart} s`);
    assert.ok(psnr(rec.frames[0].img, board, region) >= 30, `the late player's first frame shows A012 (${psnr(rec.frames[0].img, board, region).toFixed(1)} dB)`);
    await sleep(300 * i); // joins at another point of the keyframe interval
  }
});

test('H.264: the encoder child killed (SIGKILL) mid-stream is restarted with an error event, the player sees the board again; close leaves no ffmpeg behind', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
  const { st, url, errors } = await station();
  const drawn = boardOf(st, 'A012');
  await st.showBoard({ call: { number: 'A012', counter: '3' } });
  const board = await drawn;
  const coder = coderOf(st);
  const first = coder.pid!;
  const file = join(dir, 'killed.mkv');
  const p = ffmpegRecorder(url, file, 7, 'tcp');
  await until(() => (st.output as RtspOutput).players === 1, 20000, 'player');
  await sleep(2000);
  process.kill(first, 'SIGKILL');
  await until(() => errors.some((e) => e.code === 'video.ffmpegExited'), 10000, 'the exit reported');
  assert.match(errors[0].message, /H\.264 encoder\) exited with signal SIGKILL; restarting in \d+ ms/);
  await until(() => coder.pid !== undefined && coder.pid !== first, 10000, 'a new child');
  assert.equal(coder.restarts, 1);
  assert.equal(await p.exited, 0, p.stderr().slice(-2000));
  const rec = readRecording(file, dir);
  // killed about 2 s into the recording, restarted within a second: the last 3 s are the new child's
  const t0 = rec.frames[0].t;
  const after = rec.frames.filter((f) => f.t - t0 > 4);
  assert.ok(after.length >= 4, `frames after the restart: ${dbs(rec, board)}`);
  assert.ok(after.every((f) => psnr(f.img, board, region) >= 30), `the board is back: ${dbs(rec, board)}`);
  const pid = coder.pid!;
  await st.close();
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the ffmpeg child is gone after close');
  assert.throws(() => process.kill(first, 0), /ESRCH/);
});

const listener = (port: number, file: string, seconds: number): Peer => ffmpegListener(peers, port, file, seconds);

for (const transport of ['tcp', 'udp'] as const) {
  test(`H.264 push over ${transport.toUpperCase()} to ffmpeg (listen): both tracks arrive, A012 on the board (PSNR ≥ 30 dB) with its speech (±100 ms)`, { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, async () => {
    const port = await freePort();
    const file = join(dir, `push-${transport}.mkv`);
    const target = listener(port, file, 7);
    await sleep(300); // ffmpeg opens its listening socket (a refused first attempt is retried)
    const st = createStation({ ...BASE, mode: 'push', url: `rtsp://127.0.0.1:${port}/x`, transport, backoff: { initialMs: 200, maxMs: 1000 } });
    st.on('log', () => {});
    cleanup.push(() => st.close());
    await st.start();
    await st.warmUp();
    await until(() => st.output.state === 'publishing', 20000, 'publishing');
    await sleep(2000);
    const drawn = boardOf(st, 'A012');
    st.announce({ text: 'A012, window 3' }, { call: { number: 'A012', counter: '3' } });
    const board = await drawn;
    assert.equal(await target.exited, 0, target.stderr().slice(-2000));
    await st.close();
    const rec = readRecording(file, dir);
    assert.ok(rec.frames.length >= 6, `${rec.frames.length} video frames in 7 s at 2 fps`);
    checkSync(`h264-push-${transport}`, rec, board);
  });
}
