/**
 * whep-in benchmark: N WHEP streams from werift sources (child processes, so their CPU is not
 * counted) into the whep-in engine in this process, and by default on through the rest of the
 * Listen pipeline as a flow wires it: every message goes through the resample engine
 * (lib/resample, the node's defaults; at 16 kHz mono output a pass-through, as in a flow where
 * whep-in already decodes to 16 kHz) and the base64-ws-out engine (lib/ws WsSender: seed JSON
 * frames, 200 ms chunks, one shared connection, RFC 6455 random masks) to a real `ws` receiver
 * in a child process (test/peers/ws-receiver.ts; its CPU is not counted).
 *
 *   npm run bench -- whep --streams 50 [--seconds 10] [--rate 16000 --channels 1] [--chunk 20] [--warmup 5] [--voip]
 *   --whep-only: the whep-in engine alone (the measurement before 2026-11-21)
 *   --node-red: the same pipeline as a user runs it, nodes in a real Node-RED (4.1, a process of
 *   its own, this checkout linked in as the palette installs it): one whep-in in dynamic mode
 *   started by N messages from a function node → resample → base64-ws-out → the same receiver.
 *   CPU is the Node-RED process's (/proc), real time from the frames the receiver got in the
 *   window; no latency figures (they need the engine's per-packet hook); bare Node beside it
 *   bare Node beside it (not with --whep-only or --alternate; --no-bare skips it;
 *   bench/whep/bare-node.ts): in a process of its own, running at the same time as the pipeline,
 *   the same packets received on plain UDP sockets, decoded, and sent as the same JSON frames,
 *   with no werift, SRTP or code of ours. bareNodeCpuPctPerStream is its CPU over the same
 *   window, ratioToBareNode the pipeline's over it; bareNodePartsCpuPctPerStream {udp, decode, ws}
 *   the parts, measured right after the window (2 s phases, the pipeline still running)
 *   A/B of the receive-path optimisations (see OPTIMISATIONS): --without srtp,… / --baseline;
 *   --alternate ";srtp;rtp,srtp" [--phase 2] [--alternate-seconds 60] switches between variants
 *   inside one process; --ab "…;--baseline" --rounds 3 alternates whole runs.
 *
 * Prints progress on stderr and one JSON line on stdout:
 *   {"streams","cpuPctPerStream","rssMb","realtimeRatio","latencyP50Ms","latencyP99Ms", …}
 * - cpuPctPerStream: CPU (user+sys) of this process over the steady-state window, % of one core,
 *   divided by the streams.
 * - realtimeRatio: audio delivered in the window / (streams × window).
 * - latency: message out − the packet's due time on the sender's clock (RTP timestamp), with the
 *   clock anchored at the stream's earliest packet: queueing and processing delay beyond the best
 *   case (includes the source's own scheduling lateness: its 10 ms timer; loopback transit is
 *   ~0.1 ms). processingP99Ms: from werift handing us the packet to the message out.
 * - cpuPctPerRealtimeStream: CPU % / (streams × realtimeRatio), for runs the sources cannot feed.
 * Figures come from a shared, loaded 2-core machine: compare runs side by side, not across days.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { Session } from 'node:inspector';
import path from 'node:path';
import { ResampleStreams } from '../../lib/resample';
import { setWriteBatching, WsSender } from '../../lib/ws';
import { installWeriftLayer, WhepIn, type OpusRate } from '../../lib/whep';
import { setFastPath } from '../../lib/whep/werift/bench-switches';
import { median, numberOption, pct } from '../support/stats';
import { linkPackage, makeUserDir, startNodeRed } from '../../test/support/node-red-process';
import type { Kind } from './bare-node';
import { nextMessage } from '../support/ipc';
import { startWhepSource, startWsReceiver } from '../support/peers';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => numberOption(args, name, d);
const streams = opt('streams', 50);
const seconds = opt('seconds', 10);
// JIT and the wasm tier-up of libopus run on background threads for a few seconds after start:
// leave them out of the steady state
const warmup = opt('warmup', 5);
const rate = opt('rate', 16000) as OpusRate;
const channels = opt('channels', 1) as 1 | 2;
const chunkMs = opt('chunk', 20);
const perSource = opt('per-source', 50);
// --voip: the sources send browser-like Opus (SILK/hybrid 32 kbit/s) instead of CELT 64 kbit/s
const voip = args.includes('--voip');
// --srtp aes-cm: the sources allow only AES_CM_128_HMAC_SHA1_80, as SRS does (werift↔werift picks AES-GCM)
const srtpAesCm = args[args.indexOf('--srtp') + 1] === 'aes-cm' && args.includes('--srtp');
// A/B switches for the optimisations of the receive path (each can be turned off alone):
// (the werift layer's fast paths, lib/whep/werift/, switched by its bench-switches.ts)
//   rtp: lib/whep/werift/rtp.ts (werift's own RTP header parsing without it)
//   srtp: lib/whep/werift/srtp.ts (werift's own SRTP decryption without it)
//   route: lib/whep/werift/route.ts (every packet through werift's router and receiver without it)
//   udp: lib/whep/werift/route.ts's datagram shortcut (every packet through werift's ICE and DTLS
//   layers without it; the router and receiver are still skipped unless route is off too)
//   events: lib/whep/werift/event.ts (werift's Event.execute, two promises per event, without it)
//   rr: lib/whep/werift/rtcp.ts (a receiver report every 0.5–1.5 s per stream, werift's pace, without it)
//   ws-batch: frames of one ws connection sent in the same event-loop turn leave in one write
//   (lib/ws/connection.ts batch(); a write per frame without it)
// --without rtp,srtp,…  turns the named ones off; --baseline turns all off
//   pipeline: resample + base64-ws-out after whep-in (only in --alternate: ";pipeline" compares
//   the full pipeline with whep-in alone on the same streams; the messages of the phases without
//   it are not sent, so the receiver gets fewer frames, all of them counted)
const OPTIMISATIONS = ['rtp', 'srtp', 'route', 'udp', 'events', 'rr', 'ws-batch', 'pipeline'] as const;
const whepOnly = args.includes('--whep-only');
let pipelineOn = !whepOnly;
const baseline = args.includes('--baseline');
const withoutIdx = args.indexOf('--without');
const without = new Set(baseline ? OPTIMISATIONS : withoutIdx >= 0 ? args[withoutIdx + 1].split(',') : []);
for (const w of without) if (!(OPTIMISATIONS as readonly string[]).includes(w)) throw new Error(`--without ${w}: one of ${OPTIMISATIONS.join(', ')}`);
if (baseline) without.delete('pipeline'); // --baseline: the receive-path optimisations off, the pipeline as chosen
/** turns every optimisation on except the ones named */
function configure(off: Iterable<string>): void {
  const o = new Set(off);
  for (const fastPath of ['rtp', 'srtp', 'route', 'udp', 'events', 'rr'] as const) setFastPath(fastPath, !o.has(fastPath));
  setWriteBatching(!o.has('ws-batch'));
  pipelineOn = !whepOnly && !o.has('pipeline');
}
configure(without);
// --alternate "V1;V2;…" [--phase S]: in ONE process with the same streams, switch between
// variants (each a comma list of optimisations to turn off; empty = all on) phase by phase for
// the measurement window, and report each variant's median CPU over its phases: the machine's
// load drifts alike for all of them, which separate runs on a shared machine do not give
const altIdx = args.indexOf('--alternate');
const alternate = altIdx >= 0 ? args[altIdx + 1].split(';').map((v) => v.split(',').map((x) => x.trim()).filter(Boolean)) : undefined;
for (const v of alternate ?? []) for (const w of v) if (!(OPTIMISATIONS as readonly string[]).includes(w)) throw new Error(`--alternate: ${w} is not one of ${OPTIMISATIONS.join(', ')}`);
if (whepOnly && alternate?.some((v) => !v.includes('pipeline'))) throw new Error('--alternate with the pipeline on needs the pipeline: drop --whep-only');
const phaseS = opt('phase', 2);
const alternateS = opt('alternate-seconds', 60);
// --profile FILE: a CPU profile of the steady-state window only (open it in Chrome DevTools)
const profileIdx = args.indexOf('--profile');
const profileFile = profileIdx >= 0 ? args[profileIdx + 1] : undefined;
const log = (...a: unknown[]) => console.error('[bench whep]', ...a);

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));



/**
 * --node-red: the pipeline as nodes in a real Node-RED process (see the top of this file). Prints
 * one JSON line like the engine run's, with the figures this way of running can give.
 */
async function mainNodeRed(): Promise<void> {
  const t0 = Date.now();
  const sources = await Promise.all(Array.from({ length: Math.ceil(streams / perSource) }, () => startWhepSource(children, [...(voip ? ['--voip'] : []), ...(srtpAesCm ? ['--srtp', 'aes-cm'] : [])])));
  const receiver = await startWsReceiver(children);
  const urls = sources.map((src) => src.url);
  const func = `const urls = ${JSON.stringify(urls)};\nfor (let i = 0; i < ${streams}; i++) node.send({ action: 'start', url: urls[Math.floor(i / ${perSource})], stmId: 's' + i });\nreturn null;`;
  const flows = [
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 'go', z: 'tab', type: 'inject', once: true, onceDelay: 0.5, repeat: '', wires: [['starts']] },
    { id: 'starts', z: 'tab', type: 'function', func, outputs: 1, wires: [['whep']] },
    { id: 'whep', z: 'tab', type: 'whep-in', mode: 'dynamic', url: '', rate: String(rate), channels: String(channels), chunkMs, idleMs: 5, idleSilence: false, idleReconnectMs: 0, retryMaxMs: 30, maxStreams: streams, iceServers: '', iceHostAddresses: '127.0.0.1', insecureTls: false, wires: [['rs'], []] },
    { id: 'rs', z: 'tab', type: 'resample', outRate: 16000, outChannels: '1', mix: 'average', quality: 'standard', idleTimeout: 60, wires: [['out']] },
    { id: 'out', z: 'tab', type: 'base64-ws-out', target: 'asr', chunkSize: 200, chunkUnit: 'ms', frameMode: 'json', fieldTraceId: 'traceId', fieldStmId: 'stmId', fieldTimestamp: 'timestamp', fieldData: 'data', extras: [], wavHeader: false, endFrame: '', queueSeconds: 30, policy: 'drop-oldest', closePolicy: 'flush', wires: [[], []] },
    { id: 'asr', type: 'live-audio-ws-target', url: receiver.url, mode: 'shared', protocols: '', tlsVerify: true, connectTimeout: 10, pingInterval: 15, deflate: false, backoffInitial: 0.5, backoffMax: 30 },
  ];
  const userDir = makeUserDir('live-audio-bench-');
  linkPackage(userDir);
  const red = await startNodeRed({ userDir, flows });
  const pid = red.child.pid!;
  /** CPU time (ms, user + system) of the Node-RED process so far, from /proc (clock ticks of 10 ms) */
  const cpuMs = () => {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  };
  try {
    const deadline = Date.now() + 60_000;
    let got = await receiverCount(receiver.proc);
    while (got.streams < streams && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      got = await receiverCount(receiver.proc);
    }
    log(`${got.streams}/${streams} streams reach the receiver through Node-RED after ${Date.now() - t0} ms; warming up`);
    const bareStart = args.includes('--no-bare') ? undefined : startBareNode(receiver.url);
    await new Promise((r) => setTimeout(r, warmup * 1000));
    const bare = await bareStart;
    const bareWindow = bare?.measure('ws', seconds * 1000);
    const frames0 = (await receiverCount(receiver.proc)).frames;
    const c0 = cpuMs();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu = cpuMs() - c0;
    const wallMs = performance.now() - w0;
    const frames = (await receiverCount(receiver.proc)).frames - frames0;
    const bareWs = await bareWindow;
    bare?.stop();
    const rssMb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    const cpuPct = (cpu / wallMs) * 100;
    console.log(
      JSON.stringify({
        pipeline: 'Node-RED: whep-in (dynamic) → resample → base64-ws-out',
        streams,
        cpuPctPerStream: +(cpuPct / streams).toFixed(3),
        rssMb: +rssMb.toFixed(1),
        // frames of 200 ms the receiver got in the window, against what N streams make in it
        realtimeRatio: +((frames * 200) / (streams * wallMs)).toFixed(3),
        cpuPctTotal: +cpuPct.toFixed(1),
        streamsReceived: got.streams,
        output: `${rate} Hz ${channels === 1 ? 'mono' : 'stereo'}, ${chunkMs} ms chunks`,
        ...(bareWs !== undefined ? { bareNodeCpuPctPerStream: +bareWs.toFixed(3), ratioToBareNode: +(cpuPct / streams / bareWs).toFixed(2) } : {}),
        windowS: seconds,
        loadAvg1: +os.loadavg()[0].toFixed(2),
        totalS: +((Date.now() - t0) / 1000).toFixed(1),
      }),
    );
  } finally {
    await red.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
    for (const src of sources) src.proc.kill('SIGTERM');
    receiver.proc.kill('SIGTERM');
  }
}

/** frames the receiver got, per stream and in all */
function receiverCount(proc: ChildProcess): Promise<{ frames: number; streams: number }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('ws receiver did not report')), 30_000);
    const on = (m: { report?: Record<string, number[]> }) => {
      if (!m.report) return;
      clearTimeout(t);
      proc.off('message', on);
      // bare Node's frames (stmId bare<i>) reach the same receiver: not the pipeline's
      const lists = Object.entries(m.report)
        .filter(([stmId]) => !stmId.startsWith('bare'))
        .map(([, l]) => l);
      resolve({ frames: lists.reduce((n, l) => n + l.length, 0), streams: lists.length });
    };
    proc.on('message', on);
    proc.send({ cmd: 'report' });
  });
}


async function main() {
  const t0 = Date.now();
  const sources = await Promise.all(Array.from({ length: Math.ceil(streams / perSource) }, () => startWhepSource(children, [...(voip ? ['--voip'] : []), ...(srtpAesCm ? ['--srtp', 'aes-cm'] : [])])));
  log(`${sources.length} source process(es) up in ${Date.now() - t0} ms`);
  // the rest of the pipeline: resample (the node's defaults) → base64-ws-out (the node's defaults)
  const receiver = whepOnly ? undefined : await startWsReceiver(children);
  const resample = whepOnly ? undefined : new ResampleStreams({ outRate: 16000, outChannels: 1, mix: 'average', quality: 'standard', idleMs: 60_000, onIdleTail: (m) => sender!.push(m) });
  const sender = receiver ? new WsSender({ target: { url: receiver.url, mode: 'shared', queueMs: 30_000, policy: 'drop-oldest' }, chunk: { ms: 200 }, frame: { mode: 'json' }, closePolicy: 'flush' }) : undefined;
  sender?.on('event', (e: { event: string; reason?: string; count?: number }) => {
    if (e.event !== 'connected') log('ws', e.event, e.reason ?? e.count ?? '');
  });
  if (sender) {
    const until = Date.now() + 30_000;
    while (sender.summary().state !== 'open' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (sender.summary().state !== 'open') throw new Error('base64-ws-out did not connect to the receiver');
  }
  let pipelineErrors = 0;
  let measuring = false;
  let audioBytes = 0;
  // latency per packet: out time − due time (RTP clock anchored at the session's earliest packet)
  const lat: number[] = [];
  const proc: number[] = []; // werift handing us the packet → message out
  const base = new Map<string, { ts0: number; offset: number }>();
  const bytesPerMs = (rate * channels * 2) / 1000;
  const engine = new WhepIn(
    { iceHostAddresses: ['127.0.0.1'], rate, channels, chunkMs, maxStreams: streams, idleMs: 5000, idleReconnectMs: 0 },
    {
      chunk: (m) => {
        if (measuring) audioBytes += m.payload.length;
        // complete markers always go through, so every stream's tail is sent and counted
        if (!resample || (!pipelineOn && m.complete !== true)) return;
        try {
          for (const out of resample.handle(m as unknown as Record<string, unknown>)) sender!.push(out);
        } catch (err) {
          if (pipelineErrors++ < 5) log('pipeline error', err);
        }
      },
      event: (e) => {
        if (e.event === 'error' || e.event === 'reconnecting') log(e.stmId, e.event, e.reason);
        // a new session starts a new RTP clock (random base): anchor its latency afresh
        if (e.event === 'connected') base.delete(e.stmId);
      },
    },
  );
  const startAt = Date.now();
  for (let i = 0; i < streams; i++) {
    const id = `s${i}`;
    const s = engine.start({ url: sources[Math.floor(i / perSource)].url, stmId: id });
    s.onPacket = (ts, arrived) => {
      const out = performance.now();
      if (measuring) proc.push(out - arrived);
      let b = base.get(id);
      if (!b) base.set(id, (b = { ts0: ts, offset: out }));
      const due = ((ts - b.ts0) | 0) / 48;
      const d = out - due;
      if (d < b.offset) b.offset = d; // the earliest packet defines "on time"
      if (measuring) lat.push(d - b.offset);
    };
    // start in small batches: each new session costs a DTLS handshake
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 100));
  }
  const deadline = Date.now() + 60_000;
  while (engine.summary().live < streams && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const live = engine.summary().live;
  log(`${live}/${streams} streams live after ${Date.now() - startAt} ms; warming up`);
  // bare Node beside the pipeline (bench/whep/bare-node.ts), warming up with it, measured in the same window
  const bareStart = receiver && !alternate && !args.includes('--no-bare') ? startBareNode(receiver.url) : undefined;
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const bare = await bareStart;
  global.gc?.();
  const inspector = profileFile ? new Session() : undefined;
  if (inspector) {
    inspector.connect();
    await new Promise((r) => inspector.post('Profiler.enable', () => inspector.post('Profiler.start', r)));
  }
  let phases: Array<{ variant: number; cpuPctPerStream: number }> = [];
  if (alternate) phases = await alternatePhases(alternate, engine.summary.bind(engine));
  const bareWindow = bare?.measure('ws', seconds * 1000);
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const wallMs = performance.now() - w0;
  const cpu = process.cpuUsage(cpu0);
  // bare Node's parts, the pipeline still running beside it: received only, decoded, and the
  // frames too; 2 s each, two rounds, order rotating
  const bareWs = await bareWindow;
  const bareBy: Record<Kind, number[]> = { udp: [], decode: [], ws: [] };
  if (bare) {
    const kinds: Kind[] = ['udp', 'decode', 'ws'];
    for (let r = 0; r < 2; r++) for (let k = 0; k < 3; k++) bareBy[kinds[(k + r) % 3]].push(await bare.measure(kinds[(k + r) % 3], 2000));
    bare.stop();
  }
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  if (inspector) {
    await new Promise<void>((r) =>
      inspector.post('Profiler.stop', (err, res) => {
        if (!err) fs.writeFileSync(profileFile!, JSON.stringify((res as { profile: unknown }).profile));
        r();
      }),
    );
    inspector.disconnect();
  }
  // the SRTP profile DTLS agreed on (werift keeps it on the transport; read, not assumed)
  const profileId = (engine.get('s0') as unknown as { pc?: { dtlsTransports: Array<{ dtls?: { srtp: { srtpProfile?: number } } }> } } | undefined)?.pc?.dtlsTransports[0]?.dtls?.srtp.srtpProfile;
  const negotiated = profileId === 1 ? 'AES_CM_128_HMAC_SHA1_80' : profileId === 7 ? 'AEAD_AES_128_GCM' : String(profileId);
  const summary = engine.summary();
  const t1 = Date.now();
  await engine.close();
  log(`closed ${streams} streams (DELETE each) in ${Date.now() - t1} ms`);
  // base64-ws-out flushes every stream's tail and closes: the receiver has read every frame by then
  let ws: { framesSent: number; framesReceived: number; framesDropped: number; lost: number; streamsReceived: number; pipelineErrors: number } | undefined;
  if (sender && receiver && resample) {
    resample.close();
    await sender.close();
    const s = sender.summary();
    const got = await receiverCount(receiver.proc);
    ws = { framesSent: s.sent, framesReceived: got.frames, framesDropped: s.dropped, lost: s.sent - got.frames, streamsReceived: got.streams, pipelineErrors };
  }
  for (const s of sources) s.proc.kill('SIGTERM');
  receiver?.proc.kill('SIGTERM');
  const cpuPct = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
  const realtimeRatio = audioBytes / bytesPerMs / (streams * wallMs);
  const result = {
    pipeline: whepOnly ? 'whep-in' : 'whep-in→resample→base64-ws-out',
    streams,
    cpuPctPerStream: +(cpuPct / streams).toFixed(3),
    rssMb: +rssMb.toFixed(1),
    realtimeRatio: +realtimeRatio.toFixed(3),
    latencyP50Ms: +pct(lat, 50).toFixed(2),
    latencyP99Ms: +pct(lat, 99).toFixed(2),
    processingP99Ms: +pct(proc, 99).toFixed(3),
    // when the sources cannot keep up (200 streams on a shared 2-core machine), CPU per stream
    // of audio actually delivered is the comparable figure
    cpuPctPerRealtimeStream: +(cpuPct / Math.max(1e-9, streams * realtimeRatio)).toFixed(3),
    cpuPctTotal: +cpuPct.toFixed(1),
    cpuSysPct: +((cpu.system / 1000 / wallMs) * 100).toFixed(1),
    live: summary.live,
    output: `${rate} Hz ${channels === 1 ? 'mono' : 'stereo'}, ${chunkMs} ms chunks`,
    optimisationsOff: [...without].join(',') || 'none',
    // a fast path that fell back (werift differs from the one it mirrors) runs werift's own code
    weriftFallbacks: installWeriftLayer().fallbacks.map((f) => f.fastPath).join(',') || 'none',
    opus: voip ? 'voip 32 kbit/s (SILK/hybrid)' : 'audio 64 kbit/s (CELT)',
    srtp: negotiated,
    ...(ws ?? {}),
    ...(bareWs !== undefined
      ? {
          bareNodeCpuPctPerStream: +bareWs.toFixed(3),
          ratioToBareNode: +(cpuPct / streams / bareWs).toFixed(2),
          bareNodePartsCpuPctPerStream: { udp: +median(bareBy.udp).toFixed(3), decode: +median(bareBy.decode).toFixed(3), ws: +median(bareBy.ws).toFixed(3) },
        }
      : {}),
    windowS: seconds,
    // the machine's 1-minute load average at the end: other work on a shared machine inflates CPU figures
    loadAvg1: +os.loadavg()[0].toFixed(2),
    totalS: +((Date.now() - t0) / 1000).toFixed(1),
  };
  if (alternate) {
    for (let v = 0; v < alternate.length; v++) {
      const mine = phases.filter((p) => p.variant === v).map((p) => p.cpuPctPerStream);
      const med = median(mine);
      const first = median(phases.filter((p) => p.variant === 0).map((p) => p.cpuPctPerStream));
      console.log(JSON.stringify({ variant: alternate[v].length ? `without ${alternate[v].join(',')}` : 'all on', phases: mine.length, phaseS, medianCpuPctPerStream: +med.toFixed(3), ratioToFirst: +(med / first).toFixed(3), perPhase: mine.map((x) => +x.toFixed(3)) }));
    }
  }
  console.log(JSON.stringify(result));
  process.exit(0);
}


/** Starts bench/whep/bare-node.ts; measure(kind, ms) gives its CPU over the next ms, % of a core per stream. */
async function startBareNode(wsUrl: string): Promise<{ measure(kind: Kind, ms: number): Promise<number>; stop(): void }> {
  const proc = fork(path.resolve(__dirname, 'bare-node.js'), [String(streams), wsUrl], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(proc);
  await nextMessage(proc, 60_000, 'bare-node');
  return {
    async measure(kind, ms) {
      const answer = nextMessage<{ cpuPctPerStream: number }>(proc, ms + 30_000, 'bare-node');
      proc.send({ cmd: 'measure', kind, ms });
      return (await answer).cpuPctPerStream;
    },
    stop: () => proc.kill(),
  };
}

/**
 * Before the main window: about --alternate-seconds (default 60) of phases of --phase seconds each, the variants in turn
 * (order rotated every cycle), the first 0.5 s of each phase left out (code paths re-optimise
 * after the switch). The main window afterwards runs with every optimisation back on… unless
 * --without/--baseline said otherwise.
 */
async function alternatePhases(variants: string[][], summary: () => { live: number }): Promise<Array<{ variant: number; cpuPctPerStream: number }>> {
  const out: Array<{ variant: number; cpuPctPerStream: number }> = [];
  const cycles = Math.max(1, Math.round(alternateS / ((phaseS + 0.5) * variants.length)));
  for (let c = 0; c < cycles; c++) {
    for (let k = 0; k < variants.length; k++) {
      const v = (k + c) % variants.length;
      configure(variants[v]);
      await new Promise((r) => setTimeout(r, 500));
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, phaseS * 1000));
      const cpu = process.cpuUsage(c0);
      const pct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
      out.push({ variant: v, cpuPctPerStream: pct / Math.max(1, summary().live) });
    }
  }
  log(`alternated ${variants.length} variants over ${cycles} cycles of ${phaseS} s phases`);
  configure(without);
  return out;
}

/**
 * --ab "V1;V2;…" --rounds R: runs this benchmark R times per variant, alternating the variants
 * round by round (so machine load hits them alike), each in its own process with the other
 * arguments plus the variant's (e.g. --ab ";--without srtp;--baseline"; empty = everything on),
 * and prints every run's JSON line and then one JSON line of medians per variant with its
 * ratio to the first variant.
 */
async function abDriver(): Promise<void> {
  const i = args.indexOf('--ab');
  const variants = args[i + 1].split(';').map((v) => v.trim());
  const rounds = opt('rounds', 3);
  const rest = args.filter((_, k) => k !== i && k !== i + 1 && !(args[k] === '--rounds' || args[k - 1] === '--rounds'));
  const runs: Record<string, number>[][] = variants.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let v = 0; v < variants.length; v++) {
      const extra = variants[v] ? variants[v].split(/\s+/) : [];
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [...process.execArgv, __filename, ...rest, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
        let buf = '';
        child.stdout!.on('data', (d) => (buf += String(d)));
        child.on('exit', (code) => (code === 0 ? resolve(buf) : reject(new Error(`variant "${variants[v]}" exited with ${code}`))));
      });
      const line = out.trim().split('\n').pop()!;
      console.log(JSON.stringify({ round: r + 1, variant: variants[v] || 'all on', ...JSON.parse(line) }));
      runs[v].push(JSON.parse(line));
    }
  }
  const keys = ['cpuPctPerStream', 'realtimeRatio', 'latencyP50Ms', 'latencyP99Ms', 'rssMb'];
  const med = runs.map((rs) => Object.fromEntries(keys.map((k) => [k, +median(rs.map((x) => x[k])).toFixed(3)])));
  for (let v = 0; v < variants.length; v++) {
    console.log(JSON.stringify({ variant: variants[v] || 'all on', runs: runs[v].length, median: med[v], cpuRatioToFirst: +(med[v].cpuPctPerStream / med[0].cpuPctPerStream).toFixed(3), cpuPerRun: runs[v].map((x) => x.cpuPctPerStream) }));
  }
}

(args.includes('--ab') ? abDriver() : args.includes('--node-red') ? mainNodeRed() : main()).then(() => process.exit(0)).catch((err) => {
  console.error(err);
  process.exit(1);
});
