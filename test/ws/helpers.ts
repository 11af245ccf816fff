/**
 * Shared helpers of the ws tests: deterministic PCM per stream, a self-signed certificate, a raw
 * frame server, the Python receiver, a test file's clean-up and a sender whose output it reads.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { WsSender, type Reply, type SenderEvent, type SenderOptions } from '../../lib/ws';
import { spawnPeer, until } from '../support/processes';
import { PYTHON } from '../support/peers';

/** Registers something to stop once the test file's tests are done. */
export type Cleanup = (stop: () => unknown) => void;

/**
 * The clean-up of a test file (call it at its top level): what its tests start (servers, peers,
 * senders) is registered as it is made and stopped in the file's after(), the last made first.
 */
export function cleanupAfterFile(): Cleanup {
  const stops: Array<() => unknown> = [];
  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });
  return (stop) => void stops.push(stop);
}

/** A WsSender whose events and replies the test reads; closed when the file's tests are done. */
export function recordingSender(cleanup: Cleanup, opts: SenderOptions): { s: WsSender; events: SenderEvent[]; replies: Reply[] } {
  const s = new WsSender(opts);
  const events: SenderEvent[] = [];
  const replies: Reply[] = [];
  s.on('event', (e: SenderEvent) => events.push(e));
  s.on('reply', (r: Reply) => replies.push(r));
  cleanup(() => s.close());
  return { s, events, replies };
}

export const FMT16K = { rate: 16000, channels: 1, bits: 16, encoding: 'signed-integer', endianness: 'little' } as const;

/**
 * 16 kHz mono PCM whose samples encode the stream number and the sample index, so any mix-up
 * shows. The (s >> 13) term keeps it from repeating: without it, 7·s mod 65536 repeats every 512
 * chunks of 3200 samples, and a test that maps received chunks back to their index took chunk 999
 * for chunk 487.
 */
export function pcmFor(stream: number, startSample: number, samples: number): Buffer {
  const b = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    const s = startSample + i;
    b.writeInt16LE(((s * 7 + (s >> 13) * 31 + stream * 4099) % 65536) - 32768, i * 2);
  }
  return b;
}

/** Splits a stream's audio into messages of irregular sizes (whole samples), as real sources do. */
export function messagesFor(stream: number, totalSamples: number, sizes = [160, 320, 480, 97, 640, 1]): Buffer[] {
  const out: Buffer[] = [];
  let n = 0;
  let i = stream;
  while (n < totalSamples) {
    const k = Math.min(sizes[i++ % sizes.length], totalSamples - n);
    out.push(pcmFor(stream, n, k));
    n += k;
  }
  return out;
}

/** A self-signed certificate for 127.0.0.1 made with the openssl CLI, in a temp dir removed at once. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ws-cert-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore', timeout: 30_000 },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export { sleep } from '../support/processes';

/** One frame as it crossed the wire, read by rawFrameServer. */
export interface RawFrame {
  opcode: number;
  masked: boolean;
  /** the masking key, hex (8 digits) */
  key: string;
  /** the payload, unmasked */
  payload: Buffer;
}

/**
 * A WebSocket server written on a raw `net` socket: answers the opening handshake itself and then
 * parses the client's frames byte by byte, so a test sees each frame's masking key as sent (a
 * WebSocket library unmasks and hides it). Loopback only.
 */
export async function rawFrameServer(): Promise<{ url: string; frames: RawFrame[]; close: () => Promise<void> }> {
  const { createServer } = await import('node:net');
  const { createHash } = await import('node:crypto');
  const frames: RawFrame[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let open = false;
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        buf = buf.subarray(end + 4);
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
        const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        open = true;
      }
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0] & 0x0f;
        const masked = (buf[1] & 0x80) !== 0;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        const keyBytes = masked ? buf.subarray(off, off + 4) : Buffer.alloc(4);
        if (masked) off += 4;
        if (buf.length < off + len) return;
        const payload = Buffer.from(buf.subarray(off, off + len));
        for (let i = 0; i < payload.length; i++) payload[i] ^= keyBytes[i % 4];
        frames.push({ opcode, masked, key: Buffer.from(keyBytes).toString('hex'), payload });
        buf = buf.subarray(off + len);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `ws://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`,
    frames,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** One event line of the Python receiver (test/peers/ws_receiver.py). */
export interface PyEvent {
  ev?: 'open' | 'frame' | 'close' | 'reply-failed' | 'final-failed' | string;
  port?: number;
  conn: number;
  path?: string;
  authorization?: string;
  extensions?: string;
  text?: string;
  binary?: string;
  stmId?: string;
  code?: number;
}

/**
 * The independent WebSocket receiver (Python websockets, Debian's python3): listening on
 * 127.0.0.1, its events collected as they come; killed by `cleanup`. stdin stays open: it exits
 * when that closes (or after --max-seconds).
 */
export async function startPythonReceiver(cleanup: Cleanup, extra: string[] = []): Promise<{ url: string; events: PyEvent[] }> {
  const script = join(__dirname, '..', '..', '..', 'test', 'peers', 'ws_receiver.py');
  const events: PyEvent[] = [];
  let port = 0;
  const peer = spawnPeer(PYTHON, [script, '--max-seconds', '120', ...extra], 130_000, {
    stdin: 'pipe',
    onLine: (line) => {
      if (!line) return;
      const e = JSON.parse(line) as PyEvent;
      if (e.port) port = e.port;
      else events.push(e);
    },
  });
  cleanup(() => peer.kill());
  await until(() => port > 0, 15_000, 'python receiver listening').catch((e: Error) => {
    throw new Error(`${e.message}; its stderr: ${peer.stderr() || '(nothing)'}`);
  });
  return { url: `ws://127.0.0.1:${port}`, events };
}
