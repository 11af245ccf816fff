/**
 * Benchmark of base64-ws-out:  npm run bench -- ws [--streams N] [--seconds S] [--msgMs M]
 *
 * N concurrent 16 kHz mono streams, in M ms messages (default 20 ms, what whep-in emits), go
 * through the real node (Node-RED 4.1 runtime via node-red-node-test-helper) at 200 ms chunks to a
 * real `ws` receiver running in a separate process (so its CPU is not ours). Measures:
 *  - cpuPctPerStream: % of one core per stream spent by this process on the WebSocket leg =
 *    (CPU while streaming through base64-ws-out − CPU of the same feed into a no-op node) / N;
 *  - p50Ms/p99Ms: from the message that completes a chunk entering the node to the frame being
 *    read by the receiver (the receiver's clock offset is measured over IPC, best of 30 pings);
 *  - chunksPerSec delivered, and lost = chunks sent − chunks received.
 * The feed rotates every second (in an order that changes each round) between three nodes of one flow: a no-op node (baseline), base64-ws-out
 * with zero masking keys (zeroMask) and base64-ws-out with random keys (the default, RFC 6455), so
 * the three see the same machine load; CPU figures are medians over the slices after the first
 * round (warm-up); latency percentiles are taken per slice and the median over slices reported
 * (the worst slice is printed too). The last line is the default's.
 * Figures come from a shared, noisy 2-core machine: compare runs side by side, not across days.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WsSender } from '../../lib/ws';
import { getNode, helper, load, startServer, stopServer, unload, until, type NodeModule } from '../../test/support/node-red';
import { median, pct, sleep } from '../support/stats';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!(v > 0)) throw new Error(`--${name} must be a positive number`);
  return v;
}
const N = Math.round(arg('streams', 50));
const SECONDS = arg('seconds', 30);
/** the feed rotates between the no-op node, zero-key and random-key base64-ws-out every SLICE_MS */
const SLICE_MS = 1000;
/** which leg a slice feeds: the order rotates each round, so no leg always follows the same one (GC spill-over) */
const legOf = <T>(legs: readonly T[], slice: number): T => legs[(slice + Math.floor(slice / legs.length)) % legs.length];
const MSG_MS = arg('msgMs', 20);
const RATE = 16000;
const CHUNK_MS = 200;
const now = () => performance.timeOrigin + performance.now();

function ask<T>(child: ChildProcess, msg: unknown, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`receiver did not answer ${key}`)), 10_000);
    const on = (m: any) => {
      if (m && key in m) {
        clearTimeout(t);
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
    child.send(msg as any);
  });
}

/** receiver clock − our clock (ms), from the ping with the shortest round trip. */
async function clockOffset(child: ChildProcess): Promise<{ offset: number; rtt: number }> {
  let best = { offset: 0, rtt: Infinity };
  for (let i = 0; i < 30; i++) {
    const t0 = now();
    const { clock } = await ask<{ clock: number }>(child, { cmd: 'clock' }, 'clock');
    const t1 = now();
    if (t1 - t0 < best.rtt) best = { offset: clock - (t0 + t1) / 2, rtt: t1 - t0 };
  }
  return best;
}


/**
 * The engine alone (contract check, per-stream chunking, frame building; the connection never
 * opens so frames just queue): µs per 20 ms message, to tell our code's share from ws + kernel.
 */
function engineMicros(): number {
  const tone = Buffer.alloc(((RATE * MSG_MS) / 1000) * 2, 1);
  const fmt = { rate: RATE, channels: 1, bits: 16, encoding: 'signed-integer', endianness: 'little' };
  const n = 50_000;
  const runs: number[] = [];
  for (let round = 0; round < 5; round++) {
    const s = new WsSender({ target: { url: 'ws://127.0.0.1:9/nowhere', queueMs: 1e9, backoffInitialMs: 1e6, backoffMaxMs: 1e6 }, closePolicy: 'drop' });
    s.on('event', () => undefined);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) s.push({ payload: tone, ...fmt, stmId: `e${i % N}`, traceId: 't' });
    runs.push(((performance.now() - t0) * 1000) / n);
    void s.close();
  }
  return runs.sort((a, b) => a - b)[2];
}

async function main(): Promise<void> {
  const engineUs = engineMicros();
  const receiverJs = join(__dirname, '..', '..', 'test', 'peers', 'ws-receiver.js');
  const child = fork(receiverJs, ['0'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 44_000);
  killer.unref();
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: any) => resolve(m.port));
      child.once('exit', () => reject(new Error('receiver exited')));
    });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const out = require('../../nodes/base64-ws-out/base64-ws-out') as NodeModule;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const target = require('../../nodes/live-audio-ws-target/live-audio-ws-target') as NodeModule;
    await startServer();
    const outDef = { type: 'base64-ws-out', chunkSize: CHUNK_MS, chunkUnit: 'ms', frameMode: 'json', queueSeconds: 30, policy: 'drop-oldest', closePolicy: 'flush', wires: [[], []] };
    const url = `ws://127.0.0.1:${port}/bench`;
    await load(
      [target, out],
      [
        { id: 'tz', type: 'live-audio-ws-target', url, mode: 'shared', tlsVerify: true, pingInterval: 15, zeroMask: true },
        { id: 'tr', type: 'live-audio-ws-target', url, mode: 'shared', tlsVerify: true, pingInterval: 15, zeroMask: false },
        { id: 'zero', target: 'tz', ...outDef },
        { id: 'rfc', target: 'tr', ...outDef },
        { id: 'noop', type: 'helper' },
      ],
    );
    for (const id of ['zero', 'rfc']) await until(() => (getNode(id) as any).status.lastCall?.args[0]?.fill === 'green', 10_000, `${id} connected`);
    // the test helper wraps send/status/log/trace… of every node in sinon spies that record each
    // call: a test-only cost a real Node-RED does not have, so take them off for the measurement
    helper._sandbox.restore();

    const samples = (RATE * MSG_MS) / 1000;
    const perChunk = CHUNK_MS / MSG_MS;
    const tone = Buffer.alloc(samples * 2);
    for (let i = 0; i < samples; i++) tone.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / RATE)), i * 2);
    const fmt = { rate: RATE, channels: 1, bits: 16, encoding: 'signed-integer', endianness: 'little' };
    const legs = ['noop', 'zero', 'rfc'] as const;
    type Leg = (typeof legs)[number];
    const nodes = Object.fromEntries(legs.map((l) => [l, getNode(l)])) as Record<Leg, ReturnType<typeof getNode>>;
    const sids = Object.fromEntries(legs.map((l) => [l, Array.from({ length: N }, (_, i) => `${l}-${i}`)])) as Record<Leg, string[]>;
    // per leg: messages fed per stream so far (streams continue across slices), chunk input times
    const fed = Object.fromEntries(legs.map((l) => [l, new Array<number>(N).fill(0)])) as Record<Leg, number[]>;
    const tIn = Object.fromEntries(legs.map((l) => [l, sids[l].map(() => [] as number[])])) as Record<Leg, number[][]>;
    const sliceOf = Object.fromEntries(legs.map((l) => [l, sids[l].map(() => [] as number[])])) as Record<Leg, number[][]>;
    const warmChunks = Object.fromEntries(legs.map((l) => [l, new Array<number>(N).fill(0)])) as Record<Leg, number[]>;
    const cpu: Record<Leg, number[]> = { noop: [], zero: [], rfc: [] };

    const start = now();
    let tick = 0;
    let slice = -1;
    let sliceCpu = process.cpuUsage();
    let sliceWall = now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        // catch up after a late tick, so the feed keeps real-time pace on a loaded machine
        const due = Math.floor((now() - start) / MSG_MS);
        for (; tick <= due; tick++) {
          const sl = Math.floor((tick * MSG_MS) / SLICE_MS);
          if (sl !== slice) {
            const c = process.cpuUsage(sliceCpu);
            if (slice >= legs.length) cpu[legOf(legs, slice)].push((c.user + c.system) / 1000 / (now() - sliceWall));
            if (sl === legs.length) for (const l of legs) warmChunks[l] = tIn[l].map((a) => a.length);
            slice = sl;
            sliceCpu = process.cpuUsage();
            sliceWall = now();
          }
          const leg = legOf(legs, slice);
          for (let st = 0; st < N; st++) {
            // streams start at different ticks, as real calls do, so their chunks do not all
            // complete in the same tick
            if (tick < st % perChunk) continue;
            const n = fed[leg][st]++;
            if ((n + 1) % perChunk === 0) {
              tIn[leg][st].push(now());
              sliceOf[leg][st].push(slice);
            }
            nodes[leg].receive({ payload: tone, ...fmt, stmId: sids[leg][st], traceId: sids[leg][st] });
          }
        }
        if (now() - start >= SECONDS * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, MSG_MS);
    });
    for (const l of ['zero', 'rfc'] as const) for (const id of sids[l]) nodes[l].receive({ stmId: id, complete: true });
    const clock = await clockOffset(child);
    let report: Record<string, number[]> = {};
    const deadline = Date.now() + 5000;
    const all = (['zero', 'rfc'] as const).flatMap((l) => sids[l].map((id, st) => [id, tIn[l][st].length] as const));
    while (Date.now() < deadline) {
      ({ report } = await ask<{ report: Record<string, number[]> }>(child, { cmd: 'report' }, 'report'));
      if (all.every(([id, n]) => (report[id]?.length ?? 0) >= n)) break;
      await sleep(100);
    }
    const base = median(cpu.noop);
    const measureSeconds = ((SECONDS * 1000) / legs.length) / 1000;
    const figures = (l: 'zero' | 'rfc') => {
      // latency percentiles per slice (after the warm-up round), then the median over slices:
      // one stall of the shared machine then spoils one slice, not the figure
      const bySlice = new Map<number, number[]>();
      let sent = 0;
      let received = 0;
      for (let st = 0; st < N; st++) {
        const got = report[sids[l][st]] ?? [];
        sent += tIn[l][st].length;
        received += Math.min(got.length, tIn[l][st].length);
        for (let k = warmChunks[l][st]; k < tIn[l][st].length && k < got.length; k++) {
          const sl = sliceOf[l][st][k];
          if (!bySlice.has(sl)) bySlice.set(sl, []);
          bySlice.get(sl)!.push(got[k] - clock.offset - tIn[l][st][k]);
        }
      }
      const slices = [...bySlice.values()];
      return {
        streams: N,
        cpuPctPerStream: Number(((100 * (median(cpu[l]) - base)) / N).toFixed(4)),
        chunksPerSec: Number((sent / measureSeconds).toFixed(1)),
        p50Ms: Number(median(slices.map((a) => pct(a, 50))).toFixed(3)),
        p99Ms: Number(median(slices.map((a) => pct(a, 99))).toFixed(3)),
        lost: sent - received,
        worstSliceP99Ms: Number(Math.max(...slices.map((a) => pct(a, 99))).toFixed(3)),
      };
    };
    const zero = figures('zero');
    const rfc = figures('rfc');
    const pctOf = (a: number[]) => a.map((x) => (100 * x).toFixed(2)).join('/');
    console.log(
      `# ${N} streams × ${MSG_MS} ms messages → ${CHUNK_MS} ms chunks; feed rotated every ${SLICE_MS / 1000} s over ${SECONDS} s; shared, noisy 2-core machine\n` +
        `# process CPU % of a core per slice — no-op node: ${pctOf(cpu.noop)}; zero keys: ${pctOf(cpu.zero)}; random keys: ${pctOf(cpu.rfc)} (medians used, baseline subtracted)\n` +
        `# zero masking keys: ${JSON.stringify(zero)}\n` +
        `# engine alone (chunking + frame building, no socket; median of 5): ${engineUs.toFixed(2)} µs per message = ${((engineUs * (1000 / MSG_MS)) / 1e4).toFixed(4)} % of a core per stream\n` +
        `# CPU ratio random/zero keys: ${(rfc.cpuPctPerStream / zero.cpuPctPerStream).toFixed(2)}; receiver clock offset known to ±${(clock.rtt / 2).toFixed(3)} ms; last line: default (random keys)`,
    );
    const { worstSliceP99Ms: worstRfc, ...last } = rfc;
    console.log(`# random keys: worst slice p99 ${worstRfc} ms (median over slices reported below)`);
    console.log(JSON.stringify(last));
    await unload();
    await stopServer();
  } finally {
    child.kill();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
