/** The next IPC message of a child process, or an error naming `what` after `ms` (every bench child answers within bounds). */
import type { ChildProcess } from 'node:child_process';

export function nextMessage<T>(proc: ChildProcess, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => {
      proc.off('message', on);
      reject(new Error(`${what} did not answer within ${ms} ms`));
    }, ms);
    const on = (m: T) => {
      clearTimeout(t);
      resolve(m);
    };
    proc.once('message', on);
  });
}
