/** Runs a speech engine's child process with a time limit, collecting its output. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  /** the child's working directory (relative arguments are taken from it) */
  cwd?: string;
}

/** After kill(), how long to wait for the child's pipes to close (a grandchild may hold them). */
const CLOSE_AFTER_KILL_MS = 2000;

/**
 * Resolves with the exit code and output; rejects when the program cannot be started (ENOENT,
 * or EINVAL for a Windows batch file, which spawn throws at once) or runs longer than timeoutMs.
 * A child that runs too long is killed and the rejection waits for it to be gone, so the caller
 * never removes files (or starts the next request) while the child still holds them.
 */
export function runBounded(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd, windowsHide: true });
    } catch (e) {
      return reject(e);
    }
    const out: Buffer[] = [];
    let err = '';
    let timedOut = false;
    let closeGuard: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      closeGuard = setTimeout(finish, CLOSE_AFTER_KILL_MS);
    }, opts.timeoutMs);
    function finish(code: number | null = null): void {
      clearTimeout(timer);
      clearTimeout(closeGuard);
      if (timedOut) reject(new Error(`${cmd} took longer than ${opts.timeoutMs} ms and was stopped`));
      else resolve({ code, stdout: Buffer.concat(out), stderr: err.trim() });
    }
    child.stdout.on('data', (d: Buffer) => out.push(d));
    // keep the tail only: it holds the reason of a failure
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', (e) => {
      // not started (ENOENT…): there is no process to wait for
      if (timedOut) return;
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => finish(code));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
