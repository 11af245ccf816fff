/**
 * Per-stream connections linger after their stream's last frame: a receiver that answers the end
 * of a stream (an ASR service's final result) can still send, and the connection ends when it
 * closes it, or after the bound (then we close with 1000), or at once when the node closes.
 * The receiver is Python `websockets` (test/peers/ws_receiver.py), which refuses to send once it
 * has our Close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Reply, SenderOptions } from '../../lib/ws';
import { until } from '../support/processes';
import { missingPeer } from '../support/peers';
import { cleanupAfterFile, FMT16K, pcmFor, recordingSender, startPythonReceiver } from './helpers';

const cleanup = cleanupAfterFile();
const pythonReceiver = (extra: string[] = []) => startPythonReceiver(cleanup, extra);
const sender = (opts: SenderOptions) => recordingSender(cleanup, opts);

const END = '{"stmId":"{{stmId}}","end":true}';
/** three 200 ms frames */
const SAMPLES = 9600;

const isFinal = (r: Reply) => (r.payload as { final?: boolean }).final === true;

test('per-stream: 20 streams of 3 frames + complete at once; the receiver answers each end frame 0.5 s later and closes: every final reply reaches the flow with its stmId and traceId', { skip: missingPeer('websockets') }, async () => {
  const py = await pythonReceiver(['--final-reply-delay', '0.5']);
  const { s, replies, events } = sender({ target: { url: `${py.url}/s?sid={{stmId}}`, mode: 'per-stream', backoffInitialMs: 50, backoffMaxMs: 500 }, frame: { endFrame: END } });
  const n = 20;
  for (let i = 0; i < n; i++) s.push({ payload: pcmFor(i, 0, SAMPLES), ...FMT16K, stmId: `f${i}`, traceId: `t${i}` });
  for (let i = 0; i < n; i++) s.push({ complete: true, stmId: `f${i}` });
  await until(() => py.events.filter((e) => e.ev === 'close').length === n, 30_000, 'every connection closed');
  await until(() => s.summary().connections === 0, 10_000, 'every connection retired');
  assert.deepEqual(py.events.filter((e) => e.ev === 'final-failed'), [], 'no final reply refused by a closed connection');
  const finals = replies.filter(isFinal);
  assert.deepEqual(finals.map((r) => r.stmId).sort(), Array.from({ length: n }, (_, i) => `f${i}`).sort());
  for (const r of finals) {
    assert.equal(r.traceId, `t${r.stmId!.slice(1)}`);
    assert.equal((r.payload as { frames: number }).frames, 3);
  }
  assert.equal(replies.filter((r) => !isFinal(r)).length, 3 * n, 'every per-frame reply too');
  // the receiver closed each one itself: a normal end, no reconnect
  assert.deepEqual(py.events.filter((e) => e.ev === 'close').map((e) => e.code), Array(n).fill(1000));
  assert.equal(py.events.filter((e) => e.ev === 'open').length, n);
  assert.deepEqual(events.filter((e) => e.event === 'disconnected' || e.event === 'reconnecting' || e.event === 'error'), []);
  const c = s.summary();
  assert.equal(c.written, 3 * n);
  assert.equal(c.confirmed + c.unconfirmed, 3 * n, 'every written frame settled');
  assert.equal(c.confirmed, 3 * n, 'the ping at the start of the linger confirmed them before the receiver closed');
  assert.equal(c.dropped, 0);
});

test('per-stream: a receiver that sends its final reply and never closes: we close with 1000 after the linger bound', { skip: missingPeer('websockets') }, async () => {
  const py = await pythonReceiver(['--final-reply-delay', '0.1', '--keep-open']);
  const lingerMs = 1500;
  const { s, replies, events } = sender({ target: { url: `${py.url}/k`, mode: 'per-stream', lingerMs, backoffInitialMs: 50, backoffMaxMs: 500 }, frame: { endFrame: END } });
  s.push({ payload: pcmFor(0, 0, SAMPLES), ...FMT16K, stmId: 'k0', traceId: 'tk' });
  s.push({ complete: true, stmId: 'k0' });
  const t0 = Date.now();
  await until(() => replies.some(isFinal), 10_000, 'final reply');
  assert.equal(s.summary().connections, 1, 'still open after the final reply');
  await until(() => py.events.some((e) => e.ev === 'close'), 15_000, 'closed by us');
  const took = Date.now() - t0;
  assert.ok(took >= lingerMs - 100, `closed after ${took} ms, not before the ${lingerMs} ms bound`);
  assert.equal(py.events.find((e) => e.ev === 'close')!.code, 1000);
  await until(() => s.summary().connections === 0, 10_000, 'retired');
  const c = s.summary();
  assert.equal(c.written, 3);
  assert.equal(c.confirmed, 3);
  assert.equal(c.unconfirmed, 0);
  assert.deepEqual(events.filter((e) => e.event !== 'connected'), []);
});

test('per-stream: close() during a long linger closes at once (redeploy is not held up by the bound)', { skip: missingPeer('websockets') }, async () => {
  const py = await pythonReceiver(['--final-reply-delay', '0', '--keep-open']);
  const { s, replies } = sender({ target: { url: `${py.url}/r`, mode: 'per-stream', lingerMs: 60_000, backoffInitialMs: 50, backoffMaxMs: 500 }, frame: { endFrame: END } });
  s.push({ payload: pcmFor(1, 0, SAMPLES), ...FMT16K, stmId: 'r0', traceId: 'tr' });
  s.push({ complete: true, stmId: 'r0' });
  await until(() => replies.some(isFinal), 10_000, 'final reply');
  const t0 = Date.now();
  await s.close();
  const took = Date.now() - t0;
  assert.ok(took < 3000, `close() took ${took} ms`);
  await until(() => py.events.some((e) => e.ev === 'close'), 5000, 'receiver saw the close');
  assert.equal(s.summary().connections, 0);
});
