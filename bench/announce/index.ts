/**
 * Benchmark of the announcement stream (npm run bench -- announce [--drift-seconds N]; with
 * --video, the queue board's benchmark instead: bench/announce/video.ts):
 * one served Opus stream with 50 TCP players (in a child process), measuring
 *   firstPacketMs   message in -> first speech packet at a player (median of rounds; 10-word sentence)
 *   jitterP99Ms     p99 of |send time - scheduled time| of the frames the pacer hands to the RTSP
 *                   output (which sends them at once), the whole run but the "before" slices and
 *                   rounds; the same measured at the players, where the players' own scheduling
 *                   adds to it, is printed too (wireJitterP99Ms)
 *   driftPpm        RTP time against the wall clock at the players over the run: the change of
 *                   (arrival - RTP time) between the first and the last 3 s (5th percentiles), over the
 *                   run's length; --drift-seconds N adds N seconds of silence for a finer figure
 *   idleCpuPct      CPU of this process (pacer + encoder + 50 sockets), % of one core, silence
 *                   (120 ms silent packets, the default); 60 and 20 ms silent packets and the code
 *                   as it was before #1+#2 and before #4 (bench/announce/before.ts) are measured
 *                   side by side in rotating slices (idleCpuPctBy, medians), and in the same
 *                   slices bare Node: a process of its own waking up every 120 ms, bare and
 *                   writing one packet to each of 50 TCP connections (bench/announce/
 *                   bare-node.ts; idleBareNodeCpuPct, idleRatioToBareNode)
 *   speakingCpuPct  the same while speaking continuously (speech engine included)
 * and, before/after: after one unmeasured announcement (the process's first, cold: its first
 * packet is printed as coldFirstPacketMs), the 12 first-packet rounds take turns between now (120 ms silent packets,
 * resampler kept from the last announcement), 60 ms silent packets (firstPacketMsBy), and a
 * resampler made per announcement (before #3): |send - schedule| per round type
 * (announceJitterP99MsBy), the longest event-loop hold-up per round (announceLoopBlockMsBy), and
 * what making a resampler holds up the thread (resamplerMakeMs, median of 5). PCM announcements
 * (no rendering to hide the wait for the silent packet on air) alternate 120 and 60 ms silent
 * packets: message in -> on air (pcmWaitMsBy, the announcer's own waitedMs, median of 8 each).
 * Figures come from a shared, noisy 2-core machine; compare ratios within one run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { Pacer, createStation } from '../../lib/announce';
import { IDLE_FRAMES } from '../../lib/announce/stream';
import { dropKeptResamplers } from '../../lib/announce/resample';
import { Resampler } from '../../lib/resample';
import type { AnnouncementEvent, AnnouncementStream } from '../../lib/announce';
import { useOriginal, useSocketTimeouts } from './before';
import { median, pct, sleep } from '../support/stats';
import { nextMessage } from '../support/ipc';
import { freePort } from '../../test/support/processes';
import { videoBench } from './video';

const LISTENERS = 50;
const DEFAULT_IDLE = IDLE_FRAMES;
/** idle slices: rounds of one slice per variant, order rotating; slice length (ms) */
const IDLE_ROUNDS = 7;
const IDLE_SLICE_MS = 800;

/** A way to run the stream, switched on for some idle slices (the code before a change, or an alternative). */
interface Variant {
  name: string;
  set(station: AnnouncementStream, on: boolean): void;
  /** CPU % of one core over a slice of `ms`, measured elsewhere than in this process (bare Node) */
  measure?: (ms: number) => Promise<number>;
}
/** silent packets of `frames` 20 ms frames instead of the default while on */
const silence = (frames: number) => (station: AnnouncementStream, on: boolean) => {
  station.idleFrames = on ? frames : DEFAULT_IDLE;
};
const NOW = `now (${DEFAULT_IDLE * 20} ms silent packets)`;
const VARIANTS: Variant[] = [
  { name: '60 ms silent packets', set: silence(3) },
  { name: '20 ms silent packets', set: silence(1) },
  { name: 'before #1+#2', set: useOriginal },
  { name: 'before #4 (socket timeouts)', set: useSocketTimeouts },
  { name: NOW, set: () => undefined },
];
/**
 * Bare Node (bench/announce/bare-node.ts): Node alone on this machine, in a process of its own
 * with 50 TCP connections to a sink, doing the least an idle stream must: wake up once per silent
 * packet (120 ms), and write one packet of the stream's size to each connection. Measured in the
 * same rotating slices as the variants above (the stream keeps running here meanwhile): what the
 * idle figure is up against whatever our code does.
 */
const BARE_TIMER = `bare Node: timer every ${DEFAULT_IDLE * 20} ms (own process)`;
const BARE_WRITES = `bare Node: timer + ${LISTENERS} socket.write every ${DEFAULT_IDLE * 20} ms (own process)`;
const BARES = [BARE_TIMER, BARE_WRITES];
const SENTENCE = 'Ticket number A twelve, please proceed to counter three now.'; // 10 words
const SPEECH_RMS = 200; // decoded RMS above which a frame is speech (silence decodes to ~0)
const args = process.argv.slice(2);
const driftSeconds = Number(args[args.indexOf('--drift-seconds') + 1] || 0) || 0;

const wall = () => performance.timeOrigin + performance.now();

/** CPU of this process during `ms`, % of one core. */
function cpuDuring(ms: number): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return sleep(ms).then(() => {
    const c = process.cpuUsage(c0);
    return ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100;
  });
}

/**
 * Starts the bare-Node process (bench/announce/bare-node.ts) and gives its two variants, measured there:
 * the packet it writes is the size of the stream's silent packets as the players get them (RTP
 * packet + 4-byte interleaved header), read off the RTSP server's counters.
 */
async function startBareNode(station: AnnouncementStream): Promise<{ variants: Variant[]; stop(): void }> {
  const server = (station.output as unknown as { server: { bytesSent: number; packetsSent: number } }).server;
  const bytes = Math.round(server.bytesSent / Math.max(1, server.packetsSent)) + 4;
  const proc = fork(join(__dirname, 'bare-node.js'), [String(LISTENERS)], { stdio: 'inherit' });
  await nextMessage(proc, 20_000, 'the bare-Node process');
  const slice = (kind: 'timer' | 'writes') => async (ms: number) => {
    const answer = nextMessage<{ cpu: number }>(proc, ms + 10_000, 'the bare-Node process');
    proc.send({ cmd: 'slice', kind, ms, intervalMs: DEFAULT_IDLE * 20, bytes });
    return (await answer).cpu;
  };
  return {
    variants: [
      { name: BARE_TIMER, set: () => undefined, measure: slice('timer') },
      { name: BARE_WRITES, set: () => undefined, measure: slice('writes') },
    ],
    stop: () => proc.kill(),
  };
}

/** Least-squares line y = a + b x. */
function fit(x: number[], y: number[]): { a: number; b: number } {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  const b = sxy / sxx;
  return { a: my - b * mx, b };
}

/** The machine's own timer noise: a bare pacer doing nothing, |wake-up - schedule| per frame. */
async function barePacerJitter(ms: number): Promise<number[]> {
  const late: number[] = [];
  const p = new Pacer({ frameMs: 20, onFrame: (_n, due) => late.push(Math.abs(performance.now() - due)) });
  p.begin();
  await sleep(ms);
  p.stop();
  return late;
}

async function main(): Promise<void> {
  const bare = await barePacerJitter(2500);
  const bareP99 = pct(bare, 99);
  console.log(`bare pacer (no work, this machine's timer noise): |wake-up - schedule| p50 ${pct(bare, 50).toFixed(2)} ms, p99 ${bareP99.toFixed(2)} ms`);
  const port = await freePort();
  const url = `rtsp://127.0.0.1:${port}/announce`;
  const station = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'announce', codec: 'opus', voice: 'en-us', chime: 'none', maxQueue: 100 });
  const events: AnnouncementEvent[] = [];
  station.on('event', (e: AnnouncementEvent) => events.push(e));
  await station.start();
  await station.warmUp();
  // sender side: when each frame is handed to the output, against the pacer's schedule
  // (a packet of several silent frames is due at its first frame's time: its RTP timestamp)
  const late: number[] = [];
  const lateBy = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
  let sampling: number[] | undefined;
  /** a "before" variant is on: its frames are left out of the headline jitter */
  let inBefore = false;
  const out = station.output as unknown as { writeFrame(f: Buffer): void; writeSilence(k: number): number };
  const note = () => {
    const v = performance.now() - station.pacer.dueTime(station.pacer.frames - 1);
    if (!inBefore) late.push(v);
    sampling?.push(v);
  };
  const write = out.writeFrame.bind(out);
  out.writeFrame = (f: Buffer) => {
    note();
    write(f);
  };
  const writeSilence = out.writeSilence.bind(out);
  out.writeSilence = (k: number) => {
    note();
    return writeSilence(k);
  };
  await sleep(600);
  const idleAlonePct = await cpuDuring(2500);
  console.log(`idle CPU without players ${idleAlonePct.toFixed(2)} % of a core (pacer + Opus encoder)`);

  const child: ChildProcess = fork(join(__dirname, 'listeners.js'), [url, String(LISTENERS)], { stdio: 'inherit' });
  const messages: Array<{ type: string; [k: string]: unknown }> = [];
  child.on('message', (m: { type: string }) => messages.push(m));
  const wait = async (type: string, ms: number) => {
    const end = Date.now() + ms;
    for (;;) {
      const i = messages.findIndex((m) => m.type === type || m.type === 'fail');
      if (i >= 0) {
        const m = messages.splice(i, 1)[0];
        if (m.type === 'fail') throw new Error(`listeners: ${m.error}`);
        return m;
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${type} from the listeners`);
      await sleep(5);
    }
  };
  try {
    await wait('ready', 20000);
    const players = (station.output as unknown as { players: number }).players;
    console.log(`${players} TCP players on ${url}`);
    await sleep(400);

    // idle: silence to 50 players, each variant in turn (order rotating), same machine load; two
    // unmeasured rounds first: the first slices after the players joined measured up to twice the
    // later ones, for whichever variants they went to (code still being compiled, sockets settling)
    const bareNode = await startBareNode(station);
    const idleVariants = [...VARIANTS, ...bareNode.variants];
    for (let round = 0; round < 2; round++) {
      for (const v of idleVariants) {
        v.set(station, true);
        await (v.measure ? v.measure(500) : sleep(500));
        v.set(station, false);
      }
    }
    const idleBy = new Map<string, number[]>(idleVariants.map((v) => [v.name, []]));
    for (let round = 0; round < IDLE_ROUNDS; round++) {
      for (let i = 0; i < idleVariants.length; i++) {
        const v = idleVariants[(i + round) % idleVariants.length];
        v.set(station, true);
        await sleep(150);
        sampling = lateBy.get(v.name);
        inBefore = v.name !== NOW;
        idleBy.get(v.name)!.push(await (v.measure ? v.measure(IDLE_SLICE_MS) : cpuDuring(IDLE_SLICE_MS)));
        sampling = undefined;
        inBefore = false;
        v.set(station, false);
      }
    }
    bareNode.stop();
    const idle = idleVariants.map((v) => ({ v: v.name, cpu: median(idleBy.get(v.name)!), jitter: pct(lateBy.get(v.name)?.map(Math.abs) ?? [], 99) }));
    for (const r of idle) console.log(`idle, ${r.v}: CPU ${r.cpu.toFixed(2)} % of a core (median of ${idleBy.get(r.v)!.length} slices: ${idleBy.get(r.v)!.map((c) => c.toFixed(2)).join(' ')})${BARES.includes(r.v) ? '' : `, |send - schedule| p99 ${r.jitter.toFixed(2)} ms`}`);
    const idleCpuPct = idle.find((r) => r.v === NOW)!.cpu;
    const bareCpuPct = idle.find((r) => r.v === BARE_WRITES)!.cpu;
    console.log(`idle: the stream ${idleCpuPct.toFixed(2)} % against bare Node's ${bareCpuPct.toFixed(2)} % (timer + socket writes in a process of its own, same slices): ${(idleCpuPct / bareCpuPct).toFixed(2)} x`);

    // message in -> first speech packet at a player, then cut (interrupt) and wait for silence
    // rounds take turns: as now; with 60 ms silent packets; with the resampler made afresh for
    // the announcement (before #3)
    const kinds = ['now', '60 ms silent packets', 'before #3'] as const;
    const firstBy = new Map<string, number[]>(kinds.map((k) => [k, []]));
    const lateRound = { now: [] as number[], before: [] as number[] };
    // the longest the event loop (the pacer's thread) was held up in each round, ms
    const blockRound = { now: [] as number[], before: [] as number[] };
    // the process's first announcement, unmeasured but for its own first-packet time: its code
    // paths are still cold (the worker's first render, the first speech frames through the
    // encoder), and as round 0 it always fell to 'now' (its p99 and first packet showed it)
    inBefore = true;
    const coldT = wall();
    child.send({ type: 'watch', from: coldT, threshold: SPEECH_RMS });
    station.announce({ text: SENTENCE, id: 'cold' });
    const coldFirstPacketMs = ((await wait('speech', 5000)).at as number) - coldT;
    await sleep(300);
    station.announcer.interrupt();
    await sleep(300);
    inBefore = false;
    console.log(`first announcement of the process (cold, not in the rounds): first speech packet after ${coldFirstPacketMs.toFixed(0)} ms`);
    for (let round = 0; round < 12; round++) {
      const kind = kinds[round % 3];
      const before = kind === 'before #3';
      if (before) dropKeptResamplers();
      station.idleFrames = kind === '60 ms silent packets' ? 3 : DEFAULT_IDLE;
      await sleep(200 + ((round * 37) % 120)); // land anywhere within a silent packet
      sampling = before ? lateRound.before : kind === 'now' ? lateRound.now : undefined;
      inBefore = kind !== 'now';
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const t = wall();
      child.send({ type: 'watch', from: t, threshold: SPEECH_RMS });
      station.announce({ text: SENTENCE, id: `r${round}` });
      const m = await wait('speech', 5000);
      firstBy.get(kind)!.push((m.at as number) - t);
      await sleep(300);
      station.announcer.interrupt();
      await sleep(300);
      sampling = undefined;
      inBefore = false;
      loop.disable();
      if (kind !== '60 ms silent packets') (before ? blockRound.before : blockRound.now).push(Math.max(0, loop.max / 1e6 - 1));
    }
    station.idleFrames = DEFAULT_IDLE;
    // PCM announcements: nothing to render, so the wait for the silent packet on air shows whole
    const pcmWaitBy = new Map<string, number[]>([[NOW, []], ['60 ms silent packets', []]]);
    const beep = { pcm: Buffer.alloc(48000 * 2 * 0.1, 1), rate: 48000, channels: 1 };
    for (let round = 0; round < 16; round++) {
      const sixty = round % 2 === 1;
      station.idleFrames = sixty ? 3 : DEFAULT_IDLE;
      await sleep(300 + ((round * 53) % 120));
      const id = `p${round}`;
      inBefore = true;
      station.announce({ id, audio: beep, chime: false });
      const deadline = Date.now() + 3000;
      while (!events.some((e) => e.event === 'finished' && e.id === id) && Date.now() < deadline) await sleep(20);
      inBefore = false;
      const started = events.find((e) => e.event === 'started' && e.id === id);
      if (started) pcmWaitBy.get(sixty ? '60 ms silent packets' : NOW)!.push(started.waitedMs ?? 0);
    }
    station.idleFrames = DEFAULT_IDLE;
    const pcmWaitMsBy = Object.fromEntries([...pcmWaitBy].map(([k, v]) => [k, median(v)]));
    console.log(`PCM message in -> on air (announcer's waitedMs, median of ${pcmWaitBy.get(NOW)!.length}): ${[...pcmWaitBy].map(([k, v]) => `${k} ${median(v)} ms (${v.join(' ')})`).join('; ')}`);
    // what before #3 did on the pacer's thread at every announcement: make a resampler from the
    // engine's rate (eSpeak NG: 22050 Hz) to the stream's, in one piece (design + wasm instance)
    const makeMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      new Resampler({ inRate: 22050, inChannels: 1, outRate: 48000, outChannels: 1 });
      makeMs.push(performance.now() - t0);
      await sleep(50);
    }
    console.log(`making a 22050 -> 48000 Hz resampler (before #3: at every announcement, on the pacer's thread): ${makeMs.map((v) => v.toFixed(1)).join(', ')} ms`);
    const roundJitter = (a: number[], b: number[]) => ({ p99: pct(a.map(Math.abs), 99), max: Math.max(...a.map(Math.abs)), n: a.length, block: median(b) });
    const announceJitter = { now: roundJitter(lateRound.now, blockRound.now), before: roundJitter(lateRound.before, blockRound.before) };
    for (const [k, r] of [['resampler kept', announceJitter.now], ['resampler made per announcement (before #3)', announceJitter.before]] as const) {
      console.log(`announcement rounds, ${k}: |send - schedule| p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(1)} ms (${r.n} frames); longest event-loop hold-up per round (median) ${r.block.toFixed(1)} ms (${(k === 'resampler kept' ? blockRound.now : blockRound.before).map((v) => v.toFixed(1)).join(' ')})`);
    }
    const firstPacketMs = median(firstBy.get('now')!);
    const firstPacketMsBy = Object.fromEntries([...firstBy].map(([k, v]) => [k, Math.round(median(v) * 10) / 10]));
    const rounds = events.filter((e) => e.event === 'started' && /^r\d+$/.test(e.id) && Number(e.id.slice(1)) % 3 === 0); // the 'now' rounds
    // ready (rendered) -> on air, ms (Date.now): what the 60 ms silent packets cost an announcement
    const readyToAirMs = median(rounds.map((e) => (e.waitedMs ?? 0) - (e.renderMs ?? 0)));
    console.log(`rendered -> on air (median): ${readyToAirMs} ms with ${DEFAULT_IDLE * 20} ms silent packets`);
    console.log(`engine render ms: ${rounds.map((e) => e.renderMs).join(', ')}; queue wait ms: ${rounds.map((e) => e.waitedMs).join(', ')}`);
    for (const [k, v] of firstBy) console.log(`first speech packet, ${k}: after ${v.map((x) => x.toFixed(0)).join(', ')} ms (median ${median(v).toFixed(1)})`);

    // speaking continuously: the sentence queued back to back
    for (let i = 0; i < 4; i++) station.announce({ text: SENTENCE, id: `s${i}`, repeat: 1 });
    await sleep(500);
    const speakLate: number[] = [];
    sampling = speakLate;
    const speakingCpuPct = await cpuDuring(4000);
    sampling = undefined;
    const speakingJitterP99Ms = pct(speakLate.map(Math.abs), 99);
    station.announcer.interrupt();
    // end on silence, as the run began: the drift figure compares like with like (an encoded
    // speech frame leaves ~0.1 ms later than the reused silent packet)
    await sleep(3000);
    console.log(`speaking CPU ${speakingCpuPct.toFixed(2)} % of a core, |send - schedule| p99 ${speakingJitterP99Ms.toFixed(2)} ms`);
    if (driftSeconds > 0) {
      console.log(`drift run: ${driftSeconds} s more`);
      await sleep(driftSeconds * 1000);
    }

    child.send({ type: 'report' });
    const rep = (await wait('report', 20000)) as unknown as { recs: Array<{ at: number[]; ts: number[]; size: number[] }> };
    // per player: RTP time (ms, unwrapped) against arrival; wire jitter = distance to the fitted
    // line; drift = how (arrival - RTP time) moved from the start to the end of the run (medians)
    const dev: number[] = [];
    const drifts: number[] = [];
    for (const r of rep.recs) {
      if (r.at.length < 100) continue;
      const rtpMs: number[] = [];
      let base = r.ts[0];
      let wraps = 0;
      for (let i = 0; i < r.ts.length; i++) {
        if (i > 0 && r.ts[i] < r.ts[i - 1] - 2 ** 31) wraps++;
        rtpMs.push(((r.ts[i] - base + wraps * 2 ** 32) / 48000) * 1000);
      }
      const at = r.at.map((v) => v - r.at[0]);
      const { a, b } = fit(rtpMs, at);
      for (let i = 0; i < at.length; i++) dev.push(Math.abs(at[i] - (a + b * rtpMs[i])));
      const off = at.map((v, i) => v - rtpMs[i]);
      const n3 = Math.floor(3000 / 20);
      const span = rtpMs[rtpMs.length - 1] - rtpMs[0];
      // the 5th percentile: the least-delayed packets, whose delay the players' own load varies least
      drifts.push(((pct(off.slice(-n3), 5) - pct(off.slice(0, n3), 5)) / span) * 1e6);
      base = 0;
    }
    const runMs = rep.recs[0].at[rep.recs[0].at.length - 1] - rep.recs[0].at[0];
    const wireJitterP99Ms = pct(dev, 99);
    const driftPpm = median(drifts);
    const sendDev = late.slice(50).map((v) => Math.abs(v));
    const jitterP99Ms = pct(sendDev, 99);
    console.log(`pacer: ${sendDev.length} frames sent, |send - schedule| p50 ${pct(sendDev, 50).toFixed(2)} ms, p99 ${jitterP99Ms.toFixed(2)} ms, max ${Math.max(...sendDev).toFixed(1)} ms`);
    console.log(`players: ${dev.length} packets at ${drifts.length} players over ${(runMs / 1000).toFixed(1)} s: arrival jitter p50 ${pct(dev, 50).toFixed(2)} ms, p99 ${wireJitterP99Ms.toFixed(2)} ms; drift ${driftPpm.toFixed(1)} ppm`);
    console.log('(figures from a shared, noisy 2-core machine)');
    console.log(
      JSON.stringify({
        firstPacketMs: Math.round(firstPacketMs * 10) / 10,
        jitterP99Ms: Math.round(jitterP99Ms * 100) / 100,
        driftPpm: Math.round(driftPpm * 10) / 10,
        idleCpuPct: Math.round(idleCpuPct * 100) / 100,
        speakingCpuPct: Math.round(speakingCpuPct * 100) / 100,
        listeners: players,
        idleNoPlayersCpuPct: Math.round(idleAlonePct * 100) / 100,
        wireJitterP99Ms: Math.round(wireJitterP99Ms * 100) / 100,
        barePacerJitterP99Ms: Math.round(bareP99 * 100) / 100,
        idleFrames: DEFAULT_IDLE,
        idleCpuPctBy: Object.fromEntries(idle.map((r) => [r.v, Math.round(r.cpu * 100) / 100])),
        idleJitterP99MsBy: Object.fromEntries(idle.filter((r) => !BARES.includes(r.v)).map((r) => [r.v, Math.round(r.jitter * 100) / 100])),
        idleBareNodeCpuPct: Math.round(bareCpuPct * 100) / 100,
        idleRatioToBareNode: Math.round((idleCpuPct / bareCpuPct) * 100) / 100,
        readyToAirMs,
        firstPacketMsBy,
        coldFirstPacketMs: Math.round(coldFirstPacketMs * 10) / 10,
        pcmWaitMsBy,
        announceJitterP99MsBy: { now: Math.round(announceJitter.now.p99 * 100) / 100, 'before #3': Math.round(announceJitter.before.p99 * 100) / 100 },
        resamplerMakeMs: Math.round(median(makeMs) * 10) / 10,
        announceLoopBlockMsBy: { now: Math.round(announceJitter.now.block * 10) / 10, 'before #3': Math.round(announceJitter.before.block * 10) / 10 },
        speakingJitterP99Ms: Math.round(speakingJitterP99Ms * 100) / 100,
      }),
    );
  } finally {
    child.kill();
    await station.close();
  }
}

(args.includes('--video') ? videoBench(args) : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
