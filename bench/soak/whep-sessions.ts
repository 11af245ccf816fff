/**
 * Soak of whep-in's session life cycle: 1000 start/stop cycles at random moments (before, during
 * and after the offer, and while audio flows) of the engine against the werift WHEP source in a
 * process of its own, then what is left: live sessions at the source, our file descriptors and RSS.
 * Bounded: cycling stops after 130 s whatever the count, the source is killed at the end.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { WhepIn } from '../../lib/whep';

const CYCLES = 1000;
const LANES = 8;
const MAX_STOP_AFTER_MS = 300;
const CYCLING_BUDGET_MS = 130_000;

const fds = () => fs.readdirSync('/proc/self/fd').length;
const mb = (bytes: number) => Math.round((bytes / (1 << 20)) * 10) / 10;
const rssMb = () => mb(process.memoryUsage().rss);
const heapMb = () => mb(process.memoryUsage().heapUsed);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function getJson<T>(port: number, p: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 5000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as T));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${p} within 5 s`)));
    req.on('error', reject);
  });
}

function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export async function run(): Promise<Record<string, number>> {
  const cli = path.resolve(__dirname, '..', '..', 'test', 'peers', 'whep-source-cli.js');
  const src = spawn(process.execPath, [cli, '--loop', '--control'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const guard = setTimeout(() => src.kill('SIGKILL'), 200_000);
  try {
    let out = '';
    src.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    src.stderr.resume();
    const started = Date.now();
    while (!out.includes('\n')) {
      if (src.exitCode !== null || Date.now() - started > 30_000) throw new Error(`the whep source did not start: ${out}`);
      await sleep(50);
    }
    const { url, port } = JSON.parse(out.slice(0, out.indexOf('\n'))) as { url: string; port: number };

    settle();
    const fdsBefore = fds();
    const rssMbBefore = rssMb();
    const heapMbBefore = heapMb();
    const engine = new WhepIn({ iceHostAddresses: ['127.0.0.1'], rate: 16000, channels: 1, maxStreams: LANES }, { chunk: () => undefined, event: () => undefined });
    const t0 = Date.now();
    let cycles = 0;
    let peakFds = fdsBefore;
    await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        for (let i = 0; cycles < CYCLES && Date.now() - t0 < CYCLING_BUDGET_MS; i++) {
          cycles++;
          const stmId = `soak-${lane}-${i}`;
          engine.start({ url, stmId });
          await sleep(Math.random() * MAX_STOP_AFTER_MS);
          peakFds = Math.max(peakFds, fds());
          await engine.stop(stmId);
        }
      }),
    );
    await engine.close();
    const cyclingS = (Date.now() - t0) / 1000;
    const s = await getJson<{ posts: number; created: number; deleted: number; live: number }>(port, '/_control/stats');
    // werift releases some sockets a moment after close() resolves
    await sleep(1000);
    settle();
    return {
      cycles,
      cyclingS: Math.round(cyclingS * 10) / 10,
      posts: s.posts,
      sessionsCreated: s.created,
      sessionsDeleted: s.deleted,
      sessionsLeft: s.live,
      fdsBefore,
      fdsPeak: peakFds,
      fdsAfter: fds(),
      rssMbBefore,
      rssMbAfter: rssMb(),
      // the JS heap after a GC (run with --expose-gc): what RSS growth holds that is ours
      heapMbBefore,
      heapMbAfter: heapMb(),
    };
  } finally {
    clearTimeout(guard);
    src.kill('SIGTERM');
    if (src.exitCode === null) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((r) => src.once('exit', r)), new Promise((r) => (t = setTimeout(r, 3000)))]);
      clearTimeout(t);
      if (src.exitCode === null) src.kill('SIGKILL');
    }
  }
}

// `node dist/bench/soak/whep-sessions.js` runs it alone (the soak bench's index runs every part)
if (require.main === module) {
  run().then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
