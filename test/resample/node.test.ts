import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'path';
import fs from 'fs';
import { encodeWav, formatFields, wavHeader } from '../../lib/pcm';
import { Resampler } from '../../lib/resample';
import { type NodeModule, collect, collectErrors, getNode, load, startServer, stopServer, unload, until } from '../support/node-red';
import { noise } from './signals';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const resampleNode: NodeModule = require('../../nodes/resample/resample');

// The test helper's RED._ returns keys; translate with the built en-US catalog instead, so the
// status and error texts a user sees are what is checked.
const catalog = JSON.parse(fs.readFileSync(path.join(__dirname, '../../nodes/resample/locales/en-US/resample.json'), 'utf8'));
function translate(key: string, params: Record<string, unknown> = {}): string {
  const lookup = (k: string) => k.split('.').reduce<unknown>((o, p) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[p] : undefined), catalog);
  // i18next's plural keys (English: _one for 1, _other otherwise)
  const v = typeof params.count === 'number' ? (lookup(`${key}_${params.count === 1 ? 'one' : 'other'}`) ?? lookup(key)) : lookup(key);
  return typeof v === 'string' ? v.replace(/__(\w+)__/g, (_m, p: string) => String(params[p])) : key;
}
const translated: NodeModule = (red) => {
  const r = Object.create(red as object) as { _: typeof translate };
  r._ = translate;
  resampleNode(r);
};

function flow(extra: Record<string, unknown> = {}): unknown[] {
  return [
    { id: 'rs', type: 'resample', name: '', outRate: 16000, outChannels: '1', mix: 'average', quality: 'standard', idleTimeout: 60, wires: [['out']], ...extra },
    { id: 'out', type: 'helper' },
  ];
}

const stereo48 = formatFields({ rate: 48000, channels: 2 });

function expected(input: Buffer): Buffer {
  const r = new Resampler({ inRate: 48000, inChannels: 2, outRate: 16000, outChannels: 1 });
  return Buffer.concat([r.process(input), r.flush()]);
}

before(startServer);
after(stopServer);
afterEach(unload);

test('input already in the target format passes through: the same message, payload not copied', async () => {
  await load(translated, flow());
  const got = collect('out');
  const payload = noise(320, 1, 1);
  const msg = { payload, ...formatFields({ rate: 16000, channels: 1 }), stmId: 's1', extra: { a: 1 } };
  getNode('rs').receive(msg);
  await until(() => got.length === 1, 5000, 'pass-through message');
  assert.equal(got[0].payload, payload);
  assert.deepEqual(got[0].extra, { a: 1 });
});

test('output keeps every other field and carries the new format fields', async () => {
  await load(translated, flow());
  const got = collect('out');
  getNode('rs').receive({ payload: noise(960, 2, 2), ...stereo48, stmId: 'call-7', traceId: 'tr-1', topic: 'desk 3', seq: 5, custom: { lang: 'zh' } });
  await until(() => got.length === 1, 5000, 'output');
  const m = got[0];
  assert.equal(m.stmId, 'call-7');
  assert.equal(m.traceId, 'tr-1');
  assert.equal(m.topic, 'desk 3');
  assert.equal(m.seq, 5);
  assert.deepEqual(m.custom, { lang: 'zh' });
  assert.deepEqual({ rate: m.rate, channels: m.channels, bits: m.bits, encoding: m.encoding, endianness: m.endianness }, formatFields({ rate: 16000, channels: 1 }));
  assert.ok(Buffer.isBuffer(m.payload) && m.payload.length > 0 && m.payload.length % 2 === 0);
});

test('bad input is reported (Catch sees it), the node keeps running and the stream is not disturbed', async () => {
  await load(translated, flow());
  const got = collect('out');
  const errors = collectErrors('rs');
  const input = noise(4800, 2, 3);
  const n = getNode('rs');
  const chunks = [input.subarray(0, 7680), input.subarray(7680)];
  n.receive({ payload: chunks[0], ...stereo48, stmId: 'a' });
  n.receive({ payload: 'not audio', ...stereo48, stmId: 'a' });
  n.receive({ payload: Buffer.alloc(7), ...stereo48, stmId: 'a' });
  n.receive({ payload: Buffer.alloc(8), ...stereo48, rate: 0, stmId: 'a' });
  n.receive({ payload: Buffer.alloc(18), ...stereo48, channels: 9, stmId: 'a' });
  n.receive({ payload: Buffer.alloc(8), channels: 2, stmId: 'a' });
  n.receive({ payload: chunks[1], ...stereo48, stmId: 'a', complete: true });
  await until(() => got.length === 2 && errors.length === 5, 5000, 'two outputs and five errors');
  assert.match(errors[0], /payload is string, not a Buffer/);
  assert.match(errors[1], /payload has 7 bytes, not a whole number of 2-channel 16-bit frames \(4 bytes each\)/);
  assert.match(errors[2], /rate 0: expected a whole number of Hz from 8000 to 192000/);
  assert.match(errors[3], /channels 9: expected a whole number from 1 to 8/);
  assert.match(errors[4], /has no "rate"/);
  assert.ok(Buffer.concat(got.map((m) => m.payload)).equals(expected(input)), 'the stream output is as if the bad messages never came');
});

test('complete: true flushes the filter tail into a last message that carries complete', async () => {
  await load(translated, flow());
  const got = collect('out');
  const input = noise(9600, 2, 4);
  const n = getNode('rs');
  for (let o = 0; o < input.length; o += 3840) n.receive({ payload: input.subarray(o, o + 3840), ...stereo48, stmId: 'c' });
  n.receive({ stmId: 'c', complete: true });
  await until(() => got.some((m) => m.complete === true), 5000, 'the complete message');
  assert.equal(got.length, 11);
  assert.equal(got.at(-1)!.complete, true);
  assert.equal(got.at(-1)!.rate, 16000);
  assert.ok(got.slice(0, -1).every((m) => m.complete === undefined));
  const all = Buffer.concat(got.map((m) => m.payload));
  assert.equal(all.length / 2, 3200);
  assert.ok(all.equals(expected(input)));
});

test('two interleaved streams are resampled independently; status shows the streams and the conversion', async () => {
  await load(translated, flow());
  const got = collect('out');
  const statuses: string[] = [];
  getNode('rs').on('call:status', (call: { args: Array<{ text?: string }> }) => statuses.push(String(call.args[0]?.text)));
  const a = noise(9600, 2, 5);
  const b = noise(9600, 2, 6);
  const n = getNode('rs');
  for (let o = 0; o < a.length; o += 3840) {
    n.receive({ payload: a.subarray(o, o + 3840), ...stereo48, stmId: 'A' });
    n.receive({ payload: b.subarray(o, o + 3840), ...stereo48, topic: 'B' });
  }
  await until(() => statuses.includes('2 streams · 48k→16k'), 5000, 'status with two streams');
  assert.equal(statuses.find((x) => x.includes('stream')), '1 stream · 48k→16k', 'one stream, singular');
  n.receive({ stmId: 'A', complete: true });
  n.receive({ topic: 'B', complete: true });
  await until(() => got.filter((m) => m.complete).length === 2, 5000, 'both completes');
  const of = (pred: (m: Record<string, any>) => boolean) => Buffer.concat(got.filter(pred).map((m) => m.payload));
  assert.ok(of((m) => m.stmId === 'A').equals(expected(a)));
  assert.ok(of((m) => m.topic === 'B').equals(expected(b)));
});

test('options: stereo output at 8 kHz; a badly configured rate is reported for each message', async () => {
  await load(translated, flow({ outRate: 8000, outChannels: '2' }));
  const got = collect('out');
  getNode('rs').receive({ payload: noise(4800, 2, 7), ...stereo48 });
  await until(() => got.length === 1, 5000, 'output');
  assert.equal(got[0].rate, 8000);
  assert.equal(got[0].channels, 2);
  await unload();
  await load(translated, flow({ outRate: 1234 }));
  const errors = collectErrors('rs');
  const none = collect('out');
  getNode('rs').receive({ payload: noise(480, 2, 8), ...stereo48 });
  await until(() => errors.length >= 1, 5000, 'the configuration error for the message');
  assert.equal(errors.at(-1), 'property outRate is "1234": expected a whole number from 8000 to 192000 (leave it blank for the default)');
  assert.equal(none.length, 0);
});

test('an idle stream is released after the timeout and its filter tail still goes out', async () => {
  await load(translated, flow({ idleTimeout: 0.2 }));
  const got = collect('out');
  const input = noise(4800, 2, 9);
  getNode('rs').receive({ payload: input, ...stereo48, stmId: 'quiet', traceId: 'q1' });
  await until(() => got.length === 2, 10_000, 'the chunk and, after the idle timeout, its tail');
  assert.equal(got[1].stmId, 'quiet');
  assert.equal(got[1].traceId, 'q1');
  assert.equal(got[1].complete, undefined);
  assert.ok(Buffer.concat(got.map((m) => m.payload)).equals(expected(input)), 'chunk + tail = the whole stream resampled');
});

/** A 16-bit mono WAV whose header fields are then overwritten to lie. */
function lyingWav(lie: (h: Buffer) => void, rate = 48000, samples = 4800): Buffer {
  const wav = Buffer.concat([wavHeader({ rate, channels: 1 }, samples * 2), noise(samples, 1, 9)]);
  lie(wav);
  return wav;
}

test('a WAV that lies is an error at its message (format tag 0x1234, 12-bit, data cut short); the node keeps running', async () => {
  await load(translated, flow());
  const got = collect('out');
  const errors = collectErrors('rs');
  const n = getNode('rs');
  n.receive({ payload: lyingWav((h) => h.writeUInt16LE(0x1234, 20)), stmId: 'w' });
  n.receive({ payload: lyingWav((h) => (h.writeUInt16LE(12, 34), h.writeUInt16LE(2, 32))), stmId: 'w' });
  n.receive({ payload: lyingWav((h) => h.writeUInt32LE(48000 * 2 * 10, 40)), stmId: 'w' }); // claims 10 s, holds 0.1 s
  await until(() => errors.length === 3, 5000, `three errors (${errors.join(' | ')})`);
  assert.match(errors[0], /format tag 0x1234 \(unknown\), which cannot be played: send PCM \(format 1\)/);
  assert.match(errors[1], /12-bit integer samples, which cannot be played: send 8, 16, 24 or 32-bit/);
  assert.match(errors[2], /cut short: its header announces 960000 bytes of audio but only 9600 follow/);
  assert.equal(got.length, 0, 'nothing of them played');
  // still running
  n.receive({ payload: encodeWav(noise(4800, 1, 3), { rate: 48000, channels: 1 }), stmId: 'w', complete: true });
  await until(() => got.some((m) => m.complete), 5000, 'a good WAV converted');
  assert.equal(errors.length, 3);
});

test('a header-only WAV does not reset a running stream, whatever format its header names', async () => {
  await load(translated, flow());
  const got = collect('out');
  const errors = collectErrors('rs');
  const n = getNode('rs');
  const a = noise(9600, 2, 11);
  n.receive({ payload: a.subarray(0, 3840 * 2), ...stereo48, stmId: 'S' });
  // header-only WAVs mid-stream: another rate, and the target format itself
  n.receive({ payload: wavHeader({ rate: 22050, channels: 1 }, 0), stmId: 'S' });
  n.receive({ payload: wavHeader({ rate: 16000, channels: 1 }, 0), stmId: 'S' });
  n.receive({ payload: a.subarray(3840 * 2), ...stereo48, stmId: 'S', complete: true });
  await until(() => got.some((m) => m.complete), 5000, 'the stream completes');
  assert.deepEqual(errors, []);
  const out = Buffer.concat(got.map((m) => m.payload));
  assert.ok(out.equals(expected(a)), 'exactly what one uninterrupted stream gives');
  assert.equal(got.filter((m) => m.payload.length === 0 && !m.complete).length, 0, 'no empty messages out');
});

test('a number in the config that is not one is refused at deploy: translated, red status, done(err) for every message', async () => {
  // before, "16k" became NaN and an idle timeout of "soon" NaN ms: nothing said why
  await load(translated, flow({ idleTimeout: 'soon' }));
  const n = getNode('rs');
  const got = collect('out');
  const text = 'property idleTimeout is "soon": expected a number from 0 to 86400 (leave it blank for the default)';
  const own = (m: 'error' | 'status') => n[m].getCalls().filter((c: any) => c.thisValue === n).map((c: any) => c.args[0]);
  await until(() => own('error').length === 1, 5000, 'error at deploy');
  assert.equal(own('error')[0].message, text);
  assert.deepEqual(own('status').at(-1), { fill: 'red', shape: 'ring', text: 'bad configuration' });
  n.receive({ payload: noise(960, 2, 2), ...stereo48, stmId: 'a' });
  await until(() => own('error').length === 2, 5000, 'message refused (done(err) reaches Catch as node.error)');
  assert.equal(own('error')[1].message, text);
  assert.equal(got.length, 0);
});

test('an output rate like "16k" is refused the same way, not taken as NaN', async () => {
  await load(translated, flow({ outRate: '16k' }));
  const n = getNode('rs');
  const own = (m: 'error' | 'status') => n[m].getCalls().filter((c: any) => c.thisValue === n).map((c: any) => c.args[0]);
  await until(() => own('error').length === 1, 5000, 'error at deploy');
  assert.equal(own('error')[0].message, 'property outRate is "16k": expected a whole number from 8000 to 192000 (leave it blank for the default)');
  assert.deepEqual(own('status').at(-1), { fill: 'red', shape: 'ring', text: 'bad configuration' });
});
