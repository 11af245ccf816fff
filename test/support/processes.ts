/**
 * Real peers as child processes (ffmpeg, GStreamer, python), bounded in time, and free loopback
 * ports for them: shared by every integration test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface Peer {
  child: ChildProcess;
  /** the first 20 000 characters it printed on stdout (machine-readable output is read from the start) */
  stdout: () => string;
  /** the last 20 000 characters it printed on stderr (errors are at the end) */
  stderr: () => string;
  /** resolves with the exit code (or null when killed) */
  exited: Promise<number | null>;
  kill: (sig?: NodeJS.Signals) => void;
}

export interface PeerOptions {
  /** 'pipe' keeps the peer's stdin open (peers that exit when it closes); default 'ignore' */
  stdin?: 'pipe' | 'ignore';
  /** called with every whole line the peer prints on stdout, however long the output grows */
  onLine?: (line: string) => void;
}

/** Spawns a peer that is killed after `maxMs` whatever happens. */
export function spawnPeer(cmd: string, args: string[], maxMs: number, opts: PeerOptions = {}): Peer {
  const child = spawn(cmd, args, { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    if (out.length < 20000) out += s;
    if (!opts.onLine) return;
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const l of lines) opts.onLine(l);
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    err += s;
    if (err.length > 20000) err = err.slice(-20000);
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), maxMs);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve(code);
    });
    child.on('error', (e) => {
      err += String(e);
      clearTimeout(guard);
      resolve(-1);
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (sig = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds (polling), or fails after `ms`: every wait in the tests is bounded. */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}
