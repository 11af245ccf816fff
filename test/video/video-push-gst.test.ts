/**
 * Push mode with the video board to GStreamer's RTSP server in RECORD mode (test/rtsp/record_server.py
 * --video): ANNOUNCE with both tracks, the server decodes the audio (to s16le 16 kHz) and the video
 * (decodebin: rtpjpegdepay ! jpegdec) to PNG frames. The call A012 arrives as its board (PSNR ≥
 * 30 dB on the number region) with its speech in the audio; when the server goes away and comes
 * back on the same port, both tracks are published to it again. The same with the H.264 board
 * (decodebin: rtph264depay ! avdec_h264), and the server's H.264 path on its own with ffmpeg
 * publishing libx264.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createStation, type AnnouncementStream } from '../../lib/announce';
import type { RtspOutput } from '../../lib/rtsp';
import { NUMBER_REGION } from '../../lib/video/board';
import { envelope } from '../support/audio';
import { missingPeer, PYTHON } from '../support/peers';
import { freePort, scratch, sleep, spawnPeer, until } from '../announce/support';
import { CJK_FONT, decodeJpeg, decodePng, psnr, scaled, type Rgba } from './support';

const { dir, peers, cleanup } = scratch('video-push-gst-');
const RECORD_SERVER = resolve(__dirname, '../../../test/rtsp/record_server.py');
const W = 640;
const H = 368;
const region = scaled(NUMBER_REGION, W, H);

interface Target {
  child: ChildProcessWithoutNullStreams;
  audio: string;
  frames: string;
  /** frames decoded so far (the server's "frame N PTS" lines) */
  decoded: () => number;
  stop: () => Promise<void>;
}

/** record_server.py --video on 127.0.0.1:port: audio to a raw file, video frames to PNG files. */
function recordServer(port: number, name: string): Promise<Target> {
  const audio = join(dir, `${name}.raw`);
  const frames = join(dir, `${name}-frames`);
  mkdirSync(frames, { recursive: true });
  const child = spawn(PYTHON, [RECORD_SERVER, '--video', frames, String(port), 'x', audio], { stdio: ['pipe', 'pipe', 'pipe'] });
  const guard = setTimeout(() => child.kill('SIGKILL'), 60000);
  child.on('exit', () => clearTimeout(guard));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    child.kill('SIGKILL');
  };
  cleanup.push(stop);
  return new Promise((res, rej) => {
    const ready = () => out.includes('ready') && (child.stdout.off('data', ready), res({ child, audio, frames, stop, decoded: () => (out.match(/^frame /gm) ?? []).length }));
    child.stdout.on('data', ready);
    child.once('exit', (c) => rej(new Error(`record_server.py exited ${c}: ${err}`)));
  });
}

function pushStation(port: number, video: 'mjpeg' | 'h264'): AnnouncementStream {
  const st = createStation({
    mode: 'push', url: `rtsp://127.0.0.1:${port}/x`, transport: 'tcp', backoff: { initialMs: 200, maxMs: 1000 },
    codec: 'opus', engine: 'embedded', voice: 'en-us', chime: 'none', video, fps: 2, videoWidth: W, videoHeight: H, fontFile: CJK_FONT,
  });
  st.on('log', () => {});
  cleanup.push(() => st.close());
  return st;
}

function pngs(d: string): Rgba[] {
  return readdirSync(d).filter((f) => f.endsWith('.png')).sort().map((f) => decodePng(readFileSync(join(d, f))));
}

/** Seconds of audio louder than `level` (RMS per 10 ms) in a raw s16le 16 kHz file. */
function loud(file: string, level = 1000): number {
  return envelope(readFileSync(file), 16000).filter((v) => v > level).length / 100;
}

for (const video of ['mjpeg', 'h264'] as const) {
  test(`push with ${video} video to the GStreamer RECORD server: both tracks decode, A012 on the board with its speech; after a restart both tracks again`, { skip: missingPeer('gst-rtsp-server', 'gstreamer', 'fonts-noto-cjk', ...(video === 'h264' ? ['ffmpeg' as const] : [])) }, async () => {
    const port = await freePort();
    const first = await recordServer(port, `${video}-first`);
    const st = pushStation(port, video);
    const states: string[] = [];
    st.output.on('state', (s: string) => states.push(s));
    await st.start();
    await st.warmUp();
    await until(() => st.output.state === 'publishing', 20000, 'publishing');
    await until(() => first.decoded() >= 2, 10000, 'video frames decoded by the server');
    let board: Rgba | undefined;
    st.board!.on('change', (e: { number?: string; jpeg: Buffer }) => {
      if (e.number === 'A012') board = decodeJpeg(e.jpeg);
    });
    st.announce({ text: 'A012, window 3' }, { call: { number: 'A012', counter: '3' } });
    await until(() => board !== undefined && st.announcer.playing === undefined && st.announcer.queued === 0, 20000, 'the call played');
    const afterCall = first.decoded();
    await until(() => first.decoded() >= afterCall + 2, 10000, 'frames after the call');
    await first.stop();

    const frames = pngs(first.frames);
    const dbs = frames.map((f) => psnr(f, board!, region).toFixed(1)).join(' ');
    assert.ok(frames.length >= 4, `${frames.length} frames decoded`);
    assert.equal(frames[0].width, W);
    assert.equal(frames[0].height, H);
    const i = frames.findIndex((f) => psnr(f, board!, region) >= 30);
    assert.ok(i > 0, `a frame showing A012 after frames that do not: ${dbs} dB`);
    assert.ok(psnr(frames[frames.length - 1], board!, region) >= 30, `A012 stays on the board: ${dbs} dB`);
    assert.ok(loud(first.audio) > 0.5, `the speech in the server's audio (${loud(first.audio)} s loud)`);
    // eslint-disable-next-line no-console
    console.log(`GStreamer RECORD, ${video}: ${frames.length} frames, A012 from frame ${i + 1} (${psnr(frames[i], board!, region).toFixed(1)} dB), ${loud(first.audio).toFixed(2)} s of speech`);

    // the server goes away and comes back on the same port: both tracks published to it again
    await until(() => states.includes('reconnecting'), 15000, 'reconnecting after the server left');
    const second = await recordServer(port, `${video}-second`);
    await until(() => st.output.state === 'publishing', 20000, 'publishing again');
    await until(() => second.decoded() >= 3, 15000, 'video frames decoded after the restart');
    await sleep(1000);
    await second.stop();
    assert.ok((st.output as RtspOutput).stats().reconnects >= 1);
    const again = pngs(second.frames);
    const whole = (f: Rgba) => psnr(f, decodeJpeg(st.board!.lastJpeg!), { x: 0, y: 0, width: W, height: H }) >= 30;
    // (H.264: the still board loops, and a new publication starts at one of the loop's IDRs)
    assert.ok(whole(again[0]) && whole(again[again.length - 1]), 'the board, whole, as the first frame after the reconnect, and from then on');
    const seconds = readFileSync(second.audio).length / 32000;
    assert.ok(seconds > 1, `${seconds} s of audio after the reconnect`);
  });
}

test('record_server.py --video decodes an H.264 track too (ffmpeg publishing libx264 + Opus)', { skip: missingPeer('gst-rtsp-server', 'gstreamer', 'ffmpeg') }, async () => {
  const port = await freePort();
  const target = await recordServer(port, 'h264');
  const p = spawnPeer('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=5', '-t', '3',
    '-map', '0:a', '-map', '1:v', '-c:a', 'libopus', '-c:v', 'libx264', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-f', 'rtsp', '-rtsp_transport', 'tcp', `rtsp://127.0.0.1:${port}/x`], 30000);
  peers.push(p);
  assert.equal(await p.exited, 0, p.stderr().slice(-1500));
  await until(() => target.decoded() >= 10, 10000, 'H.264 frames decoded');
  await target.stop();
  const frames = pngs(target.frames);
  assert.ok(frames.length >= 10 && frames[0].width === 320 && frames[0].height === 240, `${frames.length} frames`);
  assert.ok(loud(target.audio) > 2, `${loud(target.audio)} s of the tone`);
});
