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

export async function resampleMonoAsync(pcm: Buffer, fromRate: number, toRate: number): Promise<Buffer> {
  if (fromRate === toRate) return pcm;
  const r = new Resampler({ inRate: fromRate, inChannels: 1, outRate: toRate, outChannels: 1 });
  const step = Math.max(2, Math.round(fromRate / 20) * 2);
  const out: Buffer[] = [];
  for (let off = 0; off < pcm.length; off += step) {
    out.push(Buffer.from(r.process(pcm.subarray(off, off + step))));
    await yieldToLoop();
  }
  out.push(r.flush());
  return Buffer.concat(out);
}
