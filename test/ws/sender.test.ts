/**
 * WsSender (the engine of base64-ws-out) against real `ws` servers on 127.0.0.1.
 */
import { test } from 'node:test';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { WsSender, type SenderEvent, type Reply, type SenderOptions } from '../../lib/ws';
import { WsReceiver } from '../peers/ws-receiver';
import { until } from '../support/node-red';
import { cleanupAfterFile, FMT16K, messagesFor, pcmFor, rawFrameServer, recordingSender, selfSignedCert, sleep } from './helpers';
import { missingPeer } from '../support/peers';

const cleanup = cleanupAfterFile();
const sender = (opts: SenderOptions) => recordingSender(cleanup, opts);

async function receiver(opts: ConstructorParameters<typeof WsReceiver>[0] = {}): Promise<WsReceiver> {
  const r = await new WsReceiver(opts).start();
  cleanup(() => r.stop());
  return r;
}


const fast = { backoffInitialMs: 20, backoffMaxMs: 200 };

test('default frames: the seed JSON shape, 200 ms chunks, timestamps in seconds, exact PCM', async () => {
  const r = await receiver();
  const { s } = sender({ target: { url: r.url, ...fast } });
  const t0 = 1_700_000_000_000;
  // 500 ms in 20 ms messages: two full chunks, then complete flushes the 100 ms tail
  for (let i = 0; i < 25; i++) s.push({ payload: pcmFor(0, i * 320, 320), ...FMT16K, stmId: 'call-1', traceId: 'tr-9', timestamp: t0 + i * 20 });
  s.push({ complete: true, stmId: 'call-1' });
  await until(() => r.frames.length === 3, 10_000, '3 frames');
  const [a, b, c] = r.frames.map((f) => f.text!);
  assert.equal(a, `{"traceId":"tr-9","stmId":"call-1","timestamp":1700000000,"data":"${pcmFor(0, 0, 3200).toString('base64')}"}`);
  assert.equal(b, `{"traceId":"tr-9","stmId":"call-1","timestamp":1700000000.2,"data":"${pcmFor(0, 3200, 3200).toString('base64')}"}`);
  assert.equal(JSON.parse(c).data, pcmFor(0, 6400, 1600).toString('base64'));
  assert.equal(Buffer.from(JSON.parse(a).data, 'base64').length, 6400, 'the seed chunk: 6400 bytes = 200 ms');
});

test('zero masking keys (zeroMask): every frame on the wire has the key 00000000 (read by a raw net server)', async () => {
  const raw = await rawFrameServer();
  cleanup(() => raw.close());
  const { s } = sender({ target: { url: raw.url, zeroMask: true, ...fast } });
  for (let j = 0; j < 3; j++) s.push({ payload: pcmFor(3, j * 3200, 3200), ...FMT16K, stmId: 'z' });
  await until(() => raw.frames.filter((f) => f.opcode === 1).length === 3, 10_000, 'three text frames');
  const text = raw.frames.filter((f) => f.opcode === 1);
  assert.ok(text.every((f) => f.masked), 'client frames are masked (RFC 6455)');
  assert.deepEqual(text.map((f) => f.key), ['00000000', '00000000', '00000000']);
  assert.deepEqual(Buffer.from(JSON.parse(text[2].payload.toString()).data, 'base64'), pcmFor(3, 6400, 3200));
});

test('without zeroMask the masking keys are random: they differ between frames (raw net server)', async () => {
  const raw = await rawFrameServer();
  cleanup(() => raw.close());
  const { s } = sender({ target: { url: raw.url, ...fast } });
  for (let j = 0; j < 4; j++) s.push({ payload: pcmFor(3, j * 3200, 3200), ...FMT16K, stmId: 'r' });
  await until(() => raw.frames.filter((f) => f.opcode === 1).length === 4, 10_000, 'four text frames');
  const keys = raw.frames.filter((f) => f.opcode === 1).map((f) => f.key);
  assert.equal(new Set(keys).size, 4, `keys ${keys.join(' ')}`);
  assert.ok(!keys.includes('00000000'));
});

test('zero masking keys (zeroMask) and binary frames with WAV headers reach a standard server intact', async () => {
  const r = await receiver();
  const { s } = sender({ target: { url: r.url, zeroMask: true, ...fast }, frame: { mode: 'binary', wavHeader: true } });
  s.push({ payload: pcmFor(3, 0, 4000), ...FMT16K, stmId: 'z' });
  await until(() => r.frames.length === 1, 10_000, 'one binary frame');
  const f = r.frames[0].binary!;
  assert.equal(f.toString('latin1', 0, 4), 'RIFF');
  assert.deepEqual(f.subarray(44), pcmFor(3, 0, 3200));
});

test('permessage-deflate when enabled: negotiated with the server, audio intact', async () => {
  const r = await receiver();
  const { s } = sender({ target: { url: r.url, perMessageDeflate: true, ...fast } });
  s.push({ payload: pcmFor(1, 0, 6400), ...FMT16K, stmId: 'pmd' });
  await until(() => r.frames.length === 2, 10_000, 'two frames');
  assert.match(String(r.connections[0].headers['sec-websocket-extensions']), /permessage-deflate/);
  assert.deepEqual(r.pcm('pmd'), pcmFor(1, 0, 6400));
});

test('interleaved streams never mix; every stream decodes to its exact PCM in order; end frames', async () => {
  const r = await receiver();
  const { s } = sender({ target: { url: r.url, ...fast }, frame: { endFrame: '{"stmId":"{{stmId}}","end":true}' } });
  const streams = [0, 1, 2, 3, 4];
  const msgs = streams.map((i) => messagesFor(i, 16000 + i * 1111));
  for (let k = 0; msgs.some((m) => k < m.length); k++) {
    for (const i of streams) if (k < msgs[i].length) s.push({ payload: msgs[i][k], ...FMT16K, stmId: `s${i}`, traceId: `t${i}` });
  }
  for (const i of streams) s.push({ complete: true, stmId: `s${i}` });
  await until(() => r.frames.filter((f) => f.json?.end).length === streams.length, 10_000, 'end frames');
  for (const i of streams) {
    assert.deepEqual(r.pcm(`s${i}`), pcmFor(i, 0, 16000 + i * 1111), `stream s${i}`);
    const frames = r.stream(`s${i}`);
    assert.ok(frames.slice(0, -1).every((f) => f.json.traceId === `t${i}` && f.json.data), 'only this stream in its frames');
    assert.deepEqual(frames[frames.length - 1].json, { stmId: `s${i}`, end: true }, 'end frame last');
  }
});

test('server restarted 10x mid-stream: every chunk arrives exactly once, in order, nothing dropped', async () => {
  const r = await receiver();
  const { s, events } = sender({ target: { url: r.url, ...fast, queueMs: 30_000 } });
  await until(() => s.summary().state === 'open', 10_000, 'connected');
  const N = 3;
  const samplesPerTick = 1600; // 100 ms per stream per tick
  let sent = 0;
  let restarts = 0;
  const feeder = setInterval(() => {
    for (let i = 0; i < N; i++) s.push({ payload: pcmFor(i, sent, samplesPerTick), ...FMT16K, stmId: `r${i}`, traceId: 'x' });
    sent += samplesPerTick;
  }, 10);
  cleanup(() => clearInterval(feeder));
  try {
    for (; restarts < 10; restarts++) {
      await until(() => s.summary().state === 'open', 10_000, 'reconnected');
      await sleep(80);
      await r.restart(50 + restarts * 10);
    }
    await sleep(100);
  } finally {
    clearInterval(feeder);
  }
  for (let i = 0; i < N; i++) s.push({ complete: true, stmId: `r${i}` });
  // sent = handed to the socket; wait until the server has read all of it
  await until(() => s.summary().queued === 0 && r.frames.length >= s.summary().sent, 20_000, 'queue drained and received');
  for (let i = 0; i < N; i++) {
    const got = r.pcm(`r${i}`);
    assert.equal(got.length, sent * 2, `stream r${i}: ${got.length} of ${sent * 2} bytes`);
    assert.ok(got.equals(pcmFor(i, 0, sent)), `stream r${i}: exact bytes, in order, no duplicates`);
  }
  assert.equal(s.summary().dropped, 0);
  assert.ok(events.filter((e) => e.event === 'disconnected').length >= 10, 'saw the 10 restarts');
  assert.ok(new Set(r.frames.map((f) => f.conn)).size >= 11, 'frames came over 11+ connections');
  console.log(`# restarts: ${sent / 16000} s per stream, ${r.frames.length} frames, ${s.summary().sent} sent`);
});

/**
 * Index of each received 200 ms chunk in the stream's input, checking that it is one of them and
 * that they come unique and in increasing order (the test PCM repeats every 512 chunks, so each
 * match is searched after the previous one).
 */
function chunkIndexes(r: WsReceiver, stmId: string, stream: number, total: number): number[] {
  let last = -1;
  return r.stream(stmId).map((f) => {
    const got = Buffer.from(f.json.data, 'base64');
    for (let j = last + 1; j < total; j++) {
      if (got.equals(pcmFor(stream, j * 3200, 3200))) return (last = j);
    }
    throw new Error(`a frame of ${stmId} after chunk ${last} is not a later chunk of its input (duplicate, reordered or foreign)`);
  });
}

test('beyond the queue bound, drops are counted and reported, and what is kept arrives once in order', async () => {
  for (const policy of ['drop-oldest', 'drop-newest'] as const) {
    const r = await receiver();
    const { s, events } = sender({ target: { url: r.url, ...fast, queueMs: 500, policy } });
    await until(() => s.summary().state === 'open', 10_000, 'connected');
    await r.stop();
    await until(() => s.summary().state !== 'open', 10_000, 'disconnected');
    const chunks = 12; // 2.4 s per stream, 2 streams, into 0.5 s per stream (a 1 s queue): 5 chunks kept of 24
    for (let j = 0; j < chunks; j++) for (const i of [0, 1]) s.push({ payload: pcmFor(i, j * 3200, 3200), ...FMT16K, stmId: `d${i}` });
    assert.equal(s.summary().dropped, 2 * chunks - 5);
    await r.start();
    await until(() => s.summary().queued === 0 && r.frames.length === 5, 10_000, 'kept chunks delivered');
    const kept = [0, 1].flatMap((i) => chunkIndexes(r, `d${i}`, i, chunks));
    assert.equal(kept.length + s.summary().dropped, 2 * chunks, 'received + dropped = accepted');
    if (policy === 'drop-newest') assert.deepEqual(r.stream('d0').map((f) => f.json.data), [0, 1, 2].map((j) => pcmFor(0, j * 3200, 3200).toString('base64')));
    else assert.deepEqual(chunkIndexes(r, 'd1', 1, chunks), [9, 10, 11]);
    await s.close();
    const drops = events.filter((e) => e.event === 'dropped');
    assert.ok(drops.length >= 1 && drops[0].cause === 'queueFull');
    // after close every drop has been reported: the events add up to the counter
    assert.equal(drops.reduce((n, e) => n + (e.count ?? 0), 0), s.summary().dropped);
    await r.stop();
  }
});

test('the queue bound is per stream: a shared connection holds it for each stream, and shrinks back only once empty', async () => {
  const r = await receiver();
  const { s } = sender({ target: { url: r.url, ...fast, queueMs: 400, policy: 'drop-oldest' } });
  await until(() => s.summary().state === 'open', 10_000, 'connected');
  await r.stop();
  await until(() => s.summary().state !== 'open', 10_000, 'disconnected');
  // 5 streams × 4 chunks of 200 ms during the outage, 0.4 s per stream: 2 chunks each kept
  for (let j = 0; j < 4; j++) for (let i = 0; i < 5; i++) s.push({ payload: pcmFor(i, j * 3200, 3200), ...FMT16K, stmId: `p${i}` });
  assert.equal(s.summary().dropped, 10);
  assert.equal(s.summary().queued, 10);
  // four streams end while their audio still waits: none of it is dropped for that
  for (let i = 1; i < 5; i++) s.push({ complete: true, stmId: `p${i}` });
  s.push({ payload: pcmFor(0, 4 * 3200, 3200), ...FMT16K, stmId: 'p0' });
  assert.equal(s.summary().dropped, 11, 'only the oldest chunk made room for the new one');
  await r.start();
  await until(() => s.summary().queued === 0 && s.summary().state === 'open', 10_000, 'drained');
  // drained, one stream left: the next outage holds that stream's 0.4 s (2 chunks of 4)
  await r.stop();
  await until(() => s.summary().state !== 'open', 10_000, 'disconnected again');
  for (let j = 5; j < 9; j++) s.push({ payload: pcmFor(0, j * 3200, 3200), ...FMT16K, stmId: 'p0' });
  assert.equal(s.summary().dropped, 13);
  assert.equal(s.summary().queued, 2);
  await s.close();
  await r.stop();
});

test('a server that stops reading: TCP and ws buffers fill, then the bounded queue; drops counted, the rest in order', async () => {
  const r = await receiver();
  const { s } = sender({ target: { url: r.url, ...fast, queueMs: 10_000, policy: 'drop-oldest', pingIntervalMs: 0 } });
  await until(() => s.summary().state === 'open', 10_000, 'connected');
  r.pause();
  const total = 1000; // 200 s of audio, ~8.5 MB of frames: more than loopback TCP + ws buffers hold
  for (let j = 0; j < total; j++) s.push({ payload: pcmFor(0, j * 3200, 3200), ...FMT16K, stmId: 'slow' });
  await until(() => s.summary().dropped > 0 && s.summary().sent > 0, 10_000, 'drops once the queue is full');
  // what waits for the server: the 10 s queue (50 chunks) plus at most ~1 MB (≈ 125 frames) inside ws;
  // the kernel's socket buffers took the rest (counted as sent)
  assert.ok(s.summary().queued <= 50 + 125, JSON.stringify(s.summary()));
  r.resume();
  await until(() => s.summary().queued === 0 && r.frames.length === s.summary().sent, 20_000, 'drained');
  const idx = chunkIndexes(r, 'slow', 0, total);
  assert.equal(idx.length + s.summary().dropped, total, 'received + dropped = accepted');
  assert.equal(idx[idx.length - 1], total - 1, 'the newest audio was kept (drop-oldest)');
});

test('stop-stream policy: the stream that overflows stops (event with its stmId) until it completes', async () => {
  const r = await receiver();
  const { s, events } = sender({ target: { url: r.url, ...fast, queueMs: 600, policy: 'stop-stream' } });
  await until(() => s.summary().state === 'open', 10_000, 'connected');
  await r.stop();
  await until(() => s.summary().state !== 'open', 10_000, 'disconnected');
  for (let j = 0; j < 6; j++) s.push({ payload: pcmFor(0, j * 3200, 3200), ...FMT16K, stmId: 'big', traceId: 'T' });
  const stop = events.find((e) => e.event === 'dropped' && e.stopped);
  assert.ok(stop, 'a stopped event');
  assert.equal(stop.stmId, 'big');
  assert.equal(stop.traceId, 'T');
  assert.equal(s.summary().dropped, 3);
  await r.start();
  await until(() => s.summary().queued === 0 && s.summary().state === 'open', 10_000, 'drained');
  s.push({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'big' }); // still stopped
  assert.equal(s.summary().dropped, 4);
  s.push({ complete: true, stmId: 'big' });
  s.push({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'big' }); // a new stream under the same id flows again
  await until(() => r.frames.length === 4, 10_000, '3 kept + 1 new');
});

test('per-stream connections: URL templating, replies carry stmId/traceId, closed after complete', async () => {
  const r = await receiver({ reply: (f) => (f.json?.data ? JSON.stringify({ text: `heard ${Buffer.from(f.json.data, 'base64').length}` }) : 'not json') });
  // lingerMs 0: this receiver never closes, and waiting for its last replies is linger.test's subject
  const { s, replies } = sender({ target: { url: `${r.url}/asr?sid={{stmId}}&trace={{traceId}}`, mode: 'per-stream', lingerMs: 0, ...fast } });
  for (const i of [0, 1, 2]) s.push({ payload: pcmFor(i, 0, 3200), ...FMT16K, stmId: `p ${i}`, traceId: `t${i}` });
  await until(() => replies.length === 3, 10_000, '3 replies');
  assert.deepEqual(r.connections.map((c) => c.url).sort(), [0, 1, 2].map((i) => `/asr?sid=p%20${i}&trace=t${i}`));
  for (const i of [0, 1, 2]) {
    const f = r.stream(`p ${i}`);
    assert.equal(f.length, 1);
    assert.equal(r.connections[f[0].conn].url, `/asr?sid=p%20${i}&trace=t${i}`, 'each stream on its own connection');
  }
  assert.deepEqual(replies.map((x) => [x.stmId, x.traceId, x.payload]).sort(), [0, 1, 2].map((i) => [`p ${i}`, `t${i}`, { text: 'heard 6400' }]));
  assert.equal(s.summary().connections, 3);
  s.push({ complete: true, stmId: 'p 1' });
  await until(() => s.summary().connections === 2, 10_000, 'p 1 connection closed after complete');
});

test('per-stream connections with permessage-deflate and zero masks: many frames and complete in one turn; every frame reaches the server before our Close (1000), each counted written and confirmed', async () => {
  // ws compresses asynchronously (zlib) and queues sends and the Close behind a compression in
  // progress; the connection closes only once every send callback fired, so the server's library
  // must have every frame, in order, before the Close
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
  cleanup(() => new Promise<void>((r) => wss.close(() => r())));
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const seen = new Map<string, { pcm: Buffer[]; close?: number; afterClose: number }>();
  wss.on('connection', (ws, req) => {
    const sid = new URL(req.url ?? '/', 'ws://x').searchParams.get('sid') ?? '';
    const rec = { pcm: [] as Buffer[], close: undefined as number | undefined, afterClose: 0 };
    seen.set(sid, rec);
    ws.on('message', (d) => {
      if (rec.close !== undefined) rec.afterClose++;
      rec.pcm.push(Buffer.from(JSON.parse(d.toString()).data, 'base64'));
    });
    ws.on('close', (code) => (rec.close = code));
  });
  const port = (wss.address() as import('node:net').AddressInfo).port;
  // lingerMs 0: our Close right after the last frame, the case where it could overtake them
  const { s } = sender({ target: { url: `ws://127.0.0.1:${port}/?sid={{stmId}}`, mode: 'per-stream', lingerMs: 0, zeroMask: true, perMessageDeflate: true, ...fast } });
  const streams = [0, 1, 2, 3];
  // 8 s of audio per stream (40 chunks) and its complete, all in one turn: the connections open
  // with 40 frames queued, handed to ws at once, and close when the last send callback fires
  for (const i of streams) s.push({ payload: pcmFor(i, 0, 128_000), ...FMT16K, stmId: `d${i}` });
  for (const i of streams) s.push({ complete: true, stmId: `d${i}` });
  await until(() => s.summary().connections === 0 && streams.every((i) => seen.get(`d${i}`)?.close !== undefined), 20_000, 'every per-stream connection closed');
  for (const i of streams) {
    const rec = seen.get(`d${i}`)!;
    assert.equal(rec.close, 1000, `d${i} closed with 1000`);
    assert.equal(rec.afterClose, 0, `d${i}: no frame after the Close`);
    assert.deepEqual(Buffer.concat(rec.pcm), pcmFor(i, 0, 128_000), `d${i}: every frame, in order`);
  }
  const c = s.summary();
  assert.equal(c.written, 160);
  assert.equal(c.confirmed, 160);
  assert.equal(c.unconfirmed + c.dropped, 0);
});

test('shared connection: a JSON reply naming a live stream is attributed to it', async () => {
  const r = await receiver({ reply: (f) => JSON.stringify({ stmId: f.stmId, text: 'ok' }) });
  const { s, replies } = sender({ target: { url: r.url, ...fast } });
  for (const id of ['u', 'v']) s.push({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: id, traceId: `T${id}` });
  await until(() => replies.length === 2, 10_000, 'two replies');
  assert.deepEqual(replies.map((x) => [x.stmId, x.traceId]).sort(), [['u', 'Tu'], ['v', 'Tv']]);
});

test('headers (Authorization) reach the server; events never carry them', async () => {
  const r = await receiver();
  const { s, events } = sender({ target: { url: `${r.url}/x?token=abc`, headers: { Authorization: 'Bearer s3cr3t-token' }, protocols: ['asr.v1'], ...fast } });
  await until(() => r.connections.length === 1 && s.summary().state === 'open', 10_000, 'connected');
  assert.equal(r.connections[0].headers.authorization, 'Bearer s3cr3t-token');
  assert.equal(r.connections[0].protocol, 'asr.v1');
  await r.restart(0);
  await until(() => events.some((e) => e.event === 'connected' && e.counters.reconnects === 1), 10_000, 'reconnected');
  const text = JSON.stringify(events);
  assert.ok(!text.includes('s3cr3t') && !text.includes('abc'), text);
  assert.ok(events[0].url.includes('token=***'));
});

test('wss:// with a self-signed certificate: refused when verifying, works with the opt-out', { skip: missingPeer('openssl') }, async () => {
  const r = await receiver({ tls: selfSignedCert() });
  const strict = sender({ target: { url: r.url, ...fast }, closePolicy: 'drop' });
  await until(() => strict.events.some((e) => e.event === 'error'), 10_000, 'TLS error');
  const err = strict.events.find((e) => e.event === 'error')!.error!;
  assert.match(`${(err as NodeJS.ErrnoException).code} ${err.message}`, /SELF_SIGNED|self.signed/i);
  strict.s.push({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'tls' });
  await strict.s.close();
  assert.equal(r.frames.length, 0);

  const lax = sender({ target: { url: r.url, rejectUnauthorized: false, ...fast } });
  lax.s.push({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'tls' });
  await until(() => r.frames.length === 1, 10_000, 'frame over wss');
  assert.deepEqual(r.pcm('tls'), pcmFor(0, 0, 3200));
});

test('connect timeout: a server that accepts TCP but never answers the upgrade is given up on and retried', async () => {
  const sockets: import('node:net').Socket[] = [];
  const silent = createServer((sock) => sockets.push(sock));
  await new Promise<void>((res) => silent.listen(0, '127.0.0.1', () => res()));
  cleanup(() => {
    for (const k of sockets) k.destroy();
    return new Promise<void>((res) => silent.close(() => res()));
  });
  const port = (silent.address() as import('node:net').AddressInfo).port;
  const { events } = sender({ target: { url: `ws://127.0.0.1:${port}/`, connectTimeoutMs: 300, ...fast }, closePolicy: 'drop' });
  await until(() => events.filter((e) => e.event === 'error').length >= 2, 10_000, 'two timed-out attempts');
  assert.match(events.find((e) => e.event === 'error')!.error!.message, /handshake has timed out/);
  assert.ok(sockets.length >= 2, 'it tried again');
});

test('a peer that stops answering pings is detected and the connection is re-made', async () => {
  const r = await receiver({ answerPings: false });
  const { s, events } = sender({ target: { url: r.url, pingIntervalMs: 150, ...fast } });
  await until(() => events.some((e) => e.event === 'error' && /pong/.test(e.error!.message)), 10_000, 'dead peer detected');
  await until(() => r.connections.length >= 2, 10_000, 'reconnected');
  await s.close();
});

test('close: flush policy sends partial chunks; drop policy counts what it drops; sockets closed', async () => {
  const r = await receiver();
  const flush = sender({ target: { url: r.url, ...fast } });
  await until(() => flush.s.summary().state === 'open', 10_000, 'connected');
  flush.s.push({ payload: pcmFor(0, 0, 800), ...FMT16K, stmId: 'f' });
  await flush.s.close();
  await until(() => r.frames.length === 1, 10_000, 'partial chunk flushed on close');
  assert.deepEqual(r.pcm('f'), pcmFor(0, 0, 800));
  assert.equal(flush.s.summary().state, 'closed');

  const drop = sender({ target: { url: r.url, ...fast }, closePolicy: 'drop' });
  drop.s.push({ payload: pcmFor(0, 0, 800), ...FMT16K, stmId: 'g' });
  await drop.s.close();
  assert.equal(drop.s.summary().dropped, 1);
  assert.ok(drop.events.some((e) => e.event === 'dropped' && e.cause === 'closed'));
  await until(() => (r as any).sockets.size === 0, 5000, 'server sees every socket closed');
});

test('close reports the drops its 1 s throttle still held: 10 drops, drain, close → the events count 10', async () => {
  const r = await receiver();
  const { s, events } = sender({ target: { url: r.url, ...fast, queueMs: 200, policy: 'drop-newest' } });
  await until(() => s.summary().state === 'open', 10_000, 'connected');
  await r.stop();
  await until(() => s.summary().state !== 'open', 10_000, 'disconnected');
  for (let j = 0; j < 11; j++) s.push({ payload: pcmFor(0, j * 3200, 3200), ...FMT16K, stmId: 'd' });
  assert.equal(s.summary().dropped, 10);
  await r.start();
  await until(() => s.summary().queued === 0 && r.frames.length === 1, 10_000, 'the kept chunk delivered');
  await s.close();
  const sum = events.filter((e) => e.event === 'dropped').reduce((n, e) => n + (e.count ?? 0), 0);
  assert.equal(sum, 10, `dropped events report ${sum} of 10`);
});

test('bad input throws a coded error and leaves the stream intact', async () => {
  const r = await receiver();
  const { s } = sender({ target: { url: r.url, ...fast } });
  s.push({ payload: pcmFor(0, 0, 1000), ...FMT16K, stmId: 'b' });
  assert.throws(() => s.push({ payload: Buffer.alloc(3), ...FMT16K, stmId: 'b' }), { code: 'pcm.partialFrame' });
  assert.throws(() => s.push({ payload: 'text', ...FMT16K, stmId: 'b' }), { code: 'pcm.notBuffer' });
  s.push({ payload: pcmFor(0, 1000, 2200), ...FMT16K, stmId: 'b' });
  await until(() => r.frames.length === 1, 10_000, 'chunk');
  assert.deepEqual(r.pcm('b'), pcmFor(0, 0, 3200));
  assert.throws(() => new WsSender({ target: { url: 'http://x' } }), { code: 'ws.badUrl' });
});

test('close while a completed per-stream connection is still waiting to deliver: bounded, drops counted', async () => {
  const r = await receiver();
  const port = r.port;
  await r.stop();
  const { s, events } = sender({ target: { url: `ws://127.0.0.1:${port}/x?sid={{stmId}}`, mode: 'per-stream', ...fast }, flushTimeoutMs: 300 });
  s.push({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'late' });
  s.push({ complete: true, stmId: 'late' });
  assert.equal(s.summary().queued, 1);
  const t0 = Date.now();
  await s.close();
  assert.ok(Date.now() - t0 < 5000, `closed in ${Date.now() - t0} ms`);
  assert.equal(s.summary().dropped, 1);
  const drop = events.find((e) => e.event === 'dropped');
  assert.equal(drop?.stmId, 'late');
  assert.equal(drop?.cause, 'closed');
});
