/** Helpers of the video-board tests: the CJK test font, PSNR, decoded frames. */
import * as jpegJs from 'jpeg-js';
import { PNG } from 'pngjs';

/** Debian's fonts-noto-cjk: a .ttc collection (missingPeer('fonts-noto-cjk') checks it). */
export const CJK_FONT = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc';

export interface Rgba {
  data: Uint8Array;
  width: number;
  height: number;
}

export function decodeJpeg(b: Buffer): Rgba {
  const j = jpegJs.decode(b, { useTArray: true, formatAsRGBA: true });
  return { data: j.data, width: j.width, height: j.height };
}

export function decodePng(b: Buffer): Rgba {
  const p = PNG.sync.read(b);
  return { data: p.data, width: p.width, height: p.height };
}

export function encodePng(img: Rgba): Buffer {
  const p = new PNG({ width: img.width, height: img.height });
  p.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(p);
}

/** PSNR (dB) of RGB over a region (whole image by default); Infinity when identical. */
export function psnr(a: Rgba, b: Rgba, r = { x: 0, y: 0, width: a.width, height: a.height }): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`sizes differ: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  let se = 0;
  let n = 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      const o = (y * a.width + x) * 4;
      for (let c = 0; c < 3; c++) {
        const d = a.data[o + c] - b.data[o + c];
        se += d * d;
        n++;
      }
    }
  }
  const mse = se / n;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** The number region of the board template (template units) at a board size. */
export function scaled(r: { x: number; y: number; width: number; height: number }, width: number, height: number) {
  const sx = width / 1280;
  const sy = height / 720;
  return { x: Math.round(r.x * sx), y: Math.round(r.y * sy), width: Math.round(r.width * sx), height: Math.round(r.height * sy) };
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { envelope } from '../support/audio';
import { spawnPeer, type Peer } from '../announce/support';

export interface Recording {
  /** decoded video frames in order, with their time (s) on the player's timeline */
  frames: { t: number; img: Rgba }[];
  /** decoded audio, mono 16 kHz, and the time (s) of its first sample on the same timeline */
  audio: Buffer;
  audioStart: number;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.slice(-2000)}`);
  return r.stdout;
}

/**
 * What a player recorded (a Matroska file with both tracks, as the player timed them), decoded
 * by ffmpeg: every video frame with its time, and the audio with its start time.
 */
export function readRecording(file: string, dir: string): Recording {
  const times = run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', file])
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
  const aStart = Number(run('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=start_time', '-of', 'csv=p=0', file]).trim());
  const fdir = join(dir, `frames-${Math.random().toString(36).slice(2)}`);
  run('mkdir', ['-p', fdir]);
  run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-fps_mode', 'passthrough', join(fdir, 'f%05d.png')]);
  const files = readdirSync(fdir).sort();
  if (files.length !== times.length) throw new Error(`${files.length} frames decoded, ${times.length} frame times`);
  const raw = join(dir, `audio-${Math.random().toString(36).slice(2)}.raw`);
  run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:a:0', '-f', 's16le', '-ac', '1', '-ar', '16000', '-y', raw]);
  return { frames: files.map((f, i) => ({ t: times[i], img: decodePng(readFileSync(join(fdir, f))) })), audio: readFileSync(raw), audioStart: Number.isFinite(aStart) ? aStart : 0 };
}

/** Time (s, player timeline) of the first 10 ms of audio louder than `level` RMS at or after `from`. */
export function audioOnset(r: Recording, level = 1000, from = -Infinity): number | undefined {
  const env = envelope(r.audio, 16000);
  const i = env.findIndex((v, k) => v > level && r.audioStart + k / 100 >= from);
  return i < 0 ? undefined : r.audioStart + i / 100;
}

/**
 * ffmpeg recording both tracks of a served stream for `seconds` (video as sent, audio as PCM): the
 * timeline a player sees, by RTP time. The peer goes into `peers` (the test file's clean-up).
 */
export function ffmpegRecorder(peers: Peer[], url: string, file: string, seconds: number, transport: 'tcp' | 'udp'): Peer {
  const p = spawnPeer('ffmpeg', ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-rtsp_transport', transport, '-i', url, '-t', String(seconds), '-map', '0', '-c:v', 'copy', '-c:a', 'pcm_s16le', '-y', file], (seconds + 30) * 1000);
  peers.push(p);
  return p;
}

/**
 * GStreamer recording both tracks as rtpbin times them, into Matroska. buffer-mode=synced: the
 * jitter buffer times packets by the sender's clock (RTP time, with the reports' NTP mapping across
 * tracks); 'default': its default mode (slave: arrival times, skew-corrected per stream), where the
 * board came out 200–380 ms after the speech until a change was followed by another frame.
 */
export function gstRecorder(peers: Peer[], codec: 'mjpeg' | 'h264', url: string, file: string, mode: 'synced' | 'default' = 'synced'): Peer {
  const depay = codec === 'h264' ? ['rtph264depay', '!', 'h264parse'] : ['rtpjpegdepay', '!', 'jpegparse'];
  const p = spawnPeer(
    'gst-launch-1.0',
    ['-e', '-q', 'rtspsrc', `location=${url}`, 'protocols=tcp', 'latency=200', ...(mode === 'synced' ? ['buffer-mode=synced'] : []), 'name=s', 'matroskamux', 'name=mux', '!', 'filesink', `location=${file}`,
      's.', '!', 'application/x-rtp,media=video', '!', ...depay, '!', 'queue', '!', 'mux.',
      's.', '!', 'application/x-rtp,media=audio', '!', 'rtpopusdepay', '!', 'opusparse', '!', 'queue', '!', 'mux.'],
    60000,
  );
  peers.push(p);
  return p;
}

/**
 * `ffmpeg -rtsp_flags listen` recording both tracks of what is published to 127.0.0.1:port, for
 * `seconds`. -listen_timeout, not -timeout: since ffmpeg 5 -timeout is the socket timeout in µs,
 * which over UDP ends the input at the first 100 ms poll without a packet (the 2 fps video track
 * has them).
 */
export function ffmpegListener(peers: Peer[], port: number, file: string, seconds: number): Peer {
  const p = spawnPeer(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-rtsp_flags', 'listen', '-listen_timeout', '30', '-i', `rtsp://127.0.0.1:${port}/x`, '-t', String(seconds), '-map', '0', '-c:v', 'copy', '-c:a', 'pcm_s16le', '-y', file],
    (seconds + 40) * 1000,
  );
  peers.push(p);
  return p;
}

/** The longest the event loop went without running a 5 ms timer (ms) while `work` ran, 30 ms either side. */
export async function longestLoopGap(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  try {
    await new Promise((r) => setTimeout(r, 30));
    await work();
    await new Promise((r) => setTimeout(r, 30));
  } finally {
    clearInterval(timer);
  }
  return worst;
}
