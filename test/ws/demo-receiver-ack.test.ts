/**
 * The demo ASR receiver (demo/asr-receiver.ts) speaks base64-ws-out's ack mode: it acknowledges
 * each frame's seq once consumed and uses a re-sent duplicate only once.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startAsrReceiver, type AsrReceiver } from '../../demo/asr-receiver';
import { WsSender } from '../../lib/ws';
import { until } from '../support/processes';
import { FMT16K, pcmFor } from './helpers';

let rx: AsrReceiver | undefined;
let sender: WsSender | undefined;
after(async () => {
  await sender?.close();
  await rx?.close();
});

test('demo ASR receiver: acknowledges by seq (the sender releases every frame) and ignores a re-sent duplicate', async () => {
  rx = await startAsrReceiver({ port: 0, log: () => undefined });
  sender = new WsSender({ target: { url: rx.url, backoffInitialMs: 20, backoffMaxMs: 100 }, ack: {} });
  for (let i = 0; i < 5; i++) sender.push({ payload: pcmFor(0, i * 3200, 3200), ...FMT16K, stmId: 'demo-ack', timestamp: 1_700_000_000_000 + i * 200 });
  await until(() => sender!.summary().acknowledged === 5, 10_000, 'five acknowledged');
  // a duplicate of seq 4, as a sender re-sends it after a reconnect
  const ws = new WebSocket(rx.url);
  await new Promise<void>((res, rej) => ws.once('open', () => res()).once('error', rej));
  const acks: unknown[] = [];
  ws.on('message', (d) => acks.push(JSON.parse(d.toString())));
  ws.send(JSON.stringify({ stmId: 'demo-ack', timestamp: 1_700_000_000.8, data: pcmFor(0, 4 * 3200, 3200).toString('base64'), seq: 4 }));
  await until(() => acks.length === 1, 10_000, 'the duplicate acknowledged');
  assert.deepEqual(acks[0], { stmId: 'demo-ack', ack: 4 });
  const st = rx.streams().find((s) => s.stmId === 'demo-ack')!;
  assert.equal(st.chunks, 5, 'the duplicate was not used twice');
  assert.equal(st.duplicates, 1);
  ws.close();
});
