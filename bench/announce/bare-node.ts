/**
 * Bare Node, beside the idle-CPU figure: what Node itself costs on this machine to do the least an
 * idle stream must do, with none of our code. A process of its own (forked by bench/announce)
 * with N TCP connections to a sink process that reads and discards (so, like the players, the
 * receiving side's own work is not ours; on loopback the kernel still charges part of the
 * receive path to the sender, as it does for the stream). Asked for a slice, it runs for that
 * long one of:
 *   timer   a bare setTimeout chain on an absolute schedule, one wake-up per packet interval
 *   writes  the same, writing one ready-made packet (`bytes`) to each connection per wake-up with
 *           socket.write, as the stream's fan-out does
 * and answers with its CPU (user + system) over the slice, % of one core. Between slices it does
 * nothing. Started as: node bare-node.js <connections>  (IPC: {cmd:'slice', kind, ms, intervalMs, bytes})
 */
import { fork } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';

if (process.argv[2] === 'sink') {
  const server = createServer((s) => {
    s.on('data', () => undefined);
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('disconnect', () => process.exit(0));
} else {
  void main();
}

interface Slice {
  cmd: 'slice';
  kind: 'timer' | 'writes';
  ms: number;
  intervalMs: number;
  bytes: number;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2]);
  const sink = fork(__filename, ['sink'], { stdio: 'inherit' });
  process.on('exit', () => sink.kill());
  process.on('disconnect', () => process.exit(0));
  const port = await new Promise<number>((resolve) => sink.once('message', (m: { port: number }) => resolve(m.port)));
  const socks = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
          s.setNoDelay(true); // as the RTSP server sets its players' sockets
          s.once('error', reject);
        }),
    ),
  );
  process.on('message', (m: Slice) => {
    if (m.cmd !== 'slice') return;
    const packet = Buffer.alloc(m.bytes, 0x80);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let next = t0 + m.intervalMs;
    const wake = () => {
      if (m.kind === 'writes') for (const s of socks) s.write(packet);
      const now = performance.now();
      if (now - t0 < m.ms) {
        next += m.intervalMs;
        setTimeout(wake, Math.max(0, next - now));
        return;
      }
      const c = process.cpuUsage(c0);
      process.send!({ cpu: ((c.user + c.system) / 1000 / (now - t0)) * 100 });
    };
    setTimeout(wake, m.intervalMs);
  });
  process.send!({ ready: count });
}
