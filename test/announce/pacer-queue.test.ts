import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer, PriorityQueue } from '../../lib/announce';
import type { Clock } from '../../lib/announce';

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
