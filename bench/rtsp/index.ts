/**
 * npm run bench -- rtsp
 *
 * Transport costs of lib/rtsp, measured on this (shared, noisy, 2-core) machine:
 * - encode time of one 20 ms frame per codec (median µs);
 * - our G.711 tables against alawmulaw's per-sample code (the copy shipped inside wavefile, our
 *   dependency), same input, side by side: why G.711 is hand-written;
 * - AAC through the ffmpeg child: PCM written -> ADTS frame back (median ms);
 * - CPU of one core while serving Opus silence to one TCP player (the idle stream), and while
 *   serving speech-like audio to 50 TCP players (raw interleaved readers).
 * Ends with one JSON line.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RtspOutput } from '../../lib/rtsp';
import { AacPayloadEncoder } from '../../lib/rtsp/aac';
import { G711PayloadEncoder, L16PayloadEncoder, OpusPayloadEncoder, type PayloadEncoder } from '../../lib/rtsp/codecs';
import { encodeAlaw, encodeUlaw } from '../../lib/rtsp/g711';
import { median, sleep } from '../support/stats';


function speech(rate: number, frameMs: number, i: number): Buffer {
  const n = (rate * frameMs) / 1000;
  const b = Buffer.alloc(n * 2);
  for (let k = 0; k < n; k++) {
    const t = (i * n + k) / rate;
    b.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 220 * t) + 3000 * Math.sin(2 * Math.PI * 1370 * t) + 800 * (Math.random() - 0.5)), k * 2);
  }
  return b;
}

function timeEncoder(enc: PayloadEncoder, rate: number, frames = 2000): number {
  const input = Array.from({ length: 50 }, (_, i) => speech(rate, 20, i));
  const per: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < frames / 5; i++) enc.encode(input[i % input.length], i * 960);
    per.push(Number(process.hrtime.bigint() - t0) / 1000 / (frames / 5));
  }
  return median(per);
}

async function g711VsLibrary(): Promise<{ oursUs: number; libUs: number; ratio: number; samePct: number }> {
  const load = new Function('u', 'return import(u)') as (u: string) => Promise<{ encode: (s: Int16Array) => Uint8Array }>;
  const root = join(__dirname, '../../..');
  const lib = await load(pathToFileURL(join(root, 'node_modules/wavefile/lib/codecs/alaw.js')).href);
  const frames = Array.from({ length: 50 }, (_, i) => speech(8000, 20, i));
  const views = frames.map((f) => new Int16Array(f.buffer, f.byteOffset, f.length / 2));
  const run = (fn: (i: number) => unknown) => {
    const per: number[] = [];
    for (let r = 0; r < 7; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 20000; i++) fn(i % 50);
      per.push(Number(process.hrtime.bigint() - t0) / 1000 / 20000);
    }
    return median(per);
  };
  run((i) => encodeAlaw(frames[i]));
  run((i) => lib.encode(views[i]));
  const oursUs = run((i) => encodeAlaw(frames[i]));
  const libUs = run((i) => lib.encode(views[i]));
  // both are valid A-law encoders; they may pick the neighbouring code at a decision boundary
  const all = new Int16Array(65536).map((_, i) => i - 32768);
  const theirs = lib.encode(all);
  const ours = encodeAlaw(Buffer.from(all.buffer));
  let same = 0;
  for (let i = 0; i < 65536; i++) if (theirs[i] === ours[i]) same++;
  return { oursUs, libUs, ratio: libUs / oursUs, samePct: (100 * same) / 65536 };
}

async function aacLatency(): Promise<number | undefined> {
  const sent: number[] = [];
  const got: number[] = [];
  let enc: AacPayloadEncoder;
  try {
    enc = new AacPayloadEncoder({ rate: 48000, onLog: () => {}, onError: () => {} }, () => got.push(performance.now()));
  } catch {
    return undefined; // no ffmpeg
  }
  const start = performance.now();
  for (let i = 0; i < 150; i++) {
    const due = start + i * 20;
    while (performance.now() < due) await sleep(Math.max(0, due - performance.now()));
    sent.push(performance.now());
    enc.encode(speech(48000, 20, i), i * 960);
  }
  await sleep(500);
  await enc.close();
  // AAC frame k (1024 samples) is complete once input sample (k+1)*1024 was written
  const lat: number[] = [];
  got.forEach((t, k) => {
    const frameIdx = Math.ceil(((k + 1) * 1024) / 960) - 1;
    if (frameIdx < sent.length && k > 5) lat.push(t - sent[frameIdx]);
  });
  return median(lat);
}

/** N raw RTSP/TCP players: SETUP interleaved, PLAY, then read and discard. */
const PLAYERS_JS = `
const net = require('net');
const [port, url, n] = process.argv.slice(1);
for (let p = 0; p < Number(n); p++) {
  const s = net.connect(Number(port), '127.0.0.1');
  let text = '', playing = false;
  s.on('data', (d) => {
    if (playing) return;
    text += d.toString('latin1');
    const m = /Session: *(\\w+)/.exec(text);
    if (m) { playing = true; s.write('PLAY ' + url + ' RTSP/1.0\\r\\nCSeq: 3\\r\\nSession: ' + m[1] + '\\r\\n\\r\\n'); }
  });
  s.on('connect', () => s.write('SETUP ' + url + '/trackID=0 RTSP/1.0\\r\\nCSeq: 2\\r\\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\\r\\n\\r\\n'));
}
setTimeout(() => process.exit(0), 60000);
`;

async function fanOut(players: number, seconds: number, silent = false): Promise<{ cpuPct: number; packetsPerPlayer: number; listeners: number }> {
  const out = new RtspOutput({ mode: 'serve', codec: 'opus', rate: 48000, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port: 0, path: 'bench' } });
  await out.start();
  const port = Number(/:(\d+)\//.exec(out.url)![1]);
  const url = `rtsp://127.0.0.1:${port}/bench`;
  // the players live in a child process, so the CPU measured here is the transport's alone
  const players_ = spawn(process.execPath, ['-e', PLAYERS_JS, String(port), url, String(players)], { stdio: 'ignore' });
  const until = Date.now() + 5000;
  while (out.players < players && Date.now() < until) await sleep(20);
  const listeners = out.players;
  const frames = Array.from({ length: 50 }, (_, i) => (silent ? Buffer.alloc(1920) : speech(48000, 20, i)));
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let i = 0;
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    const due = start + i * 20;
    if (performance.now() >= due) {
      out.writeFrame(frames[i % 50]);
      i++;
      continue;
    }
    await sleep(due - performance.now());
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - start;
  const sent = out.stats().packetsSent;
  players_.kill('SIGKILL');
  await out.close();
  return { cpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100, packetsPerPlayer: sent / Math.max(1, listeners), listeners };
}

async function main(): Promise<void> {
  console.log('RTSP transport benchmark (shared, noisy 2-core machine; medians of one run)');
  const encodeUs: Record<string, number> = {};
  const opus = new OpusPayloadEncoder(48000, 20, () => {});
  encodeUs.opus = timeEncoder(opus, 48000, 1000);
  opus.close();
  encodeUs.pcmu = timeEncoder(new G711PayloadEncoder('pcmu', 8000, () => {}), 8000);
  encodeUs.pcma = timeEncoder(new G711PayloadEncoder('pcma', 8000, () => {}), 8000);
  encodeUs.l16 = timeEncoder(new L16PayloadEncoder(16000, () => {}), 16000);
  for (const [k, v] of Object.entries(encodeUs)) console.log(`encode one 20 ms frame, ${k}: ${v.toFixed(2)} µs (median)`);
  encodeUlaw(Buffer.alloc(2)); // keep the import honest for the µ-law path
  const g = await g711VsLibrary();
  console.log(`G.711 A-law, 160 samples: ours ${g.oursUs.toFixed(2)} µs, alawmulaw (in wavefile) ${g.libUs.toFixed(2)} µs, ratio ${g.ratio.toFixed(1)}x, same code for ${g.samePct.toFixed(2)} % of all inputs`);
  const aacMs = await aacLatency();
  console.log(aacMs === undefined ? 'AAC: ffmpeg not found, skipped' : `AAC via ffmpeg: PCM in -> AAC frame out ${aacMs.toFixed(1)} ms (median)`);
  // the idle stream against the bare 20 ms timer loop that drives it, alternated, medians of 3
  const idleRuns: number[] = [];
  const timerRuns: number[] = [];
  for (let r = 0; r < 3; r++) {
    timerRuns.push((await fanOut(0, 3, true)).cpuPct);
    idleRuns.push((await fanOut(1, 3, true)).cpuPct);
  }
  const idle = { cpuPct: median(idleRuns) };
  const timerOnly = median(timerRuns);
  console.log(`serve Opus silence (between announcements) to 1 TCP player: ${idle.cpuPct.toFixed(2)} % of one core; the same loop with no player: ${timerOnly.toFixed(2)} %`);
  const f = await fanOut(50, 8);
  console.log(`serve Opus to ${f.listeners} TCP players: ${f.cpuPct.toFixed(2)} % of one core (encode once + fan-out), ${f.packetsPerPlayer.toFixed(0)} packets each in 8 s`);
  console.log(
    JSON.stringify({
      opusEncodeUs: +encodeUs.opus.toFixed(2),
      pcmuEncodeUs: +encodeUs.pcmu.toFixed(2),
      pcmaEncodeUs: +encodeUs.pcma.toFixed(2),
      l16EncodeUs: +encodeUs.l16.toFixed(2),
      g711OursUs: +g.oursUs.toFixed(2),
      g711LibUs: +g.libUs.toFixed(2),
      g711Ratio: +g.ratio.toFixed(1),
      g711SameCodePct: +g.samePct.toFixed(2),
      aacLatencyMs: aacMs === undefined ? null : +aacMs.toFixed(1),
      idleCpuPct: +idle.cpuPct.toFixed(2),
      idleNoPlayerCpuPct: +timerOnly.toFixed(2),
      serveCpuPct: +f.cpuPct.toFixed(2),
      listeners: f.listeners,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
