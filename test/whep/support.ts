/** Helpers of the whep tests: real peers (werift source, aiortc server), audio comparison. */
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PcmMessage } from '../../lib/pcm';
import { sleep, spawnPeer, until } from '../support/processes';
import { WhepIn, type WhepEvent, type WhepInOptions } from '../../lib/whep';
import { PYTHON } from '../support/peers';

export const root = path.resolve(__dirname, '..', '..', '..');

/** 48 kHz mono s16le → `rate` mono s16le through sox (the reference the decoded audio is compared with). */
export function resampleWithSox(pcm48k: Buffer, rate: number): Buffer {
  const r = spawnSync('sox', ['-t', 'raw', '-e', 'signed-integer', '-b', '16', '-c', '1', '-r', '48000', '-', '-t', 'raw', '-r', String(rate), '-'], {
    input: pcm48k,
    maxBuffer: 256 << 20,
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`sox failed: ${r.stderr}`);
  return r.stdout;
}

export function samples(buf: Buffer, channels = 1, channel = 0): Float64Array {
  const n = Math.floor(buf.length / 2 / channels);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = buf.readInt16LE(2 * (i * channels + channel));
  return out;
}

function corrAt(a: Float64Array, b: Float64Array, lag: number): number {
  // a[i + lag] against b[i]
  let ab = 0, aa = 0, bb = 0;
  for (let i = Math.max(0, -lag); i < b.length && i + lag < a.length; i++) {
    const x = a[i + lag], y = b[i];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/**
 * Best normalised correlation of the received signal with the reference over lags up to
 * `maxLagMs` (the received stream may start a little late or carry the codec's delay):
 * a coarse search on 10 ms energy envelopes, then the waveform around the best lag.
 */
export function bestCorrelation(received: Float64Array, reference: Float64Array, rate: number, maxLagMs = 1500): { corr: number; lagMs: number } {
  const hop = rate / 100;
  const env = (s: Float64Array) => {
    const e = new Float64Array(Math.floor(s.length / hop));
    for (let i = 0; i < e.length; i++) {
      let sum = 0;
      for (let j = 0; j < hop; j++) sum += Math.abs(s[i * hop + j]);
      e[i] = sum;
    }
    return e;
  };
  const er = env(received), ef = env(reference);
  const maxLag = Math.round(maxLagMs / 10);
  let best = -Infinity, bestLag = 0;
  for (let l = -maxLag; l <= maxLag; l++) {
    const c = corrAt(er, ef, l);
    if (c > best) (best = c), (bestLag = l);
  }
  let fine = -Infinity, fineLag = 0;
  for (let l = bestLag * hop - 2 * hop; l <= bestLag * hop + 2 * hop; l++) {
    const c = corrAt(received, reference, l);
    if (c > fine) (fine = c), (fineLag = l);
  }
  return { corr: fine, lagMs: (fineLag / rate) * 1000 };
}

/** A WhepIn on loopback whose messages and events the test reads. */
export function collectingEngine(opts: WhepInOptions = {}) {
  const chunks: PcmMessage[] = [];
  const events: WhepEvent[] = [];
  const engine = new WhepIn({ iceHostAddresses: ['127.0.0.1'], retryInitialMs: 200, retryMaxMs: 2000, ...opts }, {
    chunk: (m) => chunks.push(m),
    event: (e) => events.push(e),
  });
  const of = (stmId: string) => chunks.filter((c) => c.stmId === stmId);
  const audio = (stmId: string) => Buffer.concat(of(stmId).map((c) => c.payload));
  const named = (name: string, stmId?: string) => events.filter((e) => e.event === name && (stmId === undefined || e.stmId === stmId));
  return { engine, chunks, events, of, audio, named };
}

/**
 * The aiortc WHEP server (python3-aiortc, Debian), sending `pcm48k` (48 kHz mono s16le).
 * Starting is tried twice: the one CI failure seen was this server saying nothing for 45 s, so a
 * second process gets its chance, and the error carries what both printed (the script dumps its
 * Python stacks when it has not started within 20 s).
 */
export async function startAiortc(pcm48k: Buffer, loop = false): Promise<{ url: string; lines: () => string[]; proc: ChildProcess; stop: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whep-aiortc-'));
  const file = path.join(dir, 'speech.raw');
  fs.writeFileSync(file, pcm48k);
  const script = path.join(root, 'test', 'peers', 'aiortc_whep_server.py');
  const failures: string[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    // 3 minutes is the most any test using it runs; the guard kills it whatever happens
    const peer = spawnPeer(PYTHON, [script, '--pcm', file, ...(loop ? ['--loop'] : [])], 180_000);
    let exitCode: number | null | undefined;
    void peer.exited.then((c) => (exitCode = c));
    const ready = () => /^READY (\d+)$/m.exec(peer.stdout());
    try {
      await until(() => ready() !== null || exitCode !== undefined, 40_000, 'READY from the aiortc server');
    } catch {
      // timed out: fall through with no port
    }
    const m = ready();
    if (m) {
      const stop = async () => {
        peer.kill('SIGTERM');
        await Promise.race([peer.exited, sleep(3000)]);
        peer.kill('SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
      };
      const lines = () => peer.stdout().split('\n').filter(Boolean);
      return { url: `http://127.0.0.1:${m[1]}/whep`, lines, proc: peer.child, stop };
    }
    const crashed = exitCode !== undefined; // read before our own kill sets it
    const how = crashed ? `exited (${exitCode})` : 'did not start within 40 s';
    peer.kill('SIGKILL');
    await Promise.race([peer.exited, sleep(3000)]);
    failures.push(`attempt ${attempt}: ${how}; stdout: ${peer.stdout() || '(nothing)'}; stderr: ${peer.stderr() || '(nothing)'}`);
    console.error(`# aiortc WHEP server ${failures.at(-1)}`);
    if (crashed) break; // a crash would crash again
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`aiortc WHEP server failed to start:\n${failures.join('\n')}`);
}

/** The werift source in a child process (a server the test can kill); it lives 3 minutes at most. */
export async function startSourceProcess(args: string[] = []): Promise<{ url: string; port: number; proc: ChildProcess; kill: () => Promise<void> }> {
  const peer = spawnPeer(process.execPath, [path.join(root, 'dist', 'test', 'peers', 'whep-source-cli.js'), ...args], 180_000);
  let exited = false;
  void peer.exited.then(() => (exited = true));
  // its first stdout line is {"url", "port"}
  const first = () => (peer.stdout().includes('\n') ? peer.stdout().slice(0, peer.stdout().indexOf('\n')) : undefined);
  await until(() => first() !== undefined || exited, 30_000, 'the whep source to start').catch(() => undefined);
  const line = first();
  if (!line) {
    peer.kill();
    throw new Error(`whep source ${exited ? 'exited' : 'did not start within 30 s'}: ${peer.stderr() || '(no stderr)'}`);
  }
  const info = JSON.parse(line) as { url: string; port: number };
  const kill = async () => {
    peer.kill();
    await Promise.race([peer.exited, sleep(3000)]);
  };
  return { ...info, proc: peer.child, kill };
}
