/**
 * Rate conversion of whole announcements through the project's resampler (lib/resample:
 * polyphase windowed-sinc FIR in wasm), mono to mono. A sentence takes 10–20 ms to convert in one
 * go, which would hold up the real-time pacer on the same thread by as much: the async form
 * converts 50 ms of audio per step and lets the event loop (the pacer's timer) run in between.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Resampler, resampleAll } from '../resample';

export function resampleMono(pcm: Buffer, fromRate: number, toRate: number): Buffer {
  return resampleAll(pcm, { rate: fromRate, channels: 1 }, { rate: toRate, channels: 1 });
}

/**
 * Resamplers kept for the next announcement, one per rate pair. Making one designs its filters
 * and instantiates the wasm kernel: 2–8 ms of main-thread work in one piece (35 ms the first
 * time), which held up the pacer's frames at the start of every announcement (bench/announce).
 * flush() returns a resampler to its initial state, so a kept one converts the next
 * announcement exactly as a new one would. Taken while in use: concurrent conversions never share.
 */
const kept = new Map<string, Resampler>();
/** rate pairs kept at most (an engine's rate, a few WAV rates): the oldest goes first */
const MAX_KEPT = 6;

function take(fromRate: number, toRate: number): Resampler {
  const key = `${fromRate}>${toRate}`;
  const r = kept.get(key);
  if (r) {
    kept.delete(key);
    return r;
  }
  return new Resampler({ inRate: fromRate, inChannels: 1, outRate: toRate, outChannels: 1 });
}

function keep(fromRate: number, toRate: number, r: Resampler): void {
  const key = `${fromRate}>${toRate}`;
  if (kept.has(key)) return;
  if (kept.size >= MAX_KEPT) kept.delete(kept.keys().next().value as string);
  kept.set(key, r);
}

/** Forgets the kept resamplers (the next conversion makes a new one): tests and bench/announce. */
export function dropKeptResamplers(): void {
  kept.clear();
}

export async function resampleMonoAsync(pcm: Buffer, fromRate: number, toRate: number): Promise<Buffer> {
  if (fromRate === toRate) return pcm;
  const r = take(fromRate, toRate);
  const step = Math.max(2, Math.round(fromRate / 20) * 2);
  const out: Buffer[] = [];
  for (let off = 0; off < pcm.length; off += step) {
    out.push(Buffer.from(r.process(pcm.subarray(off, off + step))));
    await yieldToLoop();
  }
  out.push(r.flush()); // also resets it: ready for the next announcement
  keep(fromRate, toRate, r);
  return Buffer.concat(out);
}
