import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Announcer, AnnounceError, loadChime, twoToneChime } from '../../lib/announce';
import { encodeWav } from '../../lib/pcm';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnnouncementEvent, SpeechEngine, SpeechOptions, SpeechResult } from '../../lib/announce';

/**
 * An engine for the queue logic: each text becomes a tone whose length follows the text
 * (100 ms per character) and whose level is a constant, at 16 kHz, so the announcer's
 * resampling, gain and framing are exercised. The real engines are tested in engines.test.ts.
 */
class ToneEngine implements SpeechEngine {
  readonly name = 'tone';
  calls: string[] = [];
  failOn = new Set<string>();
  async voices() {
    return [{ name: 'tone', label: 'Tone', languages: [] }];
  }
  async hasVoice(v: string) {
    return v === 'tone';
  }
  async synthesize(text: string, _opts: SpeechOptions): Promise<SpeechResult> {
    this.calls.push(text);
    await new Promise((r) => setTimeout(r, 5));
    if (this.failOn.has(text)) throw new Error(`cannot say ${text}`);
    const n = 1600 * text.length;
    const pcm = Buffer.alloc(n * 2);
    for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), i * 2);
    return { pcm, rate: 16000 };
  }
  async close() {}
}

const RATE = 48000;
const FRAME = 960 * 2;

function setup(extra: Partial<ConstructorParameters<typeof Announcer>[0]> = {}) {
  const engine = new ToneEngine();
  const a = new Announcer({ engine, rate: RATE, frameMs: 20, maxQueue: 3, ...extra });
  const events: AnnouncementEvent[] = [];
  a.on('event', (e: AnnouncementEvent) => events.push(e));
  return { a, engine, events };
}

/** Plays `frames` frames, returning how many carried audio and the frames themselves. */
function play(a: Announcer, frames: number): Array<Buffer | undefined> {
  const out: Array<Buffer | undefined> = [];
  for (let i = 0; i < frames; i++) {
    const f = a.nextFrame();
    if (f) assert.equal(f.length, FRAME, 'every frame is exactly 20 ms');
    out.push(f);
  }
  return out;
}

test('announcer: silence when idle; an announcement plays in whole frames with started/finished events', async () => {
  const { a, events } = setup();
  assert.equal(a.nextFrame(), undefined);
  const { id, ready } = a.announce({ text: 'abcd', id: 'A012' });
  assert.equal(id, 'A012');
  const r = await ready;
  assert.equal(r.state, 'ready');
  assert.equal(r.durationMs, 400);
  const frames = play(a, 25);
  assert.equal(frames.filter(Boolean).length, 20); // 400 ms
  assert.ok(frames.slice(0, 20).every(Boolean) && frames.slice(20).every((f) => f === undefined));
  assert.deepEqual(
    events.map((e) => e.event),
    ['queued', 'started', 'finished'],
  );
  const started = events[1];
  assert.equal(started.id, 'A012');
  assert.equal(started.text, 'abcd');
  assert.equal(started.durationMs, 400);
  assert.ok(typeof started.renderMs === 'number' && typeof started.waitedMs === 'number');
  assert.equal(events[2].playedMs, 400);
});

test('announcer: priority ordering, arrival order among equals', async () => {
  const { a, events } = setup({ maxQueue: 10 });
  await a.announce({ text: 'first', id: 'first' }).ready;
  play(a, 1); // first is on air
  const r = [
    a.announce({ text: 'low', id: 'low', priority: -1 }),
    a.announce({ text: 'n1', id: 'n1' }),
    a.announce({ text: 'high', id: 'high', priority: 5 }),
    a.announce({ text: 'n2', id: 'n2' }),
  ];
  await Promise.all(r.map((x) => x.ready));
  play(a, 400);
  assert.deepEqual(
    events.filter((e) => e.event === 'started').map((e) => e.id),
    ['first', 'high', 'n1', 'n2', 'low'],
  );
  // the queued event says where it went
  assert.equal(events.find((e) => e.event === 'queued' && e.id === 'high')!.position, 0);
});

test('announcer: a full queue refuses with a clear error; interrupt cuts and clears', async () => {
  const { a, events } = setup({ maxQueue: 2 });
  await a.announce({ text: 'playing', id: 'p' }).ready;
  play(a, 3);
  a.announce({ text: 'q1', id: 'q1' });
  a.announce({ text: 'q2', id: 'q2' });
  assert.throws(
    () => a.announce({ text: 'q3', id: 'q3' }),
    (e: unknown) => e instanceof AnnounceError && e.code === 'announce.queueFull' && /queue is full \(2 waiting\): "q3" was not accepted/.test(e.message),
  );
  const urgent = a.announce({ text: 'urgent', id: 'u', interrupt: true });
  const dropped = events.filter((e) => e.event === 'dropped');
  assert.deepEqual(dropped.map((e) => [e.id, e.reason]), [
    ['p', 'interrupted'],
    ['q1', 'interrupted'],
    ['q2', 'interrupted'],
  ]);
  assert.equal(dropped[0].playedMs, 60);
  await urgent.ready;
  const f = a.nextFrame();
  assert.ok(f, 'the interrupting announcement starts at the next frame');
  assert.equal(a.playing!.id, 'u');
});

test('announcer: chime, repeat and gap make up the announcement; volume scales it', async () => {
  const chime = twoToneChime(RATE);
  const { a } = setup({ chime });
  const r = await a.announce({ text: 'ab', repeat: 3, gapMs: 500 }).ready;
  // chime 850 ms + 3 x 200 ms + 2 x 500 ms
  assert.equal(r.durationMs, Math.round((chime.length / 2 / RATE) * 1000) + 600 + 1000);
  const noChime = await a.announce({ text: 'ab', chime: false }).ready;
  assert.equal(noChime.durationMs, 200);

  const { a: b } = setup();
  await b.announce({ text: 'ab', volume: 50 }).ready;
  const half = Buffer.concat(play(b, 10).filter(Boolean) as Buffer[]);
  await b.announce({ text: 'ab' }).ready;
  const full = Buffer.concat(play(b, 10).filter(Boolean) as Buffer[]);
  const peak = (x: Buffer) => Math.max(...Array.from({ length: x.length / 2 }, (_, i) => Math.abs(x.readInt16LE(i * 2))));
  assert.ok(Math.abs(peak(half) / peak(full) - 0.5) < 0.02, `${peak(half)} vs ${peak(full)}`);
});

test('announcer: bad input is refused up front; engine failure and unknown voice reject with an error event', async () => {
  const { a, engine, events } = setup({ maxChars: 10 });
  assert.throws(() => a.announce({ text: '' }), /nothing to say/);
  assert.throws(() => a.announce({ text: '请 A012 号到 3 号窗口' }), /the text has 15 characters, more than the 10 allowed/);
  assert.throws(() => a.announce({ text: 'x', repeat: 0 }), /repeat 0 is not valid: expected a whole number from 1 to 10/);
  assert.throws(() => a.announce({ text: 'x', priority: 'high' as unknown as number }), /priority "high" is not valid/);
  await assert.rejects(a.announce({ text: 'x', voice: 'nosuch' }).ready, /has no voice "nosuch"/);
  engine.failOn.add('boom');
  await assert.rejects(a.announce({ text: 'boom', id: 'b' }).ready, /cannot say boom/);
  const errs = events.filter((e) => e.event === 'error');
  assert.deepEqual(errs.map((e) => e.code), ['announce.unknownVoice', undefined]);
  assert.equal(errs[1].id, 'b');
  // still working, and the failed ones are not in the queue
  assert.equal(a.queued, 0);
  await a.announce({ text: 'ok', voice: 'tone' }).ready;
  assert.ok(a.nextFrame());
});

test('announcer: audio (PCM) is played as is, resampled to the stream rate and mixed to mono (the average of the channels)', async () => {
  const { a } = setup();
  // 3 × 250 ms of stereo at 8 kHz, a 400 Hz tone of amplitude 8000 (RMS 5657):
  // L = tone, R = −tone → mono is silence; L = R = tone → the tone itself; L = tone, R = 0 → half
  // of it. A mix that keeps one channel, sums without halving, or drops the audio fails.
  const section = 2000;
  const stereo = Buffer.alloc(3 * section * 4);
  for (let i = 0; i < 3 * section; i++) {
    const v = Math.round(8000 * Math.sin((2 * Math.PI * 400 * i) / 8000));
    const part = Math.floor(i / section);
    stereo.writeInt16LE(v, i * 4);
    stereo.writeInt16LE(part === 0 ? -v : part === 1 ? v : 0, i * 4 + 2);
  }
  const r = await a.announce({ audio: { pcm: stereo, rate: 8000, channels: 2 }, id: 'wav' }).ready;
  assert.equal(r.durationMs, 750);
  const frames = play(a, 40);
  const mono = Buffer.concat(frames.filter((f): f is Buffer => f !== undefined));
  assert.equal(mono.length, 38 * FRAME, '750 ms in whole 20 ms frames');
  // RMS of each section at 48 kHz, 30 ms away from its edges (the resampler's filter spans them)
  const rms = (fromMs: number, toMs: number) => {
    let sum = 0;
    const [a0, a1] = [(fromMs * RATE) / 1000, (toMs * RATE) / 1000];
    for (let i = a0; i < a1; i++) sum += mono.readInt16LE(i * 2) ** 2;
    return Math.sqrt(sum / (a1 - a0));
  };
  const [opposite, same, leftOnly] = [rms(30, 220), rms(280, 470), rms(530, 720)];
  assert.ok(opposite < 60, `L = tone, R = −tone mixes to silence (RMS ${opposite.toFixed(0)})`);
  assert.ok(Math.abs(same - 5657) < 300, `L = R = tone mixes to the tone (RMS ${same.toFixed(0)}, expected 5657)`);
  assert.ok(Math.abs(leftOnly - 2828) < 150, `L = tone, R = 0 mixes to half the tone (RMS ${leftOnly.toFixed(0)}, expected 2828)`);
});

test('announcer: hold (output down) puts the one on air back first and starts nothing; release replays it', async () => {
  const { a, events } = setup();
  await a.announce({ text: 'abc', id: 'one' }).ready;
  await a.announce({ text: 'abc', id: 'two' }).ready;
  play(a, 5);
  a.hold(true);
  assert.deepEqual(play(a, 30).filter(Boolean), []);
  a.hold(false);
  play(a, 40);
  assert.deepEqual(
    events.filter((e) => e.event === 'started' || e.event === 'finished').map((e) => `${e.event}:${e.id}`),
    ['started:one', 'started:one', 'finished:one', 'started:two', 'finished:two'],
  );
});

test('announcer: close drops everything waiting and refuses more', async () => {
  const { a, events } = setup();
  const r = a.announce({ text: 'abc', id: 'x' });
  a.close();
  assert.deepEqual((await r.ready).state, 'dropped');
  assert.equal(events.at(-1)!.reason, 'closed');
  assert.throws(() => a.announce({ text: 'y' }), /closed/);
});

test('chime: the built-in two-tone, or a WAV file (any rate/channels, made mono at the stream rate); a bad file is a clear error', () => {
  const builtin = loadChime({ chime: 'builtin' }, 48000)!;
  assert.equal(builtin.length / 2, 0.85 * 48000);
  assert.equal(loadChime({ chime: 'none' }, 48000), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'chime-'));
  try {
    const file = join(dir, 'ding.wav');
    writeFileSync(file, encodeWav(Buffer.alloc(16000 * 4 / 2), { rate: 16000, channels: 2 })); // 0.5 s stereo
    const c = loadChime({ chime: 'file', chimeFile: file }, 8000)!;
    assert.equal(c.length / 2, 4000);
    assert.throws(() => loadChime({ chime: 'file', chimeFile: join(dir, 'missing.wav') }, 8000), /the chime file ".*missing.wav" cannot be used: ENOENT/);
    writeFileSync(join(dir, 'bad.wav'), 'not audio');
    assert.throws(() => loadChime({ chime: 'file', chimeFile: join(dir, 'bad.wav') }, 8000), /cannot be used: payload looks like|cannot be used/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('announcer: an announcement waits for what is made alongside it (its board), and starts anyway once alongsideMaxMs has passed', async () => {
  const { a } = setup({ alongsideMaxMs: 300 });
  let drawn!: () => void;
  const board = new Promise<void>((r) => (drawn = r));
  const ids: string[] = [];
  const one = a.announce({ text: 'ab', voice: 'tone' }, (id) => (ids.push(id), board));
  assert.deepEqual(ids, [one.id], 'called with the id once accepted');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(a.nextFrame(), undefined, 'the speech is made, but its board is not drawn: silence');
  drawn();
  await one.ready;
  assert.ok(a.nextFrame(), 'drawn: it starts');
  a.interrupt();
  // a drawing that never ends holds the announcement no longer than alongsideMaxMs
  const t0 = Date.now();
  const two = a.announce({ text: 'cd', voice: 'tone' }, () => new Promise<void>(() => undefined));
  assert.equal((await two.ready).state, 'ready');
  assert.ok(Date.now() - t0 >= 250, `ready after ${Date.now() - t0} ms`);
  assert.ok(a.nextFrame());
});
