/**
 * One announcement stream of the video benchmark, in a process of its own so its CPU is its own:
 * node video-station.js <audio|board|changing|board-per-packet> <port> <fontFile> <fps> <mjpeg|h264>. `audio`: no
 * video; `board`: the queue board (1280x720) left as it is; `changing`: the board shows a new
 * number (no speech) every 5 s; `board-per-packet`: `board` with the pictures written to each
 * player a packet at a time, as before. IPC: {type:'ready'} or {type:'fail', error} (e.g. the codec refused
 * at deploy); {cmd:'cpu', ms} → {cpu, children} (% of one core over ms: the process with its children, the children alone); {cmd:'call', number} → the call
 * spoken (with its board where there is one) and the wall-clock ms of each step (CallTimes);
 * {cmd:'stop'}.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createStation } from '../../lib/announce';
import type { RtspServer } from '../../lib/rtsp/server';

/**
 * CPU time (ms, user + system) of each live child process of this one, by pid, from /proc (Linux;
 * empty elsewhere). Clock ticks are taken as 100 per second, Linux's USER_HZ.
 */
function childrenCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((f) => /^\d+$/.test(f));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // fields after the command name, which is in parentheses and may hold spaces
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === process.pid) out.set(Number(pid), (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * The server's picture sending as it was before a TCP player got each picture in one write: every
 * packet written on its own (corked, so a picture still left in one system call per player).
 */
function perPacketWrites(server: RtspServer): void {
  const srv = server as unknown as { playingOn: Array<Array<{ tcp: boolean; conn: { destroyed: boolean; cork(): void; uncork(): void } }>>; broadcast(p: Buffer, track: number): void };
  server.broadcastFrame = (framed: Buffer[], track: number) => {
    const list = srv.playingOn[track];
    for (const s of list) if (s.tcp && !s.conn.destroyed) s.conn.cork();
    try {
      for (const p of framed) srv.broadcast(p, track);
    } finally {
      for (const s of list) if (s.tcp && !s.conn.destroyed) s.conn.uncork();
    }
  };
}

const [variant, portArg, fontFile, fpsArg, codecArg] = process.argv.slice(2);
const wall = () => performance.timeOrigin + performance.now();

/** When each step of a call happened (wall-clock ms); see the 'call' command. */
interface CallTimes {
  callAt: number;
  synthStartAt?: number;
  synthEndAt?: number;
  readyAt?: number;
  drawStartAt?: number;
  drawEndAt?: number;
  startedAt?: number;
  /** the announcer's renderMs: its audio made (speech + resampling), from its arrival */
  renderMs?: number;
  shownAt?: number;
}

async function main(): Promise<void> {
  const video = variant !== 'audio';
  const st = createStation({
    mode: 'serve', host: '127.0.0.1', port: Number(portArg), path: 'bench', codec: 'opus', engine: 'embedded', voice: 'en-us', chime: 'none',
    ...(video ? { video: (codecArg || 'mjpeg') as 'mjpeg' | 'h264', fps: Number(fpsArg) || 2, videoWidth: 1280, videoHeight: 720, fontFile } : {}),
  });
  st.on('log', () => {});
  await st.start();
  await st.warmUp();
  // the steps of the call being measured: the engine's and the board drawer's calls, timed
  let calling: CallTimes | undefined;
  const engine = st.engine as { synthesize: (...a: unknown[]) => Promise<unknown> };
  const synthesize = engine.synthesize.bind(engine);
  engine.synthesize = async (...a: unknown[]) => {
    const r = calling;
    if (r) r.synthStartAt ??= wall();
    const out = await synthesize(...a);
    if (r) r.synthEndAt ??= wall();
    return out;
  };
  const drawer = (st.board as unknown as { drawer?: { draw: (...a: unknown[]) => Promise<unknown> } } | undefined)?.drawer;
  if (drawer) {
    const draw = drawer.draw.bind(drawer);
    drawer.draw = async (...a: unknown[]) => {
      const r = calling;
      if (r) r.drawStartAt ??= wall();
      const out = await draw(...a);
      if (r) r.drawEndAt ??= wall();
      return out;
    };
  }
  if (variant === 'board-per-packet') perPacketWrites((st.output as unknown as { server: RtspServer }).server);
  let n = 0;
  if (variant === 'changing') setInterval(() => void st.showBoard({ call: { number: `B${String(++n % 1000).padStart(3, '0')}`, counter: String(1 + (n % 9)) } }), 5000);
  process.send!({ type: 'ready' });
  process.on('message', (m: { cmd: string; ms?: number; number?: string }) => {
    if (m.cmd === 'cpu') {
      // the stream's CPU includes its child processes (the H.264 encoder's ffmpeg)
      const c0 = process.cpuUsage();
      const k0 = childrenCpuMs();
      const t0 = performance.now();
      setTimeout(() => {
        const c = process.cpuUsage(c0);
        const kids = childrenCpuMs();
        let kidMs = 0;
        for (const [pid, ms] of kids) kidMs += ms - (k0.get(pid) ?? 0);
        const ms = performance.now() - t0;
        process.send!({ cpu: (((c.user + c.system) / 1000 + kidMs) / ms) * 100, children: (kidMs / ms) * 100 });
      }, m.ms);
    } else if (m.cmd === 'call') {
      // the call with its board (when this stream has one), and when each step of it happened
      // (wall-clock ms): the message handed in, the speech engine's request and answer, the
      // announcement ready (audio resampled; with a board: the board drawn too), its first frame
      // written (started), the board's drawing (on its thread) and the board put on the wire
      const number = m.number!;
      const r: CallTimes = { callAt: 0 };
      calling = r;
      const done = () => {
        if (r.startedAt !== undefined && (r.shownAt !== undefined || !st.board)) {
          calling = undefined;
          const run = (st.engine as { lastRun?: { readyAhead: boolean; mainMs: number } }).lastRun;
          process.send!({ ...r, ...(run ? { engineMainMs: run.mainMs, engineReadyAhead: run.readyAhead } : {}) });
        }
      };
      const on = (e: { number?: string }) => {
        if (e.number !== number) return;
        st.board!.off('change', on);
        r.shownAt = wall();
        done();
      };
      st.board?.on('change', on);
      r.callAt = wall();
      const { id, ready } = st.announce({ text: `${number}, window 3` }, st.board ? { call: { number, counter: '3' } } : undefined);
      void ready.then(() => (r.readyAt = wall()));
      const onEvent = (e: { event: string; id: string; renderMs?: number }) => {
        if (e.id !== id || e.event !== 'started') return;
        st.off('event', onEvent);
        r.startedAt = wall();
        r.renderMs = e.renderMs;
        done();
      };
      st.on('event', onEvent);
    } else if (m.cmd === 'stop') {
      void st.close().then(() => process.exit(0));
    }
  });
}

main().catch((e: Error & { code?: string }) => {
  process.send!({ type: 'fail', error: e.code ? `${e.code}: ${e.message}` : String(e) });
  process.exit(1);
});
