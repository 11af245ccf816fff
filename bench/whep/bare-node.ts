/**
 * Bare Node beside the whep figure: the parts of the Listen pipeline that no code of ours can
 * avoid, in a process of its own with none of werift, SRTP, reordering, messages or queues: N
 * plain UDP sockets each receiving the bench source's Opus packets (same speech, same 64 kbit/s
 * CELT, 20 ms apart, sent in bursts by a 10 ms timer as the source sends them, from a sender
 * process of its own), handled in one of three ways (bench/whep says which, and when):
 *   udp      nothing done with a datagram
 *   decode   each packet decoded to 16 kHz mono with our libopus wrapper (lib/whep/opus.ts)
 *   ws       decoded, and every 200 ms of a stream sent as the seed's JSON frame (base64) on one
 *            `ws` connection to the bench's receiver, as base64-ws-out's defaults do
 * Measures what bench/whep asks over IPC ({cmd:'measure', kind, ms}; between measurements it
 * keeps doing the last kind): CPU (user + system) of this process, % of one core per stream.
 * Started by bench/whep: node bare-node.js <streams> <ws url>
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import WebSocket from 'ws';
import { OpusDecoder } from '../../lib/whep/opus';
import { encodeOpus, speechPcm48k } from '../../test/peers/whep-source';
import { sleep } from '../support/stats';

export type Kind = 'udp' | 'decode' | 'ws';

const SRTP_GCM_OVERHEAD = 16; // the datagrams are as long as the SRTP ones (AES-GCM tag)

if (process.argv[2] === 'sender') sender(JSON.parse(process.argv[3]) as number[]);
else void main();

function sender(ports: number[]): void {
  const packets = encodeOpus(speechPcm48k('Number A 0 1 2, please go to counter 3.'), 64000, 'audio');
  const socks = ports.map(() => dgram.createSocket('udp4'));
  const t0 = Date.now();
  let sent = 0;
  setInterval(() => {
    for (let due = Math.floor((Date.now() - t0) / 20) + 1 - sent; due > 0; due--) {
      const opus = packets[sent % packets.length];
      const datagram = Buffer.alloc(12 + opus.length + SRTP_GCM_OVERHEAD);
      datagram[0] = 0x80;
      datagram[1] = 111;
      opus.copy(datagram, 12);
      socks.forEach((s, i) => s.send(datagram, ports[i], '127.0.0.1'));
      sent++;
    }
  }, 10);
  process.on('disconnect', () => process.exit(0));
}

async function main(): Promise<void> {
  const [streams, url] = [Number(process.argv[2]), process.argv[3]];
  process.on('disconnect', () => process.exit(0));
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let kind: Kind = 'ws';
  const socks = await Promise.all(
    Array.from({ length: streams }, (_, i) => {
      const sock = dgram.createSocket('udp4');
      const decoder = new OpusDecoder(16000, 1);
      const parts: Buffer[] = [];
      let bytes = 0;
      sock.on('message', (m) => {
        if (kind === 'udp') return;
        const pcm = decoder.decode(m.subarray(12, m.length - SRTP_GCM_OVERHEAD));
        if (kind === 'decode') return;
        parts.push(pcm);
        bytes += pcm.length;
        if (bytes < 6400) return;
        const chunk = Buffer.concat(parts, bytes);
        parts.length = 0;
        bytes = 0;
        ws.send(`{"traceId":"","stmId":"bare${i}","timestamp":${Date.now() / 1000},"data":"${chunk.toString('base64')}"}`);
      });
      return new Promise<dgram.Socket>((resolve) => sock.bind(0, '127.0.0.1', () => resolve(sock)));
    }),
  );
  const child = fork(__filename, ['sender', JSON.stringify(socks.map((s) => s.address().port))], { stdio: 'inherit' });
  process.on('exit', () => child.kill());
  await sleep(3000); // JIT and libopus's wasm tier-up, as the bench's warm-up
  // one measurement at a time, in the order asked: {kind, ms} -> {kind, cpuPctPerStream}
  let busy = Promise.resolve();
  process.on('message', (m: { cmd: string; kind: Kind; ms: number }) => {
    if (m.cmd !== 'measure') return;
    busy = busy.then(async () => {
      if (kind !== m.kind) {
        kind = m.kind;
        await sleep(300); // code paths settle after the switch
      }
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(m.ms);
      const c = process.cpuUsage(c0);
      process.send!({ kind: m.kind, cpuPctPerStream: ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100 / streams });
    });
  });
  process.send!({ ready: true });
}
