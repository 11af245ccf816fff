/**
 * What base64-ws-out can promise about delivery, against real receivers that close, crash and
 * refuse: counters that add up (written = confirmed + unconfirmed; every lost chunk counted),
 * ack mode that loses nothing, no reconnect storm, a cap on reply size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { WsSender, type Reply, type SenderEvent, type SenderOptions } from '../../lib/ws';
import { until } from '../support/processes';
import { cleanupAfterFile, FMT16K, pcmFor, recordingSender } from './helpers';
import { killRun } from './receiver-kills';

const cleanup = cleanupAfterFile();
const sender = (opts: SenderOptions) => recordingSender(cleanup, opts);

interface Behaviour {
  /** frames the application of connection `conn` reads before it ends the connection (Infinity = never) */
  readFrames: (conn: number) => number;
  /** how connection `conn` ends: a close code, or 'terminate' (no close frame, like a crash) */
  end: (conn: number) => number | 'terminate';
  /** answer each frame read (ack mode's receiver side) */
  ack?: boolean;
  /** on connection: close at once with this code and reason (a token or quota refusal) */
  refuse?: { code: number; reason: string };
  /** send this reply once a frame arrives */
  bigReply?: number;
}

/**
 * A real `ws` server whose application reads some frames of each connection and then ends it,
 * ignoring what arrives after its decision (as an application that closes does). What the
 * application read is in `read` (by stmId and timestamp).
 */
async function closingReceiver(b: Behaviour): Promise<{ url: string; read: Map<string, number>; connections: () => number; server: Server }> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const read = new Map<string, number>();
  let conns = 0;
  const sockets = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    const conn = conns++;
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', () => undefined);
    if (b.refuse) {
      ws.close(b.refuse.code, b.refuse.reason);
      return;
    }
    let n = 0;
    let ending = false;
    ws.on('message', (data) => {
      if (ending) return;
      const f = JSON.parse(data.toString());
      if (typeof f.data !== 'string') return;
      const k = `${f.stmId} ${f.timestamp}`;
      read.set(k, (read.get(k) ?? 0) + 1);
      if (b.ack) ws.send(JSON.stringify({ stmId: f.stmId, ack: f.seq }));
      if (b.bigReply) ws.send(JSON.stringify({ stmId: f.stmId, text: 'x'.repeat(b.bigReply) }));
      if (++n >= b.readFrames(conn)) {
        ending = true;
        const how = b.end(conn);
        if (how === 'terminate') ws.terminate();
        else ws.close(how, 'enough');
      }
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  cleanup(async () => {
    for (const ws of sockets) ws.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
    await new Promise<void>((r) => http.close(() => r()));
  });
  return { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/asr`, read, connections: () => conns, server: http };
}


const T0 = 1_700_000_000_000;
const sumOf = (events: SenderEvent[], kind: string) => events.filter((e) => e.event === kind).reduce((n, e) => n + (e.count ?? 0), 0);

/** Feeds `chunks` 200 ms chunks (one message each) of one stream, one every `everyMs`. */
async function feed(s: WsSender, chunks: number, everyMs: number, stmId = 'c'): Promise<void> {
  for (let i = 0; i < chunks; i++) {
    s.push({ payload: pcmFor(0, i * 3200, 3200), ...FMT16K, stmId, timestamp: T0 + i * 200 });
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const closeCodes = (conn: number): number | 'terminate' => [1000, 1001, 1011, 4000, 'terminate' as const][conn % 5];

test('a receiver that reads a few frames and closes, 25 times: nothing lost is counted as delivered (written = confirmed + unconfirmed, lost ≤ unconfirmed)', async () => {
  const r = await closingReceiver({ readFrames: (c) => (c < 25 ? 3 + (c % 4) : Infinity), end: closeCodes });
  const { s, events } = sender({ target: { url: r.url, backoffInitialMs: 20, backoffMaxMs: 100, queueMs: 120_000 } });
  // chunks until the 25 closing connections are through, then 50 more for the 26th (bounded)
  let total = 0;
  for (let after26 = 0; after26 < 50 && total < 3000; total++) {
    s.push({ payload: pcmFor(0, total * 3200, 3200), ...FMT16K, stmId: 'c', timestamp: T0 + total * 200 });
    await new Promise((res) => setTimeout(res, 5));
    if (r.connections() > 25) after26++;
  }
  await until(() => s.summary().queued === 0, 30_000, 'the rest written').catch((e: Error) => {
    throw new Error(`${e.message}: ${r.connections()} connections, ${JSON.stringify(s.summary())}`);
  });
  await s.close();
  const c = s.summary();
  const received = r.read.size;
  const lost = total - received;
  console.log(`# 25 closes: received ${received} of ${total}; written ${c.written}, confirmed ${c.confirmed}, unconfirmed ${c.unconfirmed}, dropped ${c.dropped}`);
  assert.equal(c.written + c.dropped, total, 'every accepted chunk was written or dropped');
  assert.equal(c.written, c.confirmed + c.unconfirmed, 'every written chunk ends confirmed or unconfirmed');
  assert.ok(received >= c.confirmed, `confirmed ${c.confirmed} but only ${received} read`);
  assert.ok(lost > 0, 'the receivers really lost chunks (the scenario bites)');
  assert.ok(lost <= c.unconfirmed + c.dropped, `lost ${lost}, counted ${c.unconfirmed} unconfirmed + ${c.dropped} dropped: ${lost - c.unconfirmed - c.dropped} lost silently`);
  assert.equal(sumOf(events, 'unconfirmed'), c.unconfirmed, 'unconfirmed events add up to the counter');
  assert.equal(sumOf(events, 'dropped'), c.dropped);
  assert.ok(events.some((e) => e.event === 'unconfirmed' && e.cause === 'connectionLost' && e.stmId === 'c'));
});

test('ack mode: a receiver that closes (any code, or crashes) after a few frames, 25 times: every chunk consumed, none lost', async () => {
  const r = await closingReceiver({ readFrames: (c) => (c < 25 ? 3 + (c % 4) : Infinity), end: closeCodes, ack: true });
  const { s, events } = sender({ target: { url: r.url, backoffInitialMs: 20, backoffMaxMs: 100, queueMs: 120_000 }, ack: {} });
  await feed(s, 300, 5);
  await until(() => r.connections() > 25, 30_000, '25 closes');
  await s.close();
  const c = s.summary();
  console.log(`# ack, 25 closes: received ${r.read.size} of 300 (${[...r.read.values()].filter((n) => n > 1).length} twice); acknowledged ${c.acknowledged}, resent ${c.resent}`);
  assert.equal(r.read.size, 300, 'every chunk consumed');
  assert.equal(c.acknowledged, 300);
  assert.equal(c.unconfirmed + c.dropped, 0);
  assert.ok(c.resent > 0, 're-sent after the closes');
  assert.equal(sumOf(events, 'unconfirmed'), 0);
});

test('ack mode: frames carry seq (0, 1, 2… per stream) after the default fields; re-sent frames are byte-identical', async () => {
  const frames: string[] = [];
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  let conns = 0;
  wss.on('connection', (ws) => {
    const conn = conns++;
    let dead = false;
    ws.on('message', (d) => {
      if (dead) return;
      frames.push(d.toString());
      // the first connection reads two frames, acknowledges only the first, and crashes
      if (conn === 0 && frames.length === 1) ws.send(JSON.stringify({ stmId: 'q', ack: 0 }));
      if (conn === 0 && frames.length === 2) {
        dead = true;
        ws.terminate();
      }
      if (conn > 0) ws.send(JSON.stringify({ stmId: 'q', ack: JSON.parse(d.toString()).seq }));
    });
  });
  await new Promise<void>((res) => http.listen(0, '127.0.0.1', () => res()));
  cleanup(() => new Promise<void>((res) => { for (const c of wss.clients) c.terminate(); wss.close(); http.close(() => res()); }));
  const { s } = sender({ target: { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`, backoffInitialMs: 20, backoffMaxMs: 100 }, ack: {} });
  for (let i = 0; i < 3; i++) s.push({ payload: pcmFor(0, i * 3200, 3200), ...FMT16K, stmId: 'q', traceId: 't', timestamp: T0 + i * 200 });
  await until(() => s.summary().acknowledged === 3, 10_000, 'all acknowledged');
  assert.deepEqual(Object.keys(JSON.parse(frames[0])), ['traceId', 'stmId', 'timestamp', 'data', 'seq']);
  assert.deepEqual(frames.map((f) => JSON.parse(f).seq), [0, 1, 1, 2], 'seq 1 unacknowledged when the receiver crashed: sent again');
  assert.equal(frames[1], frames[2], 'the re-sent frame is the same frame');
});

test('ack mode: a receiver process killed with SIGKILL 10 times mid-stream loses 0 chunks; without ack every lost chunk is counted unconfirmed', async () => {
  const withAck = await killRun({ ack: true, kills: 10 });
  console.log(`# kills with ack: ${JSON.stringify(withAck)}`);
  assert.equal(withAck.kills, 10);
  assert.equal(withAck.lost, 0, 'nothing lost with ack mode');
  assert.equal(withAck.unconfirmed + withAck.dropped, 0);
  assert.equal(withAck.acknowledged, withAck.chunksSent);
  const without = await killRun({ ack: false, kills: 10 });
  console.log(`# kills without ack: ${JSON.stringify(without)}`);
  assert.equal(without.silentlyLost, 0, 'every lost chunk counted');
  assert.equal(without.written, without.confirmed + without.unconfirmed);
  assert.equal(without.unconfirmedEvents, without.unconfirmed);
  assert.ok(without.received >= without.confirmed);
});

test('no reconnect storm: a receiver that accepts and closes at once is retried ever more slowly, and the events say why', async () => {
  const r = await closingReceiver({ readFrames: () => Infinity, end: () => 1000, refuse: { code: 4001, reason: 'invalid token' } });
  const { s, events } = sender({ target: { url: r.url, backoffInitialMs: 100, backoffMaxMs: 30_000 } });
  s.push({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'x' });
  await new Promise((res) => setTimeout(res, 3000));
  // 100, 200, 400, 800, 1600 ms (±20 %): at most 6 connections in 3 s (the old reset-on-open made 29)
  assert.ok(r.connections() <= 6, `${r.connections()} connections in 3 s`);
  assert.ok(r.connections() >= 3, `${r.connections()} connections in 3 s`);
  const d = events.filter((e) => e.event === 'disconnected');
  assert.ok(d.length >= 3);
  assert.equal(d[0].code, 4001);
  assert.equal(d[0].reason, 'invalid token');
  assert.equal(d[0].proven, false);
  assert.deepEqual(d.map((e) => e.earlyCloses), d.map((_e, i) => i + 1), 'closes in a row before any proved itself');
  const delays = events.filter((e) => e.event === 'reconnecting').map((e) => e.delayMs!);
  assert.ok(delays[2] > delays[0], `delays grow: ${delays.join(', ')}`);
});

test('the back-off starts over once a connection proved itself (a frame confirmed)', async () => {
  // each of the first 6 connections reads frames for about 0.25 s: long enough for a ping to confirm some
  const r = await closingReceiver({ readFrames: (c) => (c < 6 ? 8 : Infinity), end: () => 1011 });
  const { s, events } = sender({ target: { url: r.url, backoffInitialMs: 100, backoffMaxMs: 30_000, probeMs: 10 } });
  await feed(s, 40, 30);
  const d = events.filter((e) => e.event === 'disconnected');
  assert.ok(d.length >= 4, `${d.length} disconnects`);
  assert.ok(d.every((e) => e.proven === true), JSON.stringify(d.map((e) => [e.proven, e.earlyCloses])));
  const delays = events.filter((e) => e.event === 'reconnecting').map((e) => e.delayMs!);
  assert.ok(delays.every((ms) => ms <= 120), `each retry after a proven connection starts from the first delay: ${delays.join(', ')}`);
});

test('a reply larger than the maximum is an error event, not a message; the stream goes on', async () => {
  const r = await closingReceiver({ readFrames: () => Infinity, end: () => 1000, bigReply: 2 << 20 });
  const { s, events, replies } = sender({ target: { url: r.url, backoffInitialMs: 20, backoffMaxMs: 100 } });
  s.push({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'big' });
  await until(() => events.some((e) => e.event === 'error'), 10_000, 'error event');
  const err = events.find((e) => e.event === 'error')!.error as Error & { code?: string; params?: Record<string, unknown> };
  assert.equal(err.code, 'ws.replyTooLarge');
  assert.equal(err.params?.max, 1 << 20);
  assert.equal(replies.length, 0);
  // ws stops reading at the limit and ends the connection (1009 towards the server); then reconnects
  await until(() => events.some((e) => e.event === 'connected' && e.counters.reconnects === 1), 10_000, 'reconnected');
  await s.close();

  const r2 = await closingReceiver({ readFrames: () => Infinity, end: () => 1000, bigReply: 2 << 20 });
  const big = sender({ target: { url: r2.url, maxReplyBytes: 4 << 20 } });
  big.s.push({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'big' });
  await until(() => big.replies.length === 1, 10_000, 'a reply under a raised maximum');
  assert.equal(big.events.filter((e) => e.event === 'error').length, 0);
});
