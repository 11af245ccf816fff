/** Runs a speech engine's child process with a time limit, collecting its output. */
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export function runBounded(cmd: string, args: string[], opts: { input?: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, windowsHide: true });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} took longer than ${opts.timeoutMs} ms and was stopped`));
    }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    // keep the tail only: it holds the reason of a failure
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err.trim() });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
