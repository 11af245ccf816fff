/**
 * The peers the benchmarks start as processes of their own (their CPU is not ours): the werift
 * WHEP source (test/peers/whep-source-cli) and the ws receiver (test/peers/ws-receiver). Each
 * child is added to `children`, which the bench kills on exit.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { nextMessage } from './ipc';

const peersDir = path.resolve(__dirname, '..', '..', 'test', 'peers');

/** The WHEP source, looping its speech; `args` are whep-source-cli's (e.g. --voip, --srtp aes-cm). */
export function startWhepSource(children: ChildProcess[], args: string[] = []): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [path.join(peersDir, 'whep-source-cli.js'), '--loop', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('WHEP source did not start')), 30_000);
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += String(d);
      if (buf.includes('\n')) {
        clearTimeout(t);
        resolve({ url: JSON.parse(buf.split('\n')[0]).url as string, proc });
      }
    });
    proc.once('exit', () => reject(new Error('WHEP source exited')));
  });
}

/** The ws receiver (IPC: it reports its port, and what it received when asked). */
export async function startWsReceiver(children: ChildProcess[]): Promise<{ url: string; proc: ChildProcess }> {
  const proc = fork(path.join(peersDir, 'ws-receiver.js'), ['0'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(proc);
  const { port } = await nextMessage<{ port: number }>(proc, 30_000, 'ws receiver');
  return { url: `ws://127.0.0.1:${port}/bench`, proc };
}
