/**
 * A supervised ffmpeg encoder child (the AAC audio encoder, the H.264 video encoder): spawned with
 * the given arguments, its stdout handed to the encoder, its stderr to `onLog` line by line; when
 * it exits it is restarted with back-off and the exit is reported to `onError` (with its last
 * stderr line, which says why: an unknown encoder, a bad option); `close()` kills it and waits
 * for it to be gone, so nothing outlives a redeploy.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Backoff } from '../util/backoff';
import { CodedError } from '../util/errors';
import { spawnFailureReason } from '../util/executable';

export interface FfmpegChildOptions {
  /** the ffmpeg program, already found (findExecutable) */
  program: string;
  args: string[];
  /** what the child does, for messages: "AAC encoder", "H.264 encoder" */
  role: string;
  /** error codes: the program vanished since it was found, it cannot be started, it exited */
  codes: { missing: (name: string) => CodedError; failed: string; exited: string };
  backoff?: { initialMs: number; maxMs: number };
  /** a child is up (the first and every restarted one): reset the stream state that belongs to it */
  onSpawn: (child: ChildProcessWithoutNullStreams) => void;
  onStdout: (data: Buffer) => void;
  onLog: (line: string) => void;
  onError: (err: CodedError) => void;
}

export class FfmpegChild {
  private child: ChildProcessWithoutNullStreams | undefined;
  private closed = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private startedAt = 0;
  /** the child's last stderr line: the reason in an exit report */
  lastLine = '';
  restarts = 0;

  constructor(private readonly opts: FfmpegChildOptions) {
    this.backoff = new Backoff({ initialMs: opts.backoff?.initialMs ?? 500, maxMs: Math.min(30000, opts.backoff?.maxMs ?? 30000) });
    this.spawnChild();
  }

  /** The running child (undefined while restarting or closed). */
  get current(): ChildProcessWithoutNullStreams | undefined {
    return this.child;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawnChild(): void {
    const o = this.opts;
    // windowsHide: no console window pops up on the desktop of a Windows PC running Node-RED
    const child = spawn(o.program, o.args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    this.child = child;
    this.startedAt = Date.now();
    this.lastLine = '';
    o.onSpawn(child);
    child.stdout.on('data', (d: Buffer) => {
      if (this.child === child) o.onStdout(d);
    });
    let errLine = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      const lines = (errLine + s).split(/\r?\n/);
      errLine = lines.pop() ?? '';
      for (const l of lines) {
        if (!l.trim()) continue;
        this.lastLine = l.trim();
        o.onLog(`ffmpeg: ${l}`);
      }
    });
    // a write to a dying child fails with EPIPE: the exit handler deals with it
    child.stdin.on('error', () => {});
    child.on('error', (err: NodeJS.ErrnoException) => {
      // gone since it was found (uninstalled, moved): the same words as when it was never there
      if (err.code === 'ENOENT') return o.onError(o.codes.missing(o.program));
      const reason = spawnFailureReason(o.program, err);
      o.onError(new CodedError(o.codes.failed, `ffmpeg (${o.role}) failed: ${reason}`, { reason }));
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.closed) return;
      if (Date.now() - this.startedAt > 10000) this.backoff.reset();
      const delay = this.backoff.next();
      // killed: by us or someone else, its last line says nothing about why; otherwise it says why
      const reason = signal ? `signal ${signal}` : `code ${code}${this.lastLine ? `: ${this.lastLine}` : ''}`;
      o.onError(new CodedError(o.codes.exited, `ffmpeg (${o.role}) exited with ${reason}; restarting in ${delay} ms`, { reason, delay }));
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.closed) {
          this.restarts++;
          this.spawnChild();
        }
      }, delay);
    });
  }

  /** Kills a child that no longer answers: it is restarted like one that exited. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** Kills the child and resolves once it is gone (at most 2 s), so nothing outlives close. */
  close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 2000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin.destroy();
      child.kill('SIGKILL');
    });
  }
}
