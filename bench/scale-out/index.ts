/**
 * scale-out: what coordinating stream workers through an MQTT broker costs, and how capacity
 * grows with workers, on this machine. Everything is a real process: Mosquitto, werift WHEP
 * sources (--per-source streams each), Node-RED processes running the Listen pipeline as nodes
 * (whep-in (dynamic, 16 kHz mono) → base64-ws-out), a ws receiver (this process) that counts the
 * 200 ms frames of each Node-RED process by the path it connects to.
 *
 * 1. Side by side, N streams each: a single Node-RED without broker (a function node starts the
 *    streams) and a worker (stream-lease on the broker, N start requests over MQTT), each pinned
 *    with taskset to a core of its own; the cores are swapped between windows so neither gets the
 *    better core. CPU from /proc. coordinationOverheadPct = median over windows of
 *    (worker's CPU per stream / single's CPU per stream) − 1; ...PerRealtimeStreamPct divides
 *    each side by its real-time ratio first (for a machine too busy to feed every stream).
 * 2. The single process stops; a second worker starts on its core and N more start requests
 *    go to the cluster: each worker's CPU per stream at that load (workers = 2).
 * 3. Ramp: two fresh workers (a core each, no maximum below --max); --step more streams at a
 *    time until the frames stop arriving in
 *    real time (ratio < 0.97) or --max streams; says whether the workers' cores or the rest of
 *    the machine (the sources run beside them) ran out first.
 *
 *   npm run bench -- scale-out [--streams 50] [--seconds 10] [--rounds 2] [--step 50] [--max 300]
 * Prints one JSON line: {coordinationOverheadPct, streamsPerWorker, workers, realtimeRatio, …}.
 * Figures come from a shared, loaded 2-core machine: the ratios are what to read.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { WebSocketServer } from 'ws';
import mqtt from 'mqtt';
import { median, numberOption, sleep } from '../support/stats';
import { startWhepSource } from '../support/peers';
import { linkPackage, makeUserDir, startNodeRed, type NodeRedProcess } from '../../test/support/node-red-process';
import { startBroker, workerFlows } from '../../test/cluster/support';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => numberOption(args, name, d);
const N = opt('streams', 50);
const seconds = opt('seconds', 10);
const rounds = opt('rounds', 2);
const step = opt('step', 50);
const maxTotal = opt('max', 300);
const perSource = opt('per-source', 50);
const warmup = opt('warmup', 5);
const PREFIX = 'la-bench';

const log = (s: string) => process.stderr.write(`[scale-out] ${s}\n`);
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** frames received per path (= per Node-RED process) */
const frames = new Map<string, number>();
/** the streams seen per path */
const streamsSeen = new Map<string, Set<string>>();

async function startReceiver(): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws, req) => {
    const who = (req.url ?? '/').slice(1);
    ws.on('message', (data) => {
      frames.set(who, (frames.get(who) ?? 0) + 1);
      // the stream id sits near the start of the JSON frame: no need to parse 6 KB of base64
      const m = /"stmId":"([^"]*)"/.exec(data.toString('latin1', 0, 200));
      if (m) (streamsSeen.get(who) ?? streamsSeen.set(who, new Set()).get(who)!).add(m[1]);
    });
  });
  return `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
}


interface Proc {
  name: string;
  red: NodeRedProcess;
  userDir: string;
  pid: number;
}

async function startRed(name: string, flows: unknown[], core: number): Promise<Proc> {
  const userDir = makeUserDir(`live-audio-scale-${name}-`);
  linkPackage(userDir);
  const red = await startNodeRed({ userDir, flows, timeoutMs: 120_000 });
  children.push(red.child);
  const p = { name, red, userDir, pid: red.child.pid! };
  pin(p, core);
  return p;
}

/** every thread of the process onto one core */
function pin(p: Proc, core: number): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(core), String(p.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset failed: ${r.stderr}`);
}

/** CPU ms (user + system) of a process so far, from /proc (clock ticks of 10 ms) */
function cpuMs(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** one measuring window over the given processes: CPU % of a core per stream, real-time ratio */
async function window(procs: Proc[], ms: number): Promise<Map<string, { cpuPct: number; streams: number; perStream: number; realtime: number }>> {
  const c0 = procs.map((p) => cpuMs(p.pid));
  const f0 = procs.map((p) => frames.get(p.name) ?? 0);
  const t0 = performance.now();
  await sleep(ms);
  const wall = performance.now() - t0;
  const out = new Map<string, { cpuPct: number; streams: number; perStream: number; realtime: number }>();
  procs.forEach((p, i) => {
    const cpuPct = ((cpuMs(p.pid) - c0[i]) / wall) * 100;
    const streams = streamsSeen.get(p.name)?.size ?? 0;
    const got = (frames.get(p.name) ?? 0) - f0[i];
    out.set(p.name, { cpuPct, streams, perStream: cpuPct / Math.max(1, streams), realtime: (got * 200) / (Math.max(1, streams) * wall) });
  });
  return out;
}

const until = async (cond: () => boolean, ms: number, what: string) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; streams seen: ${JSON.stringify([...streamsSeen].map(([k, v]) => [k, v.size]))}`);
    await sleep(250);
  }
};

async function main(): Promise<void> {
  const t0 = Date.now();
  const broker = await startBroker(3_600_000);
  children.push(broker.peer.child);
  const sources = await Promise.all(Array.from({ length: Math.ceil(Math.max(maxTotal, 2 * N) / perSource) }, async () => (await startWhepSource(children)).url));
  const urlFor = (i: number) => sources[Math.floor(i / perSource) % sources.length];
  const recv = await startReceiver();
  const dispatcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  const present = new Set<string>();
  dispatcher.on('message', (t, payload) => {
    const id = t.split('/').pop()!;
    if (payload.length) present.add(id);
    else present.delete(id);
  });
  await dispatcher.subscribeAsync(`${PREFIX}/worker/+`, { qos: 1 });
  // a start published before any worker subscribed is lost (nobody in the shared group)
  const ready = (...ids: string[]) => until(() => ids.every((id) => present.has(id)), 30_000, `workers ${ids.join(', ')} on the broker`);
  let next = 0;
  const dispatch = async (count: number) => {
    for (let i = 0; i < count; i++, next++) await dispatcher.publishAsync(`${PREFIX}/request`, JSON.stringify({ action: 'start', url: urlFor(next), stmId: `c${next}` }), { qos: 1 });
  };

  // 1. single process without broker vs one worker, side by side
  const singleStarts = `const urls = ${JSON.stringify(Array.from({ length: N }, (_, i) => urlFor(maxTotal - 1 - i)))};\nurls.forEach((url, i) => node.send({ action: 'start', url, stmId: 'single' + i }));\nreturn null;`;
  const singleFlows = [
    { id: 'tab', type: 'tab', label: 'single' },
    { id: 'go', z: 'tab', type: 'inject', once: true, onceDelay: 0.5, repeat: '', wires: [['starts']] },
    { id: 'starts', z: 'tab', type: 'function', func: singleStarts, outputs: 1, wires: [['whep']] },
    // the same nodes as a worker's, without stream-lease
    ...(workerFlows({ workerId: 'single', brokerUrl: broker.url, receiverUrl: `${recv}/single`, prefix: PREFIX, maxStreams: maxTotal }) as Array<Record<string, unknown>>)
      .filter((n) => n.type !== 'stream-lease' && n.type !== 'tab')
      .map((n) => (n.type === 'whep-in' ? { ...n, wires: [['out'], []] } : n)),
  ];
  // at most N each in the fixed-load phases, so the second worker gets exactly the N new ones
  const wflows = (id: string, max = N) => workerFlows({ workerId: id, brokerUrl: broker.url, receiverUrl: `${recv}/${id}`, prefix: PREFIX, maxStreams: max, takeoverS: 30 });
  const [single, w1] = await Promise.all([startRed('single', singleFlows, 0), startRed('w1', wflows('w1'), 1)]);
  await ready('w1');
  await dispatch(N);
  // on a loaded machine a few sessions may still be retrying: measure what runs, per stream
  await until(() => (streamsSeen.get('single')?.size ?? 0) >= N && (streamsSeen.get('w1')?.size ?? 0) >= N, 90_000, `${N} streams on each`).catch((e) => log(String(e.message)));
  log(`single and w1 run ${N} streams each after ${Date.now() - t0} ms; warming up`);
  await sleep(warmup * 1000);
  const ratios: number[] = [];
  const rtRatios: number[] = [];
  const singlePer: number[] = [];
  const workerPer: number[] = [];
  const realtime1: number[] = [];
  for (let r = 0; r < rounds * 2; r++) {
    pin(single, r % 2);
    pin(w1, 1 - (r % 2));
    await sleep(1000);
    const m = await window([single, w1], seconds * 1000);
    const s = m.get('single')!;
    const w = m.get('w1')!;
    log(`window ${r + 1}: single ${s.perStream.toFixed(3)} %/stream (${s.cpuPct.toFixed(0)} %, rt ${s.realtime.toFixed(3)}), w1 ${w.perStream.toFixed(3)} %/stream (${w.cpuPct.toFixed(0)} %, rt ${w.realtime.toFixed(3)})`);
    ratios.push(w.perStream / s.perStream);
    // when the machine cannot feed every stream in real time, CPU per stream delivered in real time compares fairly
    rtRatios.push(w.perStream / Math.max(1e-9, w.realtime) / (s.perStream / Math.max(1e-9, s.realtime)));
    singlePer.push(s.perStream);
    workerPer.push(w.perStream);
    realtime1.push(s.realtime, w.realtime);
  }
  await single.red.stop();

  // 2. two workers, a core each, N more streams through the broker
  const w2 = await startRed('w2', wflows('w2'), 0);
  pin(w1, 1);
  await ready('w1', 'w2');
  await dispatch(N);
  await until(() => (streamsSeen.get('w1')?.size ?? 0) + (streamsSeen.get('w2')?.size ?? 0) >= 2 * N, 90_000, `${2 * N} streams on 2 workers`).catch((e) => log(String(e.message)));
  await sleep(warmup * 1000);
  const two = await window([w1, w2], seconds * 1000);
  const t1 = two.get('w1')!;
  const t2 = two.get('w2')!;
  log(`2 workers: w1 ${t1.streams} streams ${t1.perStream.toFixed(3)} %/stream (rt ${t1.realtime.toFixed(3)}), w2 ${t2.streams} streams ${t2.perStream.toFixed(3)} %/stream (rt ${t2.realtime.toFixed(3)})`);

  // 3. ramp over 2 fresh workers that may take up to --max streams each
  await dispatcher.publishAsync(`${PREFIX}/request`, JSON.stringify({ action: 'stop' }), { qos: 1 });
  await sleep(3000);
  await Promise.all([w1.red.stop(), w2.red.stop()]);
  const [r1, r2] = await Promise.all([startRed('r1', wflows('r1', maxTotal), 0), startRed('r2', wflows('r2', maxTotal), 1)]);
  await ready('r1', 'r2');
  const rampSeen = () => (streamsSeen.get('r1')?.size ?? 0) + (streamsSeen.get('r2')?.size ?? 0);
  const base = next;
  let held = 0;
  let limit = `reached --max ${maxTotal}`;
  let last: typeof two = new Map();
  while (next - base < maxTotal) {
    await dispatch(Math.min(step, maxTotal - (next - base)));
    const want = next - base;
    try {
      await until(() => rampSeen() >= want, 60_000, `${want} streams`);
    } catch {
      limit = `streams did not all connect at ${want}`;
      break;
    }
    await sleep(3000);
    const m = await window([r1, r2], seconds * 1000);
    const a = m.get('r1')!;
    const b = m.get('r2')!;
    const rt = (a.realtime * a.streams + b.realtime * b.streams) / Math.max(1, a.streams + b.streams);
    log(`ramp ${want}: r1 ${a.streams} (${a.cpuPct.toFixed(0)} % of a core), r2 ${b.streams} (${b.cpuPct.toFixed(0)} %), real time ${rt.toFixed(3)}, load ${os.loadavg()[0].toFixed(1)}`);
    if (rt < 0.97) {
      const busy = Math.max(a.cpuPct, b.cpuPct);
      limit = busy > 90 ? `a worker's core was full (${busy.toFixed(0)} %) at ${want} streams` : `real time lost at ${want} streams with the workers at ${busy.toFixed(0)} % of their cores: the sources and the rest of the machine (2 cores shared) ran out first`;
      break;
    }
    held = want;
    last = m;
  }

  await Promise.all([r1.red.stop(), r2.red.stop()]);
  await dispatcher.endAsync(true);
  await broker.stop();
  for (const d of [single.userDir, w1.userDir, w2.userDir, r1.userDir, r2.userDir]) fs.rmSync(d, { recursive: true, force: true });
  const lw = [...last.values()];
  console.log(
    JSON.stringify({
      pipeline: 'Node-RED: [stream-lease →] whep-in (dynamic, 16 kHz mono) → base64-ws-out',
      workers: 2,
      streamsPerWorker: N,
      coordinationOverheadPct: +((median(ratios) - 1) * 100).toFixed(1),
      overheadPerWindowPct: ratios.map((r) => +((r - 1) * 100).toFixed(1)),
      coordinationOverheadPerRealtimeStreamPct: +((median(rtRatios) - 1) * 100).toFixed(1),
      singleCpuPctPerStream: +median(singlePer).toFixed(3),
      workerCpuPctPerStream: +median(workerPer).toFixed(3),
      twoWorkersCpuPctPerStream: [+t1.perStream.toFixed(3), +t2.perStream.toFixed(3)],
      twoWorkersStreams: [t1.streams, t2.streams],
      realtimeRatio: +Math.min(...realtime1, t1.realtime, t2.realtime).toFixed(3),
      maxRealtimeStreams: held,
      maxRealtimeStreamsPerWorker: lw.map((x) => x.streams),
      maxRealtimeCpuPct: lw.map((x) => +x.cpuPct.toFixed(0)),
      limitedBy: limit,
      windowS: seconds,
      loadAvg1: +os.loadavg()[0].toFixed(2),
      totalS: +((Date.now() - t0) / 1000).toFixed(1),
    }),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
