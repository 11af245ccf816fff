import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { AnnouncementStream, Pacer, PriorityQueue } from '../../lib/announce';
import type { Clock, FrameOutput, SpeechEngine } from '../../lib/announce';
import { dropKeptResamplers, resampleMono, resampleMonoAsync } from '../../lib/announce/resample';

/** A clock the test drives: timers fire when time is advanced, each `late` ms after their due time. */
class FakeClock implements Clock {
  t = 1000;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private ids = 0;
  constructor(private readonly late: () => number = () => 0) {}
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms + this.late(), fn, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  /** moves time to `until`, firing due timers in order */
  runUntil(until: number): void {
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = until;
  }
  /** the event loop is blocked for `ms`: time passes, nothing fires */
  stall(ms: number): void {
    this.t += ms;
  }
}

test('pacer: frames follow the absolute schedule, timer lateness does not accumulate', () => {
  // every timer fires 0..3 ms late (a loaded machine)
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 3;
  const clock = new FakeClock(rnd);
  const sent: Array<{ n: number; at: number; due: number }> = [];
  const pacer = new Pacer({ frameMs: 20, clock, onFrame: (n, due) => sent.push({ n, at: clock.now(), due }) });
  const t0 = clock.now();
  pacer.begin();
  clock.runUntil(t0 + 60_000); // one minute
  pacer.stop();
  // one frame per 20 ms over the minute: no frame lost or added by lateness (a relative
  // `setTimeout(20)` chain would have fallen ~1.5 ms behind per frame, i.e. ~4500 ms)
  assert.ok(sent.length >= 3000 && sent.length <= 3001, `got ${sent.length} frames`);
  sent.forEach((f, i) => {
    assert.equal(f.n, i);
    assert.equal(f.due, t0 + i * 20);
    // never more than the timer's lateness (+1 ms rounding) behind, never more than 1 ms early
    assert.ok(f.at - f.due <= 4.01 && f.at - f.due >= -1.01, `frame ${i} sent ${f.at - f.due} ms off schedule`);
  });
});

test('pacer: a stalled event loop is caught up back to back; a long stall re-anchors the schedule', () => {
  const clock = new FakeClock();
  const sent: number[] = [];
  const resyncs: unknown[] = [];
  const pacer = new Pacer({ frameMs: 20, clock, onFrame: (n) => sent.push(n), maxCatchUpMs: 1000 });
  pacer.on('resync', (r) => resyncs.push(r));
  const t0 = clock.now();
  pacer.begin();
  clock.runUntil(t0 + 100);
  const before = sent.length;
  clock.stall(300); // 300 ms blocked
  clock.runUntil(clock.now() + 1);
  // the 15 frames that fell due during the stall went out at once, numbered continuously
  assert.ok(sent.length - before >= 15, `caught up ${sent.length - before} frames`);
  assert.deepEqual(sent, sent.map((_, i) => i));
  assert.equal(resyncs.length, 0);
  clock.stall(5000); // the machine was suspended
  clock.runUntil(clock.now() + 1);
  assert.equal(resyncs.length, 1);
  assert.ok(pacer.skipped >= 240, `skipped ${pacer.skipped}`);
  const n = sent.length;
  clock.runUntil(clock.now() + 200);
  // back to one frame per 20 ms
  assert.ok(sent.length - n >= 9 && sent.length - n <= 11, `${sent.length - n} frames in 200 ms after resync`);
  pacer.stop();
});

test('pacer: stop() ends the timers, a throwing consumer does not stop the clock', () => {
  const clock = new FakeClock();
  let calls = 0;
  const errors: unknown[] = [];
  const pacer = new Pacer({
    frameMs: 20,
    clock,
    onFrame: () => {
      calls++;
      if (calls === 3) throw new Error('boom');
    },
  });
  pacer.on('error', (e) => errors.push(e));
  pacer.begin();
  clock.runUntil(clock.now() + 200);
  assert.ok(calls >= 10);
  assert.equal(errors.length, 1);
  pacer.stop();
  const c = calls;
  clock.runUntil(clock.now() + 200);
  assert.equal(calls, c);
  assert.equal(pacer.isRunning, false);
});

test('pacer on the real clock: frames at 20 ms, no cumulative drift over 1 s (bounded, loose)', async () => {
  const times: number[] = [];
  const pacer = new Pacer({ frameMs: 20, onFrame: () => times.push(performance.now()) });
  const t0 = performance.now();
  pacer.begin();
  await new Promise((r) => setTimeout(r, 1010));
  pacer.stop();
  // behaviour, not speed: the count matches elapsed time (+/- catch-up), whatever the load
  const elapsed = times[times.length - 1] - t0;
  assert.ok(Math.abs(times.length - 1 - elapsed / 20) <= 2, `${times.length} frames over ${elapsed} ms`);
});

test('queue: higher priority first, arrival order among equals, restore keeps the place', () => {
  const q = new PriorityQueue<{ name: string; priority: number; seq: number }>();
  q.push({ name: 'a', priority: 0 });
  q.push({ name: 'b', priority: 5 });
  q.push({ name: 'c', priority: 0 });
  assert.equal(q.push({ name: 'd', priority: 5 }), 1);
  q.push({ name: 'e', priority: -1 });
  assert.deepEqual(q.toArray().map((x) => x.name), ['b', 'd', 'a', 'c', 'e']);
  const b = q.shift()!;
  q.push({ name: 'f', priority: 5 });
  q.restore(b);
  assert.deepEqual(q.toArray().map((x) => x.name), ['b', 'd', 'f', 'a', 'c', 'e']);
  assert.equal(q.remove(q.find((x) => x.name === 'a')!), true);
  assert.deepEqual(q.clear().map((x) => x.name), ['b', 'd', 'f', 'c', 'e']);
  assert.equal(q.length, 0);
});

test('pacer: a call that produced several frames (produced(k)) moves the clock past them: one wake-up per packet', () => {
  const clock = new FakeClock();
  const sent: Array<{ n: number; at: number; due: number }> = [];
  let wakeUps = 0;
  const setT = clock.setTimeout.bind(clock);
  clock.setTimeout = (fn, ms) => setT(() => (wakeUps++, fn()), ms);
  const pacer: Pacer = new Pacer({
    frameMs: 20,
    clock,
    onFrame: (n, due) => {
      sent.push({ n, at: clock.now(), due });
      pacer.produced(n < 60 ? 6 : 1); // 120 ms packets, then single frames
    },
  });
  const t0 = clock.now();
  pacer.begin();
  clock.runUntil(t0 + 2390); // frames 0..119
  pacer.stop();
  assert.deepEqual(
    sent.map((f) => f.n),
    [...Array.from({ length: 10 }, (_, i) => i * 6), ...Array.from({ length: 60 }, (_, i) => 60 + i)],
  );
  sent.forEach((f) => assert.equal(f.due, t0 + f.n * 20));
  assert.ok(wakeUps <= 10 + 60, `${wakeUps} wake-ups`);
});

/** What the stream wrote to its output, as the output would put it on the wire. */
class RecordingOutput extends EventEmitter implements FrameOutput {
  readonly state = 'listening';
  packets: Array<{ frames: number; silent: boolean; at: number }> = [];
  constructor(private readonly clock: FakeClock) {
    super();
  }
  async start() {}
  writeFrame(pcm: Buffer): void {
    this.packets.push({ frames: 1, silent: !pcm.some((b) => b !== 0), at: this.clock.now() });
  }
  writeSilence(maxFrames: number): number {
    this.packets.push({ frames: maxFrames, silent: true, at: this.clock.now() });
    return maxFrames;
  }
  async close() {}
}

/** An engine for streams fed PCM only: nothing is ever rendered. */
const noSpeech: SpeechEngine = {
  name: 'none',
  voices: async () => [],
  hasVoice: async () => false,
  synthesize: async () => {
    throw new Error('not used');
  },
  close: async () => {},
};

test('stream: between announcements silence goes out 6 frames per packet (120 ms); once something is queued, a packet per frame', async () => {
  const clock = new FakeClock();
  const out = new RecordingOutput(clock);
  const stream = new AnnouncementStream({ output: out, engine: noSpeech, rate: 48000, clock, now: () => clock.now() });
  await stream.start();
  const t0 = clock.now();
  clock.runUntil(t0 + 1000);
  // 1 s of silence in 120 ms packets, each covering the frames up to the next one (no gap)
  assert.ok(out.packets.length >= 8 && out.packets.length <= 9, `${out.packets.length} packets`);
  out.packets.forEach((p, i) => {
    assert.equal(p.frames, 6);
    assert.equal(p.at, t0 + i * 120);
  });
  // PCM in (no rendering): it starts at the end of the packet on air, then every frame is sent
  const tone = Buffer.alloc(48000 * 2 * 0.2);
  for (let i = 0; i < tone.length / 2; i++) tone.writeInt16LE(8000, i * 2);
  const asked = clock.now();
  const { ready } = stream.announce({ audio: { pcm: tone, rate: 48000, channels: 1 } });
  await ready;
  const n = out.packets.length;
  clock.runUntil(clock.now() + 600);
  const after = out.packets.slice(n);
  const firstLoud = after.findIndex((p) => !p.silent);
  assert.ok(firstLoud >= 0, 'the announcement went out');
  // (at most the 5 frames left of the 120 ms packet on air)
  assert.ok(after[firstLoud].at - asked <= 100, `on air ${after[firstLoud].at - asked} ms after it was asked for`);
  assert.equal(after.slice(firstLoud, firstLoud + 10).filter((p) => !p.silent).length, 10, '200 ms of it, frame by frame');
  // the frame clock never skipped or doubled a frame: packets tile the timeline
  let frame = 0;
  for (const p of out.packets) {
    assert.equal(p.at, t0 + frame * 20);
    frame += p.frames;
  }
  // and back to 120 ms packets once the queue is empty again
  assert.equal(out.packets[out.packets.length - 1].frames, 6);
  await stream.close();
});

test('stream: started/finished reach listeners after the frame went to the output, in order', async () => {
  const clock = new FakeClock();
  const out = new RecordingOutput(clock);
  const stream = new AnnouncementStream({ output: out, engine: noSpeech, rate: 48000, clock, now: () => clock.now(), idleFrames: 1 });
  const seen: string[] = [];
  stream.on('event', (e: { event: string }) => {
    // what a listener sees: the loud frames written so far
    seen.push(`${e.event}@${out.packets.filter((p) => !p.silent).length}`);
  });
  await stream.start();
  const tone = Buffer.alloc(48000 * 2 * 0.06, 0x20); // 3 frames
  await stream.announce({ audio: { pcm: tone, rate: 48000, channels: 1 } }).ready;
  clock.runUntil(clock.now() + 200);
  assert.deepEqual(seen, ['queued@0', 'started@1', 'finished@3']);
  await stream.close();
});

test('resampling: a kept resampler converts the next announcement exactly as a new one', async () => {
  const pcm = Buffer.alloc(22050 * 2 * 0.3);
  for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(9000 * Math.sin(i / 7) + 3000 * Math.sin(i / 3.1)), i * 2);
  dropKeptResamplers();
  const fresh = await resampleMonoAsync(pcm, 22050, 48000); // made, then kept
  const other = await resampleMonoAsync(pcm.subarray(0, 5000), 22050, 48000); // the kept one, reset after
  const again = await resampleMonoAsync(pcm, 22050, 48000); // the kept one again
  assert.equal(fresh.length, Math.ceil((pcm.length / 2) * 48000 / 22050) * 2);
  assert.equal(other.length, Math.ceil(2500 * 48000 / 22050) * 2);
  assert.ok(again.equals(fresh), 'same samples from a kept resampler');
  assert.ok(fresh.equals(resampleMono(pcm, 22050, 48000)), 'and the same as the one-go conversion');
  // two conversions at once never share one
  const [a, b] = await Promise.all([resampleMonoAsync(pcm, 22050, 48000), resampleMonoAsync(pcm, 22050, 48000)]);
  assert.ok(a.equals(fresh) && b.equals(fresh));
});
