/**
 * Interop with an independent WebSocket implementation: Python `websockets` (Debian
 * python3-websockets) as the receiver, so the frames, masking (random and zero keys),
 * permessage-deflate, headers and close handshakes are checked by code that is not `ws`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WsSender, type Reply } from '../../lib/ws';
import { until } from '../support/processes';
import { missingPeer } from '../support/peers';
import { cleanupAfterFile, FMT16K, messagesFor, pcmFor, rawFrameServer, startPythonReceiver, type PyEvent } from './helpers';

const cleanup = cleanupAfterFile();
const pythonReceiver = (extra: string[] = []) => startPythonReceiver(cleanup, extra);

/** A stream's PCM as the Python peer decoded it: its JSON frames' data, in arrival order. */
function pcmSeen(events: PyEvent[], stmId: string): Buffer {
  return Buffer.concat(
    events
      .filter((e) => e.ev === 'frame' && e.text)
      .map((e) => JSON.parse(e.text!))
      .filter((f) => f.stmId === stmId && typeof f.data === 'string')
      .map((f) => Buffer.from(f.data, 'base64')),
  );
}

test('python websockets receives the seed JSON frames exactly (random masking keys), with the Authorization header; its replies come back', { skip: missingPeer('websockets') }, async () => {
  const py = await pythonReceiver();
  const s = new WsSender({ target: { url: `${py.url}/asr`, headers: { Authorization: 'Bearer py-token' }, backoffInitialMs: 50, backoffMaxMs: 500 } });
  cleanup(() => s.close());
  const replies: Reply[] = [];
  s.on('reply', (r: Reply) => replies.push(r));
  const a = messagesFor(0, 12345);
  const b = messagesFor(1, 9999);
  let aSamples = 0; // py-a carries capture timestamps (continuous: its chunks stay whole)
  for (let k = 0; k < Math.max(a.length, b.length); k++) {
    if (k < a.length) s.push({ payload: a[k], ...FMT16K, stmId: 'py-a', traceId: 'ta', timestamp: 1_700_000_000_000 + aSamples / 16 });
    if (k < a.length) aSamples += a[k].length / 2;
    if (k < b.length) s.push({ payload: b[k], ...FMT16K, stmId: 'py-b', traceId: 'tb' });
  }
  s.push({ complete: true, stmId: 'py-a' });
  s.push({ complete: true, stmId: 'py-b' });
  await until(() => pcmSeen(py.events, 'py-a').length === 12345 * 2 && pcmSeen(py.events, 'py-b').length === 9999 * 2, 15_000, 'all audio at the python peer');
  assert.deepEqual(pcmSeen(py.events, 'py-a'), pcmFor(0, 0, 12345));
  assert.deepEqual(pcmSeen(py.events, 'py-b'), pcmFor(1, 0, 9999));
  const first = py.events.find((e) => e.ev === 'frame')!;
  assert.deepEqual(Object.keys(JSON.parse(first.text!)), ['traceId', 'stmId', 'timestamp', 'data']);
  const open = py.events.find((e) => e.ev === 'open')!;
  assert.equal(open.authorization, 'Bearer py-token');
  assert.equal(open.path, '/asr');
  const frames = py.events.filter((e) => e.ev === 'frame').length;
  await until(() => replies.length === frames, 10_000, 'one reply per frame');
  assert.deepEqual(replies[0].payload, { stmId: JSON.parse(first.text!).stmId, seq: 1, text: 'heard 6400' });
});

test('random masking keys: the same sender towards a raw net server puts a different non-zero key on every frame', async () => {
  // python's websockets unmasks whatever key arrives, so the keys themselves are read off the wire here
  const raw = await rawFrameServer();
  const s = new WsSender({ target: { url: raw.url, backoffInitialMs: 50, backoffMaxMs: 500 } });
  cleanup(() => s.close());
  try {
    for (let j = 0; j < 5; j++) s.push({ payload: pcmFor(0, j * 3200, 3200), ...FMT16K, stmId: 'm' });
    await until(() => raw.frames.filter((f) => f.opcode === 1).length === 5, 10_000, 'five frames');
    const keys = raw.frames.filter((f) => f.opcode === 1).map((f) => f.key);
    assert.equal(new Set(keys).size, 5, keys.join(' '));
    assert.ok(!keys.includes('00000000'));
    assert.deepEqual(JSON.parse(raw.frames[0].payload.toString()).stmId, 'm');
  } finally {
    await s.close();
    await raw.close();
  }
});

for (const readDelay of [0, 0.3]) {
  const late = readDelay ? `; its application reads ${readDelay} s late, so our frames and our Close are all in its library's queue first (its replies fail), and it still gets all the audio` : '';
  test(`python websockets: per-stream connections with zero masking keys and permessage-deflate; closed with 1000 right after complete (no linger)${late}`, { skip: missingPeer('websockets') }, async () => {
    const py = await pythonReceiver(readDelay ? ['--read-delay', String(readDelay)] : []);
    // lingerMs 0: our Close follows the last frame at once (the case where it can overtake a late reader)
    const s = new WsSender({ target: { url: `${py.url}/s?sid={{stmId}}`, mode: 'per-stream', lingerMs: 0, zeroMask: true, perMessageDeflate: true, backoffInitialMs: 50, backoffMaxMs: 500 } });
    cleanup(() => s.close());
    for (const i of [2, 3]) s.push({ payload: pcmFor(i, 0, 8000), ...FMT16K, stmId: `z${i}`, traceId: `t${i}` });
    for (const i of [2, 3]) s.push({ complete: true, stmId: `z${i}` });
    await until(() => py.events.filter((e) => e.ev === 'close').length === 2, 15_000, 'both connections closed');
    for (const i of [2, 3]) assert.deepEqual(pcmSeen(py.events, `z${i}`), pcmFor(i, 0, 8000));
    const opens = py.events.filter((e) => e.ev === 'open');
    assert.deepEqual(opens.map((e) => e.path).sort(), ['/s?sid=z2', '/s?sid=z3']);
    assert.ok(opens.every((e) => /permessage-deflate/.test(e.extensions ?? '')), JSON.stringify(opens));
    assert.deepEqual(py.events.filter((e) => e.ev === 'close').map((e) => e.code), [1000, 1000]);
    await until(() => s.summary().connections === 0, 10_000, 'both connections retired');
    const c = s.summary();
    assert.equal(c.written, 6);
    assert.equal(c.confirmed, 6, 'our Close answered: the receiver\'s library read every frame before it');
    if (readDelay) console.log(`# read ${readDelay} s late: ${py.events.filter((e) => e.ev === 'reply-failed').length} of 2 connections had a reply refused after our Close`);
  });
}

for (const maxQueue of [1, 32]) {
  test(`python websockets that reads 3 frames and closes, 25 times (max_queue ${maxQueue}): every chunk it did not read is counted unconfirmed or dropped`, { skip: missingPeer('websockets') }, async () => {
    const py = await pythonReceiver(['--close-after', '3', '--close-count', '25', '--max-queue', String(maxQueue)]);
    const s = new WsSender({ target: { url: py.url, backoffInitialMs: 20, backoffMaxMs: 100 } });
    cleanup(() => s.close());
    const total = 300;
    for (let i = 0; i < total; i++) {
      s.push({ payload: pcmFor(0, i * 3200, 3200), ...FMT16K, stmId: 'pc', timestamp: 1_700_000_000_000 + i * 200 });
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 500));
    await s.close();
    const read = new Set(py.events.filter((e) => e.ev === 'frame' && e.text).map((e) => JSON.parse(e.text!).timestamp)).size;
    const c = s.summary();
    console.log(`# python max_queue ${maxQueue}: read ${read} of ${total}; written ${c.written}, confirmed ${c.confirmed}, unconfirmed ${c.unconfirmed}, dropped ${c.dropped}`);
    assert.equal(c.written + c.dropped, total);
    assert.equal(c.written, c.confirmed + c.unconfirmed);
    assert.ok(c.confirmed <= read, `confirmed ${c.confirmed} but the application read ${read}`);
    assert.ok(total - read <= c.unconfirmed + c.dropped, `${total - read - c.unconfirmed - c.dropped} chunks lost silently`);
  });
}
