/**
 * The queue board's benchmark (npm run bench -- announce --video [--rounds N] [--slices N]
 * [--fps N] [--video-codec mjpeg|h264]): four served Opus streams, each in a process of its own,
 * each with 10 TCP players that set up every track (bench/announce/av-players.ts): audio only,
 * audio + board (1280x720, 2 fps, MJPEG by default) left idle, audio + board showing a new number
 * every 5 s (no speech), and the idle board sent as before (each picture written to a player a
 * packet at a time). A codec the station refuses at deploy (H.264 without ffmpeg) is printed, and
 * is the JSON line's `error`. Measured:
 *   cpuPct          CPU of each stream's process and its children (H.264: the encoder's ffmpeg,
 *                   boardIdleEncoderCpuPct on its own),
 *                   % of one core: all measured in the same 5 s
 *                   slices (so every slice holds one board change), medians over the slices
 *   idleRatio       board idle / audio only (goal ≤ 2), changingRatio, and
 *                   idleRatioPerPacketWrites (the idle board sent a packet per write, as before)
 *   callToBoardMs   a call ("A0nn, window 3", spoken, with its board) handed to the idle-board
 *                   stream → the first frame showing the new board decoded by a real ffmpeg
 *                   player (TCP, -fflags nobuffer; frames scaled to 160x90 grey on a pipe, a change
 *                   detected against the frame before), median/min/max over the rounds; split into
 *                   callToWireMs (the message → the board on the wire, with the speech's first
 *                   audio: the announcement starts when both its speech and its board are ready)
 *                   and wireToFrameMs (→ decoded: the player's part)
 *   callToSpeechMs  the message → its speech's first frame written, on the audio-only stream and
 *                   on the board stream, calls taking turns between the two
 *   callStepsMs     each step of a call, ms after the message (medians): the speech engine asked
 *                   and answered (engineMainMs: eSpeak's main() alone; engineReadyAhead: calls
 *                   served by an instance prepared ahead), the audio ready (resampled), the board
 *                   drawn on its thread, the announcement ready and started (first frame written),
 *                   the board on the wire and decoded; the same for the audio-only stream's calls
 * One JSON line at the end. Figures come from a shared, noisy 2-core machine: compare within a run.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { median, numberOption, sleep } from '../support/stats';
import { nextMessage } from '../support/ipc';
import { freePort } from '../../test/support/processes';

const PLAYERS = 10;
const SLICE_MS = 5000;
const FONT = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc';
const FW = 160;
const FH = 90;
const wall = () => performance.timeOrigin + performance.now();

type Variant = 'audio' | 'board' | 'changing' | 'board-per-packet';

/** What a stream (video-station.ts) says of a call: wall-clock ms of each step. */
interface CallTimes {
  callAt: number;
  synthStartAt?: number;
  synthEndAt?: number;
  engineMainMs?: number;
  engineReadyAhead?: boolean;
  renderMs?: number;
  readyAt?: number;
  drawStartAt?: number;
  drawEndAt?: number;
  startedAt: number;
  shownAt: number;
}
const VARIANTS: Variant[] = ['audio', 'board', 'changing', 'board-per-packet'];

function ask<T>(p: ChildProcess, msg: object, ms: number, what: string): Promise<T> {
  const r = nextMessage<T>(p, ms, what);
  p.send(msg);
  return r;
}

/** A real player: ffmpeg decoding the board, every frame (grey 160x90) with its arrival time. */
function framePlayer(url: string, onFrame: (at: number, f: Buffer) => void): ChildProcess {
  const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-rtsp_transport', 'tcp', '-fflags', 'nobuffer', '-i', url, '-map', '0:v', '-vf', `scale=${FW}:${FH},format=gray`, '-fps_mode', 'passthrough', '-enc_time_base', '1/90000', '-f', 'rawvideo', '-flush_packets', '1', 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = Buffer.alloc(0);
  p.stdout!.on('data', (d: Buffer) => {
    const at = wall();
    buf = Buffer.concat([buf, d]);
    while (buf.length >= FW * FH) {
      onFrame(at, buf.subarray(0, FW * FH));
      buf = buf.subarray(FW * FH);
    }
  });
  return p;
}

/** Pixels that changed by more than a quarter of the range: a new number changes thousands, noise none. */
function changed(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 64) n++;
  return n;
}

export async function videoBench(args: string[]): Promise<void> {
  if (!existsSync(FONT)) throw new Error(`the board font ${FONT} is missing (apt install fonts-noto-cjk)`);
  const rounds = numberOption(args, 'rounds', 8);
  const fps = numberOption(args, 'fps', 2);
  const ci = args.indexOf('--video-codec');
  const codec = ci >= 0 ? args[ci + 1] : 'mjpeg';
  if (codec !== 'mjpeg' && codec !== 'h264') throw new Error(`--video-codec ${codec}: expected mjpeg or h264`);
  const procs: ChildProcess[] = [];
  const stations = new Map<Variant, { proc: ChildProcess; url: string }>();
  try {
    for (const v of VARIANTS) {
      const port = await freePort();
      const proc = fork(join(__dirname, 'video-station.js'), [v, String(port), FONT, String(fps), codec], { stdio: 'inherit' });
      procs.push(proc);
      const m = await nextMessage<{ type: string; error?: string }>(proc, 60_000, `the ${v} stream`);
      if (m.type !== 'ready') {
        // e.g. H.264 before it is built, or without ffmpeg: refused at deploy, as a user would see it
        console.log(`the ${v} stream (video ${codec}) did not start: ${m.error}`);
        console.log(JSON.stringify({ bench: 'announce --video', videoCodec: codec, error: `the station refused video "${codec}" at deploy: ${m.error}` }));
        process.exitCode = 1;
        return;
      }
      stations.set(v, { proc, url: `rtsp://127.0.0.1:${port}/bench` });
    }
    const players = fork(join(__dirname, 'av-players.js'), [String(PLAYERS), ...VARIANTS.map((v) => stations.get(v)!.url)], { stdio: 'inherit' });
    procs.push(players);
    const pm = await nextMessage<{ type: string; error?: string }>(players, 30_000, 'the players');
    if (pm.type !== 'ready') throw new Error(`players: ${pm.error}`);
    await sleep(2000);

    // CPU: the streams in the same slices
    const cpu: Record<Variant, number[]> = { audio: [], board: [], changing: [], 'board-per-packet': [] };
    const encoderIdle: number[] = [];
    const slices = Math.max(3, Math.round(numberOption(args, 'slices', 6)));
    for (let i = 0; i < slices; i++) {
      const r = await Promise.all(VARIANTS.map((v) => ask<{ cpu: number; children: number }>(stations.get(v)!.proc, { cmd: 'cpu', ms: SLICE_MS }, SLICE_MS + 10_000, `${v} cpu`)));
      VARIANTS.forEach((v, k) => cpu[v].push(r[k].cpu));
      encoderIdle.push(r[VARIANTS.indexOf('board')].children);
    }

    // call → the new board decoded by a real player (on the idle-board stream)
    const board = stations.get('board')!;
    let last: Buffer | undefined;
    let waitFrom = Infinity;
    let seen: ((at: number) => void) | undefined;
    const ff = framePlayer(board.url, (at, f) => {
      const prev = last;
      last = Buffer.from(f);
      if (prev && at >= waitFrom && changed(prev, f) > 40) {
        waitFrom = Infinity;
        seen?.(at);
      }
    });
    procs.push(ff);
    const t0 = Date.now();
    while (!last && Date.now() - t0 < 20_000) await sleep(100);
    if (!last) throw new Error('the ffmpeg player decoded no frame in 20 s');
    await sleep(1500);
    const total: number[] = [];
    const toWire: number[] = [];
    const toFrame: number[] = [];
    const speech: Record<'audio' | 'board', number[]> = { audio: [], board: [] };
    const calls: Array<CallTimes & { decodedAt: number }> = [];
    const alone: CallTimes[] = [];
    const audio = stations.get('audio')!;
    for (let i = 0; i < rounds; i++) {
      // the same call to the audio-only stream, in turn: what the speech alone takes to start
      const a = await ask<CallTimes>(audio.proc, { cmd: 'call', number: `A${String(10 + i).padStart(3, '0')}` }, 10_000, 'call (audio only)');
      speech.audio.push(a.startedAt - a.callAt);
      alone.push(a);
      await sleep(3000);
      const number = `A${String(10 + i).padStart(3, '0')}`;
      waitFrom = wall();
      const frameAt = new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no frame with ${number} within 10 s`)), 10_000);
        seen = (at) => {
          clearTimeout(t);
          resolve(at);
        };
      });
      const r = await ask<CallTimes>(board.proc, { cmd: 'call', number }, 10_000, 'call');
      const at = await frameAt;
      speech.board.push(r.startedAt - r.callAt);
      total.push(at - r.callAt);
      toWire.push(r.shownAt - r.callAt);
      toFrame.push(at - r.shownAt);
      calls.push({ ...r, decodedAt: at });
      await sleep(3000); // the speech ends; the next call starts from an idle stream
    }
    const m = (xs: number[]) => Math.round(median(xs) * 100) / 100;
    // each step of the call, ms after the message (medians over the rounds), board stream and
    // the same call on the audio-only stream
    const since = (list: CallTimes[], k: keyof CallTimes) => m(list.filter((c) => c[k] !== undefined).map((c) => (c[k] as number) - c.callAt));
    const steps = (list: CallTimes[]) => ({
      synthRequested: since(list, 'synthStartAt'),
      synthAnswered: since(list, 'synthEndAt'),
      engineMainMs: m(list.filter((c) => c.engineMainMs !== undefined).map((c) => c.engineMainMs!)),
      engineReadyAhead: list.filter((c) => c.engineReadyAhead).length,
      audioReady: m(list.filter((c) => c.renderMs !== undefined).map((c) => c.renderMs!)),
      ...(list === calls ? { boardDrawStart: since(list, 'drawStartAt'), boardDrawn: since(list, 'drawEndAt') } : {}),
      ready: since(list, 'readyAt'),
      started: since(list, 'startedAt'),
      ...(list === calls ? { boardOnWire: since(list, 'shownAt'), boardDecoded: m(calls.map((c) => c.decodedAt - c.callAt)) } : {}),
    });
    const breakdown = { board: steps(calls), audioOnly: steps(alone) };
    for (const c of calls) console.log(`call (board stream): speech answered +${(c.synthEndAt! - c.callAt).toFixed(0)} ms (main() ${c.engineMainMs?.toFixed(0)} ms), board drawn +${(c.drawEndAt! - c.callAt).toFixed(0)}, started +${(c.startedAt - c.callAt).toFixed(0)}, on the wire +${(c.shownAt - c.callAt).toFixed(0)}, decoded +${(c.decodedAt - c.callAt).toFixed(0)}`);
    for (const [k, b] of Object.entries(breakdown)) console.log(`call steps, ${k} stream (ms after the message, medians of ${rounds}): ${Object.entries(b).map(([x, v]) => `${x} ${v}`).join(', ')}`);
    const out = {
      bench: 'announce --video',
      players: PLAYERS,
      board: `1280x720 ${codec.toUpperCase()} ${fps} fps`,
      videoCodec: codec,
      sliceMs: SLICE_MS,
      cpuPct: { audioOnly: m(cpu.audio), boardIdle: m(cpu.board), boardChangingEvery5s: m(cpu.changing), boardIdlePerPacketWrites: m(cpu['board-per-packet']) },
      cpuPctSlices: cpu,
      // of boardIdle: its child processes (the H.264 encoder's ffmpeg; 0 for MJPEG)
      boardIdleEncoderCpuPct: m(encoderIdle),
      idleRatio: Math.round((median(cpu.board) / median(cpu.audio)) * 100) / 100,
      changingRatio: Math.round((median(cpu.changing) / median(cpu.audio)) * 100) / 100,
      idleRatioPerPacketWrites: Math.round((median(cpu['board-per-packet']) / median(cpu.audio)) * 100) / 100,
      callToBoardMs: { median: m(total), min: m([Math.min(...total)]), max: m([Math.max(...total)]), rounds: total.map(Math.round) },
      callToWireMs: m(toWire),
      wireToFrameMs: m(toFrame),
      callToSpeechMs: { audioOnly: m(speech.audio), withBoard: m(speech.board) },
      callStepsMs: breakdown,
      goals: { idleRatio: '<= 2', callToBoardMs: '<= 300' },
    };
    console.log(JSON.stringify(out));
  } finally {
    for (const p of procs) {
      try {
        if (p.connected) p.send({ cmd: 'stop' });
      } catch {
        /* gone */
      }
    }
    await sleep(500);
    for (const p of procs) p.kill('SIGKILL');
  }
}
