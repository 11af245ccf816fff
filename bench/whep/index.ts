/**
 * whep-in benchmark: N WHEP streams from werift sources (child processes, so their CPU is not
 * counted) into the whep-in engine in this process.
 *
 *   npm run bench -- whep --streams 50 [--seconds 10] [--rate 16000 --channels 1] [--chunk 20] [--warmup 5] [--voip]
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
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import { uninstallFastRtpParsing, WhepIn, type OpusRate } from '../../lib/whep';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
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
// --baseline: werift's own RTP header parsing instead of lib/whep/werift-rtp.ts (for A/B runs)
const baseline = args.includes('--baseline');
if (baseline) uninstallFastRtpParsing();
// --profile FILE: a CPU profile of the steady-state window only (open it in Chrome DevTools)
const profileIdx = args.indexOf('--profile');
const profileFile = profileIdx >= 0 ? args[profileIdx + 1] : undefined;
const log = (...a: unknown[]) => console.error('[bench whep]', ...a);

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

async function startSource(): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [path.resolve(__dirname, '..', '..', 'test', 'peers', 'whep-source-cli.js'), '--loop', ...(voip ? ['--voip'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('source did not start')), 30_000);
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += String(d);
      if (buf.includes('\n')) {
        clearTimeout(t);
        resolve({ url: JSON.parse(buf.split('\n')[0]).url, proc });
      }
    });
  });
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const t0 = Date.now();
  const sources = await Promise.all(Array.from({ length: Math.ceil(streams / perSource) }, startSource));
  log(`${sources.length} source process(es) up in ${Date.now() - t0} ms`);
  let measuring = false;
  let audioBytes = 0;
  const bytesPerMs = (rate * channels * 2) / 1000;
  const engine = new WhepIn(
    { iceHostAddresses: ['127.0.0.1'], rate, channels, chunkMs, maxStreams: streams, idleMs: 5000, idleReconnectMs: 0 },
    {
      chunk: (m) => {
        if (measuring) audioBytes += m.payload.length;
      },
      event: (e) => {
        if (e.event === 'error' || e.event === 'reconnecting') log(e.stmId, e.event, e.reason);
      },
    },
  );
  // latency per packet: out time − due time (RTP clock anchored at the stream's earliest packet)
  const lat: number[] = [];
  const proc: number[] = []; // werift handing us the packet → message out
  const base = new Map<string, { ts0: number; offset: number }>();
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
  await new Promise((r) => setTimeout(r, warmup * 1000));
  global.gc?.();
  const inspector = profileFile ? new Session() : undefined;
  if (inspector) {
    inspector.connect();
    await new Promise((r) => inspector.post('Profiler.enable', () => inspector.post('Profiler.start', r)));
  }
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const wallMs = performance.now() - w0;
  const cpu = process.cpuUsage(cpu0);
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
  const summary = engine.summary();
  const t1 = Date.now();
  await engine.close();
  log(`closed ${streams} streams (DELETE each) in ${Date.now() - t1} ms`);
  for (const s of sources) s.proc.kill('SIGTERM');
  lat.sort((a, b) => a - b);
  proc.sort((a, b) => a - b);
  const cpuPct = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
  const realtimeRatio = audioBytes / bytesPerMs / (streams * wallMs);
  const result = {
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
    rtpParsing: baseline ? 'werift' : 'fast',
    opus: voip ? 'voip 32 kbit/s (SILK/hybrid)' : 'audio 64 kbit/s (CELT)',
    windowS: seconds,
    totalS: +((Date.now() - t0) / 1000).toFixed(1),
  };
  console.log(JSON.stringify(result));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
