/**
 * Helpers of the announcement tests: bounded peers (ffmpeg, GStreamer), free ports, and analysis
 * of decoded audio (energy envelope, dominant tone per window).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { spawnPeer, type Peer } from '../support/processes';
import { decodeWav } from '../../lib/pcm';

export { freePort, sleep, spawnPeer, until, type Peer } from '../support/processes';
export { envelope } from '../support/audio';

/**
 * A test file's scratch space: a temp dir for decoded WAVs, plus peers to kill and closers to run
 * in `after()` (peers first, so no player is left reading a closed stream), then the dir removed.
 */
export function scratch(prefix: string): { dir: string; peers: Peer[]; cleanup: Array<() => Promise<void>> } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const peers: Peer[] = [];
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const p of peers) p.kill();
    for (const c of cleanup) await c();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, peers, cleanup };
}

/** ffmpeg decoding an RTSP URL to a mono 48 kHz WAV for `seconds` of media time (gaps in RTP time filled as silence). */
export function ffmpegPlayer(url: string, out: string, seconds: number, extra: string[] = []): Peer {
  return spawnPeer(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'warning', '-nostdin', ...extra, '-i', url, '-t', String(seconds), '-af', 'aresample=async=1', '-ac', '1', '-ar', '48000', '-y', out],
    (seconds + 20) * 1000,
  );
}

/** GStreamer's rtspsrc (an independent RTSP/RTP stack) decoding to a mono 48 kHz WAV. */
export function gstPlayer(url: string, out: string, maxMs: number, protocols = 'tcp'): Peer {
  return spawnPeer(
    'gst-launch-1.0',
    ['-e', '-q', 'rtspsrc', `location=${url}`, `protocols=${protocols}`, 'latency=200', '!', 'decodebin', '!', 'audioconvert', '!', 'audioresample', '!', 'audio/x-raw,rate=48000,channels=1,format=S16LE', '!', 'wavenc', '!', 'filesink', `location=${out}`],
    maxMs,
  );
}

/** The samples of a WAV file (mono s16le) and its rate; empty when missing or unreadable. */
export function readWav(file: string): { pcm: Buffer; rate: number } {
  try {
    const w = decodeWav(readFileSync(file));
    return { pcm: w.pcm, rate: w.format.rate };
  } catch {
    return { pcm: Buffer.alloc(0), rate: 48000 };
  }
}

/**
 * Where `pattern` (an envelope) best matches within `env`, by normalised correlation of the
 * log-energy envelopes (codecs change levels slightly; the shape of speech must survive).
 */
export function bestMatch(env: number[], pattern: number[]): { offset: number; corr: number } {
  const lg = (a: number[]) => a.map((v) => Math.log10(v + 30));
  const e = lg(env);
  const p = lg(pattern);
  const pm = p.reduce((a, b) => a + b, 0) / p.length;
  let best = { offset: -1, corr: -1 };
  for (let o = 0; o + p.length <= e.length; o++) {
    let em = 0;
    for (let i = 0; i < p.length; i++) em += e[o + i];
    em /= p.length;
    let num = 0;
    let de = 0;
    let dp = 0;
    for (let i = 0; i < p.length; i++) {
      const a = e[o + i] - em;
      const b = p[i] - pm;
      num += a * b;
      de += a * a;
      dp += b * b;
    }
    const c = num / Math.sqrt(de * dp || 1);
    if (c > best.corr) best = { offset: o, corr: c };
  }
  return best;
}

/** Power of frequency `hz` in a window (Goertzel), normalised to the window's energy. */
function goertzel(pcm: Buffer, start: number, n: number, rate: number, hz: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s = pcm.readInt16LE((start + i) * 2) + k * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}

/**
 * The tone heard in each `windowMs` window: which of `freqs` dominates, or 0 for silence
 * (RMS under `quiet`).
 */
export function toneTrack(pcm: Buffer, rate: number, freqs: number[], windowMs = 20, quiet = 500): number[] {
  const n = Math.round((rate * windowMs) / 1000);
  const out: number[] = [];
  for (let w = 0; (w + 1) * n * 2 <= pcm.length; w++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += pcm.readInt16LE((w * n + i) * 2) ** 2;
    if (Math.sqrt(sum / n) < quiet) {
      out.push(0);
      continue;
    }
    let best = 0;
    let bestP = -1;
    for (const f of freqs) {
      const p = goertzel(pcm, w * n, n, rate, f);
      if (p > bestP) {
        bestP = p;
        best = f;
      }
    }
    out.push(best);
  }
  return out;
}

/** Runs of equal values: [value, length in windows]. */
export function runs(track: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const v of track) {
    if (out.length && out[out.length - 1][0] === v) out[out.length - 1][1]++;
    else out.push([v, 1]);
  }
  return out;
}

/** Mono s16le sine tone. */
export function tone(rate: number, hz: number, ms: number, amp = 10000): Buffer {
  const n = Math.round((rate * ms) / 1000);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(amp * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return b;
}
