/**
 * The receiver-kill scenario shared by test/ws/delivery.test.ts and bench/soak/ws-kills.ts: a real
 * receiver process (test/peers/ws-receiver.ts --lines, a `ws` server) takes a live stream from
 * WsSender and is killed with SIGKILL mid-stream again and again, restarted on the same port each
 * time. Every frame it consumed is a line on its stdout (synchronous on a pipe, so a kill loses
 * none of them); each chunk is known by its timestamp (unique per stream). The figures say what
 * was lost and whether the sender's counters accounted for it.
 */
import { join } from 'node:path';
import { WsSender, type SenderEvent } from '../../lib/ws';
import { freePort, sleep, spawnPeer, until, type Peer } from '../support/processes';
import { FMT16K, pcmFor } from './helpers';

export interface KillRunOptions {
  ack: boolean;
  kills: number;
  /** streams fed at once (default 2) */
  streams?: number;
  /** ms between chunks of each stream (default 10: 200 ms chunks at 20× real time) */
  everyMs?: number;
  /** stop killing after this long (default 55000): the run then reports the kills done */
  maxMs?: number;
}

export interface KillRunResult {
  /** chunks accepted by the sender (all streams) */
  chunksSent: number;
  /** distinct chunks the receiver processes consumed */
  received: number;
  /** chunks consumed more than once (re-sent after a kill, ack mode) */
  duplicates: number;
  lost: number;
  /** lost and counted neither unconfirmed nor dropped: must be 0 */
  silentlyLost: number;
  written: number;
  confirmed: number;
  acknowledged: number;
  unconfirmed: number;
  resent: number;
  dropped: number;
  kills: number;
  /** sums of the 'unconfirmed' and 'dropped' events' counts (must equal the counters) */
  unconfirmedEvents: number;
  droppedEvents: number;
}

const T0 = 1_700_000_000_000;

export async function killRun(o: KillRunOptions): Promise<KillRunResult> {
  const script = join(__dirname, '..', 'peers', 'ws-receiver.js');
  const port = await freePort();
  const consumed = new Map<string, number>(); // "stmId ts" → times consumed
  let incarnationFrames = 0;
  let peer: Peer | undefined;
  const peers: Peer[] = [];
  const start = async (): Promise<void> => {
    let up = false;
    incarnationFrames = 0;
    peer = spawnPeer(process.execPath, [script, String(port), '--lines', ...(o.ack ? ['--ack'] : [])], 120_000, {
      onLine: (line) => {
        if (!line) return;
        const e = JSON.parse(line) as { port?: number; stmId?: string; ts?: number };
        if (e.port) up = true;
        else if (e.stmId !== undefined) {
          incarnationFrames++;
          const k = `${e.stmId} ${e.ts}`;
          consumed.set(k, (consumed.get(k) ?? 0) + 1);
        }
      },
    });
    peers.push(peer);
    const p = peer;
    await until(() => up || p.child.exitCode !== null, 20_000, 'receiver listening');
    if (!up) throw new Error(`receiver did not start: ${p.stderr()}`);
  };
  const streams = o.streams ?? 2;
  const s = new WsSender({
    target: { url: `ws://127.0.0.1:${port}/asr`, backoffInitialMs: 30, backoffMaxMs: 300, queueMs: 120_000, pingIntervalMs: 1000 },
    ack: o.ack ? {} : undefined,
    flushTimeoutMs: 10_000,
  });
  const events: SenderEvent[] = [];
  s.on('event', (e: SenderEvent) => events.push(e));
  let fed = 0;
  let kills = 0;
  const end = Date.now() + (o.maxMs ?? 55_000);
  const left = () => Math.max(1000, end - Date.now());
  try {
    await start();
    const feeder = setInterval(() => {
      for (let i = 0; i < streams; i++) s.push({ payload: pcmFor(i, fed * 3200, 3200), ...FMT16K, stmId: `k${i}`, timestamp: T0 + fed * 200 });
      fed++;
    }, o.everyMs ?? 10);
    try {
      for (; kills < o.kills && Date.now() < end; kills++) {
        // mid-stream: after this receiver has consumed a few frames (a different number each time)
        const want = 4 + ((kills * 7) % 11);
        await until(() => incarnationFrames >= want, left(), `receiver ${kills} consuming`);
        peer!.kill('SIGKILL');
        await peer!.exited;
        await sleep(50 + ((kills * 37) % 150));
        await start();
      }
      await until(() => incarnationFrames >= 10, left(), 'the last receiver consuming');
    } finally {
      clearInterval(feeder);
    }
    for (let i = 0; i < streams; i++) s.push({ complete: true, stmId: `k${i}` });
    await s.close();
    await sleep(200); // its last lines
  } finally {
    await s.close();
    for (const p of peers) p.kill('SIGKILL');
  }
  const sum = s.summary();
  const chunksSent = fed * streams;
  const received = consumed.size;
  const lost = chunksSent - received;
  const sumOf = (kind: string) => events.filter((e) => e.event === kind).reduce((n, e) => n + (e.count ?? 0), 0);
  return {
    chunksSent,
    received,
    duplicates: [...consumed.values()].reduce((n, c) => n + c - 1, 0),
    lost,
    silentlyLost: Math.max(0, lost - sum.unconfirmed - sum.dropped),
    written: sum.written,
    confirmed: sum.confirmed,
    acknowledged: sum.acknowledged,
    unconfirmed: sum.unconfirmed,
    resent: sum.resent,
    dropped: sum.dropped,
    kills,
    unconfirmedEvents: sumOf('unconfirmed'),
    droppedEvents: sumOf('dropped'),
  };
}
