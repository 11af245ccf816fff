/**
 * Interop with an independent WebSocket implementation: Python `websockets` (Debian
 * python3-websockets) as the receiver, so the frames, masking (random and zero keys),
 * permessage-deflate, headers and close handshakes are checked by code that is not `ws`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WsSender, type Reply } from '../../lib/ws';
import { spawnPeer, until, type Peer } from '../support/processes';
import { FMT16K, messagesFor, pcmFor } from './helpers';
import { missingPeer, PYTHON } from '../support/peers';

interface PyEvent {
  ev?: 'open' | 'frame' | 'close';
  port?: number;
  conn: number;
  path?: string;
  authorization?: string;
  extensions?: string;
  text?: string;
  binary?: string;
  code?: number;
}

const peers: Peer[] = [];
const senders: WsSender[] = [];
after(async () => {
  for (const s of senders) await s.close();
  for (const p of peers) p.kill();
});

async function pythonReceiver(): Promise<{ url: string; events: PyEvent[] }> {
  const script = join(__dirname, '..', '..', '..', 'test', 'peers', 'ws_receiver.py');
  const events: PyEvent[] = [];
  let port = 0;
  // stdin stays open: the receiver exits when it closes (or after --max-seconds)
  const peer = spawnPeer(PYTHON, [script, '--max-seconds', '120'], 130_000, {
    stdin: 'pipe',
    onLine: (line) => {
      if (!line) return;
      const e = JSON.parse(line) as PyEvent;
      if (e.port) port = e.port;
      else events.push(e);
    },
  });
  peers.push(peer);
  await until(() => port > 0, 15_000, 'python receiver listening').catch((e: Error) => {
    throw new Error(`${e.message}; its stderr: ${peer.stderr() || '(nothing)'}`);
  });
  return { url: `ws://127.0.0.1:${port}`, events };
}

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
  senders.push(s);
  const replies: Reply[] = [];
  s.on('reply', (r: Reply) => replies.push(r));
  const a = messagesFor(0, 12345);
  const b = messagesFor(1, 9999);
  for (let k = 0; k < Math.max(a.length, b.length); k++) {
    if (k < a.length) s.push({ payload: a[k], ...FMT16K, stmId: 'py-a', traceId: 'ta', timestamp: 1_700_000_000_000 });
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

test('python websockets: per-stream connections with zero masking keys and permessage-deflate; closed with 1000 after complete', { skip: missingPeer('websockets') }, async () => {
  const py = await pythonReceiver();
  const s = new WsSender({ target: { url: `${py.url}/s?sid={{stmId}}`, mode: 'per-stream', zeroMask: true, perMessageDeflate: true, backoffInitialMs: 50, backoffMaxMs: 500 } });
  senders.push(s);
  for (const i of [2, 3]) s.push({ payload: pcmFor(i, 0, 8000), ...FMT16K, stmId: `z${i}`, traceId: `t${i}` });
  for (const i of [2, 3]) s.push({ complete: true, stmId: `z${i}` });
  await until(() => py.events.filter((e) => e.ev === 'close').length === 2, 15_000, 'both connections closed');
  for (const i of [2, 3]) assert.deepEqual(pcmSeen(py.events, `z${i}`), pcmFor(i, 0, 8000));
  const opens = py.events.filter((e) => e.ev === 'open');
  assert.deepEqual(opens.map((e) => e.path).sort(), ['/s?sid=z2', '/s?sid=z3']);
  assert.ok(opens.every((e) => /permessage-deflate/.test(e.extensions ?? '')), JSON.stringify(opens));
  assert.deepEqual(py.events.filter((e) => e.ev === 'close').map((e) => e.code), [1000, 1000]);
});
