/**
 * Test-side helpers for the RTSP transport tests: a real-time frame feeder on an absolute clock
 * (the way the announcer's pacer calls writeFrame), a tone/silence pattern, spawned peers
 * (ffmpeg, GStreamer) with bounded lifetimes, and analysis of the audio they decode.
 */
import { readFileSync } from 'node:fs';
import { envelope } from '../support/audio';
import { after } from 'node:test';
import { RawRtsp } from './hostile-clients';

/** Tone bursts: TONE_MS of a 1 kHz sine at the start of every PERIOD_MS, silence in between. */
export const PERIOD_MS = 1000;
export const TONE_MS = 300;
const TONE_HZ = 1000;
const AMPLITUDE = 12000;

export function toneFrame(rate: number, frameMs: number, index: number): Buffer {
  const n = (rate * frameMs) / 1000;
  const buf = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const sample = index * n + i;
    const ms = (sample * 1000) / rate;
    if (ms % PERIOD_MS < TONE_MS) buf.writeInt16LE(Math.round(AMPLITUDE * Math.sin((2 * Math.PI * TONE_HZ * sample) / rate)), i * 2);
  }
  return buf;
}

/**
 * Calls `write` with frame i at start + i*frameMs of wall clock (absolute schedule: lateness of
 * one timer never accumulates); stop() ends it.
 */
export function startFeeder(write: (frame: Buffer, index: number) => void, rate: number, frameMs = 20): { stop: () => void; frames: () => number } {
  const start = performance.now();
  let i = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const now = performance.now();
    while (start + i * frameMs <= now) {
      write(toneFrame(rate, frameMs, i), i);
      i++;
    }
    timer = setTimeout(tick, Math.max(0, start + i * frameMs - performance.now()));
  };
  tick();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    frames: () => i,
  };
}

export { freePort, sleep, spawnPeer, until, type Peer } from '../support/processes';

export interface Burst {
  startMs: number;
  lengthMs: number;
}

/**
 * The tone bursts found in decoded audio: runs of 10 ms windows louder than a quarter of the
 * tone's RMS (the tone's RMS is AMPLITUDE/√2 ≈ 8500), and the loudest window outside them.
 */
export function findBursts(pcm: Buffer, rate: number): { bursts: Burst[]; maxQuietRms: number; durationMs: number } {
  const env = envelope(pcm, rate);
  const on = (AMPLITUDE / Math.SQRT2) / 4;
  const bursts: Burst[] = [];
  let maxQuietRms = 0;
  let runStart = -1;
  env.forEach((v, i) => {
    if (v >= on) {
      if (runStart < 0) runStart = i;
    } else {
      if (runStart >= 0) {
        bursts.push({ startMs: runStart * 10, lengthMs: (i - runStart) * 10 });
        runStart = -1;
      }
    }
  });
  if (runStart >= 0) bursts.push({ startMs: runStart * 10, lengthMs: (env.length - runStart) * 10 });
  // quiet = windows well away (30 ms) from any burst edge, where codecs ring and pre-echo, and
  // past the first 100 ms, where a decoder that joined mid-stream (no history) is warming up
  env.forEach((v, i) => {
    const ms = i * 10;
    if (ms < 100) return;
    if (bursts.some((b) => ms > b.startMs - 40 && ms < b.startMs + b.lengthMs + 30)) return;
    maxQuietRms = Math.max(maxQuietRms, v);
  });
  return { bursts, maxQuietRms, durationMs: (pcm.length / 2 / rate) * 1000 };
}

/**
 * Checks the decoded timeline: every complete burst is TONE_MS long and bursts start PERIOD_MS
 * apart (± tolerance), so nothing was lost, duplicated or shifted by more than `tolMs`; and the
 * silence between them is silent. Returns a description of the first violation, else undefined.
 */
export function timelineProblem(pcm: Buffer, rate: number, minBursts: number, tolMs = 40): string | undefined {
  const { bursts, maxQuietRms, durationMs } = findBursts(pcm, rate);
  const complete = bursts.filter((b) => b.startMs >= 50 && b.startMs + b.lengthMs < durationMs - 10);
  if (complete.length < minBursts) return `found ${complete.length} complete tone bursts in ${durationMs.toFixed(0)} ms of audio, expected >= ${minBursts}: ${JSON.stringify(bursts)}`;
  for (const b of complete) if (Math.abs(b.lengthMs - TONE_MS) > tolMs) return `a burst lasts ${b.lengthMs} ms, sent ${TONE_MS} ms: ${JSON.stringify(bursts)}`;
  for (let i = 1; i < complete.length; i++) {
    const gap = complete[i].startMs - complete[i - 1].startMs;
    const periods = Math.round(gap / PERIOD_MS);
    if (periods !== 1 || Math.abs(gap - PERIOD_MS) > tolMs) return `bursts ${gap} ms apart, sent ${PERIOD_MS} ms apart: ${JSON.stringify(bursts)}`;
  }
  if (maxQuietRms > 300) return `the silence between bursts is not silent (RMS ${maxQuietRms.toFixed(0)})`;
  return undefined;
}

export function readRaw(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    return Buffer.alloc(0);
  }
}

/** Fails with the first timeline violation (see timelineProblem), naming the player. */
export function assertTimeline(pcm: Buffer, rate: number, minBursts: number, who = 'decoded audio'): void {
  const problem = timelineProblem(pcm, rate, minBursts);
  if (problem) throw new Error(`${who}: ${problem}`);
}

/** A RawRtsp maker for a test file: every client it made is destroyed after the file's tests. */
export function rawClients(): (port: number) => RawRtsp {
  const made: RawRtsp[] = [];
  after(() => made.forEach((r) => r.destroy()));
  return (port) => {
    const r = new RawRtsp(port);
    made.push(r);
    return r;
  };
}
