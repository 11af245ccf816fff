import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedQueue, FrameBuilder, WsSender, fillTemplate, redactUrl } from '../../lib/ws';
import { wavHeader } from '../../lib/pcm';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const fmt = { rate: 16000, channels: 1 };

test('default frame is the seed shape, byte for byte', () => {
  const pcm = Buffer.from([1, 2, 3, 4, 250, 251]);
  const f = new FrameBuilder().chunk(pcm, fmt, { stmId: 's1', traceId: 't1', timestampMs: 1700000000123 });
  assert.equal(f, `{"traceId":"t1","stmId":"s1","timestamp":1700000000.123,"data":"${pcm.toString('base64')}"}`);
  assert.deepEqual(Object.keys(JSON.parse(f as string)), ['traceId', 'stmId', 'timestamp', 'data']);
});

test('field names, left-out fields, extras (static and from the message), escaping', () => {
  const fb = new FrameBuilder({
    fields: { traceId: '', stmId: 'session_id', data: 'audio' },
    extra: [
      { name: 'format', value: 'pcm' },
      { name: 'lang', fromMsg: 'asr.lang' },
      { name: 'missing', fromMsg: 'nope.x' },
    ],
  });
  const f = fb.chunk(Buffer.from([0, 0]), fmt, { stmId: 'a"b', traceId: 't', timestampMs: 1000, msg: { asr: { lang: 'zh-CN' } } });
  assert.equal(f, '{"session_id":"a\\"b","timestamp":1,"audio":"AAA=","format":"pcm","lang":"zh-CN"}');
});

test('WAV header per chunk and binary frames', () => {
  const pcm = Buffer.alloc(640, 7);
  const json = new FrameBuilder({ wavHeader: true }).chunk(pcm, fmt, { stmId: 's', traceId: '', timestampMs: 0 }) as string;
  const data = Buffer.from(JSON.parse(json).data, 'base64');
  assert.deepEqual(data, Buffer.concat([wavHeader(fmt, 640), pcm]));
  const bin = new FrameBuilder({ mode: 'binary' }).chunk(pcm, fmt, { stmId: 's', traceId: '', timestampMs: 0 });
  assert.ok(Buffer.isBuffer(bin));
  assert.deepEqual(bin, pcm);
  const binWav = new FrameBuilder({ mode: 'binary', wavHeader: true }).chunk(pcm, fmt, { stmId: 's', traceId: '', timestampMs: 0 }) as Buffer;
  assert.equal(binWav.length, 684);
  assert.equal(binWav.toString('latin1', 0, 4), 'RIFF');
});

test('end-of-stream frame template keeps types and fills placeholders', () => {
  const fb = new FrameBuilder({ endFrame: '{"stmId":"{{stmId}}","end":true,"at":"{{timestamp}}","note":"bye {{traceId}}"}' });
  assert.equal(fb.end({ stmId: 'x', traceId: 'T', timestampMs: 2500 }), '{"stmId":"x","end":true,"at":2.5,"note":"bye T"}');
  assert.equal(new FrameBuilder().end({ stmId: 'x', traceId: '', timestampMs: 0 }), undefined);
  assert.throws(() => new FrameBuilder({ endFrame: '{nope' }), { code: 'ws.badEndFrame' });
});

test('URL templates encode values; redaction hides secrets', () => {
  assert.equal(fillTemplate('ws://h/asr?sid={{stmId}}&t={{traceId}}', { stmId: 'a b/c', traceId: undefined }, encodeURIComponent), 'ws://h/asr?sid=a%20b%2Fc&t=');
  assert.equal(redactUrl('wss://u:p@h/x?token=abc&sid=1'), 'wss://***:***@h/x?token=***&sid=1');
});

test('bounded queue: drop-oldest keeps the newest audio and never drops control frames', () => {
  const q = new BoundedQueue(1000, 'drop-oldest');
  for (let i = 0; i < 5; i++) assert.equal(q.push({ data: `a${i}`, key: 'k', ms: 200 }).accepted, true);
  assert.equal(q.push({ data: 'end', key: 'k', ms: 0 }).accepted, true);
  const r = q.push({ data: 'a5', key: 'k', ms: 200 });
  assert.equal(r.accepted, true);
  assert.deepEqual(r.dropped.map((d) => d.data), ['a0']);
  assert.equal(q.ms, 1000);
  assert.deepEqual(q.drain().map((d) => d.data), ['a1', 'a2', 'a3', 'a4', 'end', 'a5']);
});

test('bounded queue: drop-newest and stop-stream reject the new chunk; unshift restores order', () => {
  for (const policy of ['drop-newest', 'stop-stream'] as const) {
    const q = new BoundedQueue(400, policy);
    q.push({ data: 'a', key: 'k', ms: 200 });
    q.push({ data: 'b', key: 'k', ms: 200 });
    const r = q.push({ data: 'c', key: 'k', ms: 200 });
    assert.equal(r.accepted, false);
    assert.deepEqual(r.dropped.map((d) => d.data), ['c']);
    const a = q.shift()!;
    q.unshift([a]);
    assert.deepEqual(q.drain().map((d) => d.data), ['a', 'b']);
  }
  assert.throws(() => new BoundedQueue(0, 'drop-oldest'), RangeError);
});

test('bounded queue: an item that left is no longer held (frames would otherwise live until a compaction)', async () => {
  // a real collection, not a look at the internals: a frame shifted out must be garbage once
  // its sender lets go of it, whether the queue then is empty or still holds others
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const q = new BoundedQueue(60_000, 'drop-oldest');
  // frames made, queued and sent in functions of their own: this async test's own frame keeps no
  // reference to any of them (a WeakRef's target is kept until the job ends: collect after a turn)
  const collected = async (refs: Array<WeakRef<Buffer>>) => {
    await new Promise((r) => setImmediate(r));
    gc();
    return refs.map((r) => r.deref() === undefined);
  };
  const refs = ((): Array<WeakRef<Buffer>> => {
    const made = [0, 1, 2].map((i) => Buffer.alloc(8600, i));
    for (const data of made) q.push({ data, key: 'k', ms: 200 });
    q.shift();
    return made.map((b) => new WeakRef(b));
  })();
  assert.deepEqual(await collected(refs), [true, false, false], 'the sent frame is garbage while two are still queued');
  (() => {
    q.shift();
    q.shift(); // empty now
  })();
  q.push({ data: 'next', key: 'k', ms: 200 });
  assert.deepEqual(await collected(refs), [true, true, true], 'and so are the others once sent');
  assert.equal(q.length, 1);
  assert.equal(q.shift()!.data, 'next');
});

test('an unknown queue policy is a coded configuration error, at once (even for per-stream connections)', () => {
  assert.throws(() => new BoundedQueue(400, 'drop-everything' as never), { code: 'ws.badPolicy' });
  assert.throws(() => new WsSender({ target: { url: 'ws://127.0.0.1:9/{{stmId}}', mode: 'per-stream', policy: 'keep' as never } }), { code: 'ws.badPolicy' });
});
