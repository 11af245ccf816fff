/**
 * One announcement stream of the video benchmark, in a process of its own so its CPU is its own:
 * node video-station.js <audio|board|changing> <port> <fontFile>. `audio`: no video; `board`: the
 * queue board (1280x720, 2 fps) left as it is; `changing`: the board shows a new number (no
 * speech) every 5 s. IPC: {cmd:'cpu', ms} → {cpu} (% of one core over ms); {cmd:'call', number} →
 * the call spoken (with its board where there is one), {callAt, startedAt, shownAt} (wall-clock
 * ms: the message handed in, its speech's first frame written, the board put on the wire);
 * {cmd:'stop'}.
 */
import { createStation } from '../../lib/announce';

const [variant, portArg, fontFile, fpsArg] = process.argv.slice(2);
const wall = () => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const video = variant !== 'audio';
  const st = createStation({
    mode: 'serve', host: '127.0.0.1', port: Number(portArg), path: 'bench', codec: 'opus', engine: 'embedded', voice: 'en-us', chime: 'none',
    ...(video ? { video: 'mjpeg' as const, fps: Number(fpsArg) || 2, videoWidth: 1280, videoHeight: 720, fontFile } : {}),
  });
  st.on('log', () => {});
  await st.start();
  await st.warmUp();
  let n = 0;
  if (variant === 'changing') setInterval(() => void st.showBoard({ call: { number: `B${String(++n % 1000).padStart(3, '0')}`, counter: String(1 + (n % 9)) } }), 5000);
  process.send!({ type: 'ready' });
  process.on('message', (m: { cmd: string; ms?: number; number?: string }) => {
    if (m.cmd === 'cpu') {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      setTimeout(() => {
        const c = process.cpuUsage(c0);
        process.send!({ cpu: ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100 });
      }, m.ms);
    } else if (m.cmd === 'call') {
      // the call with its board (when this stream has one): when the speech started (its first
      // frame written) and when the board went on the wire
      const number = m.number!;
      const r: { callAt: number; startedAt?: number; shownAt?: number } = { callAt: 0 };
      const done = () => {
        if (r.startedAt !== undefined && (r.shownAt !== undefined || !st.board)) process.send!(r);
      };
      const on = (e: { number?: string }) => {
        if (e.number !== number) return;
        st.board!.off('change', on);
        r.shownAt = wall();
        done();
      };
      st.board?.on('change', on);
      r.callAt = wall();
      const { id } = st.announce({ text: `${number}, window 3` }, st.board ? { call: { number, counter: '3' } } : undefined);
      const onEvent = (e: { event: string; id: string }) => {
        if (e.id !== id || e.event !== 'started') return;
        st.off('event', onEvent);
        r.startedAt = wall();
        done();
      };
      st.on('event', onEvent);
    } else if (m.cmd === 'stop') {
      void st.close().then(() => process.exit(0));
    }
  });
}

main().catch((e) => {
  process.send!({ type: 'fail', error: String(e) });
  process.exit(1);
});
