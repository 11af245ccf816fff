/**
 * npm run bench -- resample [--rounds N]
 *
 * In one run, on the same 60 s input (48 kHz stereo s16 -> 16 kHz mono s16, fed in 20 ms chunks
 * where the contender is a library): each of our quality presets, libsamplerate-js
 * (SINC_FASTEST) and, when ffmpeg is on PATH, ffmpeg's default resampler (swr) and soxr.
 * Quality is measured the same way for all (lib/resample/measure.ts: worst alias of tones
 * 8–23.9 kHz against a same-level 1 kHz tone; largest passband gain deviation up to 7.2 kHz).
 *
 * Timing: our presets and libsamplerate-js: wall time of the chunk loop in this process (one
 * thread, so ~CPU time), conversions s16 <-> float included. ffmpeg: CPU time (user + sys) of the
 * ffmpeg process as its -benchmark reports it (whole process: start-up, pipes, demux/mux
 * included), plus `xRealtimeNet` with the CPU time of the same ffmpeg pipeline without
 * resampling subtracted. Every timing is repeated (--rounds, default 7, contenders taken in
 * turn each round) and the median is reported: the machine is a shared, noisy 2-core box.
 */
import { spawn, spawnSync } from 'child_process';
import { type Quality, QUALITY_NAMES, Resampler, measureQuality, qualityPlan, qualitySignal } from '../../lib/resample';
import { jsKernel } from './js-kernel';
import { median } from '../support/stats';

// TypeScript compiles import() to require() under CommonJS; ESM-only packages need the real one
const importEsm = new Function('s', 'return import(s)') as (s: string) => Promise<{ default: unknown }>;

const IN_RATE = 48000;
const OUT_RATE = 16000;
const SECONDS = 60;
const CHUNK_BYTES = (IN_RATE / 50) * 4; // 20 ms of stereo s16

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) > 0 && args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 7;

interface Run {
  out: Buffer;
  seconds: number;
  /** for ffmpeg: CPU seconds of the same pipeline without resampling */
  baseline?: number;
}

interface Contender {
  name: string;
  timing: string;
  run(input: Buffer): Promise<Run>;
}

/** 60 s of deterministic stereo test audio: a few tones and some noise, different per channel. */
function speedInput(): Buffer {
  const frames = IN_RATE * SECONDS;
  const s = new Int16Array(frames * 2);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  for (let i = 0; i < frames; i++) {
    const t = i / IN_RATE;
    const base = 6000 * Math.sin(2 * Math.PI * 440 * t) + 3000 * Math.sin(2 * Math.PI * 3100 * t) + 2000 * Math.sin(2 * Math.PI * 11000 * t);
    s[2 * i] = Math.round(base + 1500 * rnd());
    s[2 * i + 1] = Math.round(0.7 * base + 1500 * rnd());
  }
  return Buffer.from(s.buffer);
}

function ours(quality: Quality, js = false): Contender {
  return {
    name: js ? `live-audio ${quality}, scalar JS kernel (not shipped: shows what wasm SIMD buys)` : `live-audio ${quality}${quality === 'standard' ? ' (default)' : ''}`,
    timing: 'wall time of the 20 ms chunk loop, in process',
    async run(input) {
      const r = new Resampler({ inRate: IN_RATE, inChannels: 2, outRate: OUT_RATE, outChannels: 1, quality, kernel: js ? jsKernel : undefined });
      const parts: Buffer[] = [];
      const t0 = process.hrtime.bigint();
      for (let o = 0; o < input.length; o += CHUNK_BYTES) parts.push(r.process(input.subarray(o, o + CHUNK_BYTES)));
      parts.push(r.flush());
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      return { out: Buffer.concat(parts), seconds };
    },
  };
}

interface SpeexModule {
  HEAP16: Int16Array;
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  _malloc(n: number): number;
  _free(p: number): void;
  _speex_resampler_init(ch: number, inRate: number, outRate: number, quality: number, err: number): number;
  _speex_resampler_skip_zeros(st: number): void;
  _speex_resampler_process_int(st: number, ch: number, inP: number, inLen: number, outP: number, outLen: number): number;
  _speex_resampler_destroy(st: number): void;
}

/** The Speex resampler (SpeexDSP, wasm with SIMD) at a quality 0..10, fed mono s16 directly. */
function speex(quality: number): Contender {
  let mod: Promise<SpeexModule> | undefined;
  return {
    name: `speex-resampler-wasm (SIMD) quality ${quality}${quality === 4 ? ' (its default)' : ''}`,
    timing: 'wall time of the 20 ms chunk loop, in process (downmix included)',
    async run(input) {
      mod ??= importEsm('@echogarden/speex-resampler-wasm/simd').then((m) => (m.default as () => Promise<SpeexModule>)());
      const m = await mod;
      const frames = CHUNK_BYTES / 4;
      const errP = m._malloc(4);
      const st = m._speex_resampler_init(1, IN_RATE, OUT_RATE, quality, errP);
      m._speex_resampler_skip_zeros(st);
      const inP = m._malloc(frames * 2);
      const outP = m._malloc(frames * 2);
      const inLen = m._malloc(4);
      const outLen = m._malloc(4);
      const parts: Buffer[] = [];
      const t0 = process.hrtime.bigint();
      for (let o = 0; o < input.length; o += CHUNK_BYTES) {
        const n = Math.min(frames, (input.length - o) / 4);
        const h = m.HEAP16;
        const b = inP >> 1;
        for (let i = 0; i < n; i++) h[b + i] = (input.readInt16LE(o + 4 * i) + input.readInt16LE(o + 4 * i + 2)) >> 1;
        m.HEAPU32[inLen >> 2] = n;
        m.HEAPU32[outLen >> 2] = frames;
        m._speex_resampler_process_int(st, 0, inP, inLen, outP, outLen);
        const got = m.HEAPU32[outLen >> 2];
        parts.push(Buffer.from(m.HEAPU8.slice(outP, outP + got * 2)));
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      m._speex_resampler_destroy(st);
      for (const p of [errP, inP, outP, inLen, outLen]) m._free(p);
      return { out: Buffer.concat(parts), seconds };
    },
  };
}

function libsamplerate(): Contender {
  return {
    name: 'libsamplerate-js SINC_FASTEST',
    timing: 'wall time of the 20 ms chunk loop, in process (downmix and s16<->float included)',
    async run(input) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const lsr = require('@alexanderolsen/libsamplerate-js');
      const src = await lsr.create(1, IN_RATE, OUT_RATE, { converterType: lsr.ConverterType.SRC_SINC_FASTEST });
      const parts: Buffer[] = [];
      const frames = CHUNK_BYTES / 4;
      const mono = new Float32Array(frames);
      const t0 = process.hrtime.bigint();
      for (let o = 0; o < input.length; o += CHUNK_BYTES) {
        const n = Math.min(frames, (input.length - o) / 4);
        for (let i = 0; i < n; i++) mono[i] = (input.readInt16LE(o + 4 * i) + input.readInt16LE(o + 4 * i + 2)) / 65536;
        const y: Float32Array = src.full(n === frames ? mono : mono.subarray(0, n));
        const b = Buffer.allocUnsafe(y.length * 2);
        for (let i = 0; i < y.length; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(y[i] * 32768))), 2 * i);
        parts.push(b);
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      src.destroy();
      return { out: Buffer.concat(parts), seconds };
    },
  };
}

/** Runs ffmpeg on raw s16le through pipes; returns its output and CPU seconds (user + sys). */
function ffmpegOnce(input: Buffer, outArgs: string[]): Promise<{ out: Buffer; cpu: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-benchmark', '-f', 's16le', '-ar', String(IN_RATE), '-ac', '2', '-i', 'pipe:0', ...outArgs, '-f', 's16le', 'pipe:1'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdin.on('error', () => undefined);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      const m = /utime=([\d.]+)s stime=([\d.]+)s/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`ffmpeg exited ${code}: ${err.slice(-500)}`));
      resolve({ out: Buffer.concat(out), cpu: Number(m[1]) + Number(m[2]) });
    });
    p.stdin.end(input);
  });
}

function ffmpeg(name: string, filter: string[]): Contender {
  return {
    name,
    timing: 'CPU time (user+sys) of the whole ffmpeg process (-benchmark), fed through stdin',
    async run(input) {
      const r = await ffmpegOnce(input, [...filter, '-ar', String(OUT_RATE), '-ac', '1']);
      // the same pipeline, same sizes, no resampling: what start-up and the pipes cost
      const base = await ffmpegOnce(input, ['-ar', String(IN_RATE), '-ac', '2']);
      return { out: r.out, seconds: r.cpu, baseline: base.cpu };
    },
  };
}


async function main(): Promise<void> {
  const contenders: Contender[] = QUALITY_NAMES.map((q) => ours(q));
  contenders.push(ours('standard', true));
  contenders.push(libsamplerate());
  contenders.push(speex(4), speex(7), speex(10));
  const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
  if (hasFfmpeg) {
    contenders.push(ffmpeg('ffmpeg default (swr)', []));
    contenders.push(ffmpeg('ffmpeg soxr (aresample=resampler=soxr)', ['-af', 'aresample=resampler=soxr']));
  } else console.error('ffmpeg not on PATH: its contenders are skipped');

  const input = speedInput();
  const plan = qualityPlan(IN_RATE, OUT_RATE, 2);
  const signal = qualitySignal(plan);
  console.error(`resample bench: ${SECONDS} s of 48 kHz stereo s16 -> 16 kHz mono s16, 20 ms chunks, ${rounds} timing rounds (median); shared, noisy 2-core machine`);

  const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const bases = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      (globalThis as { gc?: () => void }).gc?.();
      const run = await c.run(input);
      times.get(c.name)!.push(run.seconds);
      if (run.baseline !== undefined) bases.get(c.name)!.push(run.baseline);
    }
  }
  const lines: Array<Record<string, unknown>> = [];
  for (const c of contenders) {
    const q = await c.run(signal);
    const fig = measureQuality(new Int16Array(q.out.buffer.slice(q.out.byteOffset, q.out.byteOffset + (q.out.length & ~1))), plan);
    const secs = median(times.get(c.name)!);
    const line: Record<string, unknown> = {
      name: c.name,
      xRealtime: Math.round(SECONDS / secs),
      worstAliasDb: fig.worstAliasDb,
      passbandRippleDb: fig.passbandRippleDb,
      worstAliasAtHz: fig.worstAliasHz,
      medianSeconds: Number(secs.toFixed(4)),
      timing: c.timing,
    };
    const b = bases.get(c.name)!;
    if (b.length) {
      const net = secs - median(b);
      line.xRealtimeNet = net > 0 ? Math.round(SECONDS / net) : null;
      line.baselineCpuSeconds = Number(median(b).toFixed(4));
    }
    lines.push(line);
    console.log(JSON.stringify(line));
  }
  // the general path, for docs/benchmarks.md: other common ratios with the default preset (mono in/out
  // unless stated), same chunking, 10 s of noise each
  const others: Record<string, number> = {};
  for (const [inRate, outRate, ch] of [
    [44100, 16000, 2],
    [8000, 16000, 1],
    [16000, 8000, 1],
    [22050, 16000, 1],
    [96000, 16000, 2],
  ]) {
    const frames = inRate * 10;
    const buf = Buffer.alloc(frames * ch * 2);
    for (let i = 0; i < buf.length; i += 2) buf.writeInt16LE(((i * 7919) % 20000) - 10000, i);
    const step = (inRate / 50) * ch * 2;
    const ts: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const rs = new Resampler({ inRate, inChannels: ch, outRate, outChannels: 1 });
      const t0 = process.hrtime.bigint();
      for (let o = 0; o < buf.length; o += step) rs.process(buf.subarray(o, o + step));
      rs.flush();
      ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    others[`${inRate / 1000}k ${ch === 2 ? 'stereo' : 'mono'} -> ${outRate / 1000}k mono`] = Math.round(10 / median(ts));
  }
  console.log(JSON.stringify({ otherRatios: 'live-audio standard (default), xRealtime, 20 ms chunks', ...others }));
  const def = lines.find((l) => String(l.name).includes('(default)'));
  const soxr = lines.find((l) => String(l.name).includes('soxr'));
  const lsr = lines.find((l) => String(l.name).includes('libsamplerate'));
  console.log(
    JSON.stringify({
      bench: 'resample',
      defaultXRealtime: def?.xRealtime,
      defaultWorstAliasDb: def?.worstAliasDb,
      defaultVsLibsamplerate: lsr ? Number((Number(def?.xRealtime) / Number(lsr.xRealtime)).toFixed(2)) : null,
      defaultVsSoxr: soxr ? Number((Number(def?.xRealtime) / Number(soxr.xRealtime)).toFixed(2)) : null,
      rounds,
      machine: 'shared, noisy 2-core machine; medians of interleaved rounds',
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
