/**
 * lib/ws/connection.ts batch(): frames handed to one connection in the same event-loop turn wait
 * in the corked socket until the turn ends and leave together, in order, each exactly once; over
 * TLS too. Switched off, every frame is written at once.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { setWriteBatching, WsConnection } from '../../lib/ws';
import { until } from '../support/processes';
import { selfSignedCert } from './helpers';
import { missingPeer } from '../support/peers';

const socketOf = (c: WsConnection) => (c as unknown as { socket: Socket | undefined }).socket;

async function receiver(tls: boolean): Promise<{ url: string; got: string[]; close(): Promise<void> }> {
  const got: string[] = [];
  const https = tls ? createServer(selfSignedCert()) : undefined;
  const wss = https ? new WebSocketServer({ server: https }) : new WebSocketServer({ port: 0, host: '127.0.0.1' });
  if (https) await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  else await new Promise<void>((r) => wss.once('listening', r));
  wss.on('connection', (ws) => ws.on('message', (d) => got.push(String(d))));
  const port = ((https ?? wss).address() as AddressInfo).port;
  return {
    url: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/`,
    got,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => (https ? https.close(() => resolve()) : resolve()));
      }),
  };
}

describe('ws write batching (one write per connection per event-loop turn)', () => {
  after(() => setWriteBatching(true));

  for (const tls of [false, true]) {
    test(`frames of one turn wait for its end and all arrive in order (${tls ? 'wss' : 'ws'})`, { skip: tls && missingPeer('openssl') }, async () => {
      const r = await receiver(tls);
      const c = new WsConnection({ url: r.url, rejectUnauthorized: false });
      try {
        c.start();
        await new Promise((resolve) => c.once('connected', resolve));
        const socket = socketOf(c);
        assert.ok(socket, "the connection knows the socket from ws's 'upgrade' event");
        const frames = Array.from({ length: 20 }, (_, i) => `frame ${i} `.padEnd(8000, String.fromCharCode(97 + (i % 26))));
        for (const f of frames) c.send({ data: f, key: 's', ms: 200 });
        assert.ok(socket.writableCorked > 0, 'corked until the turn ends');
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(socket.writableCorked, 0, 'uncorked once the turn has ended');
        await until(() => r.got.length === 20, 10_000, 'the 20 frames did not all arrive');
        assert.deepEqual(r.got, frames);
        await until(() => c.countersNow.sent === 20 && c.depth === 0, 10_000, 'the 20 frames were not confirmed');
      } finally {
        await c.close();
        await r.close();
      }
    });
  }

  test('switched off, each frame is written at once', async () => {
    setWriteBatching(false);
    const r = await receiver(false);
    const c = new WsConnection({ url: r.url });
    try {
      c.start();
      await new Promise((resolve) => c.once('connected', resolve));
      for (let i = 0; i < 5; i++) c.send({ data: `f${i}`, key: 's', ms: 20 });
      assert.equal(socketOf(c)!.writableCorked, 0);
      await until(() => r.got.length === 5, 10_000, 'the 5 frames did not all arrive');
      assert.deepEqual(r.got, ['f0', 'f1', 'f2', 'f3', 'f4']);
    } finally {
      setWriteBatching(true);
      await c.close();
      await r.close();
    }
  });
});
