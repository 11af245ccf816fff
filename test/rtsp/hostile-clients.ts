/**
 * Raw RTSP clients over `net` sockets for the serve-mode tests and bench/soak: a minimal player
 * that speaks requests and reads answers and interleaved frames, and the hostile clients a
 * public-facing server meets (half requests, bad SETUPs, interleaved frames before any request).
 * Loopback only: every address comes from the server under test.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';

export interface RtspAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw RTSP connection: request() writes one request and resolves with its answer. */
export class RawRtsp {
  readonly sock: Socket;
  private buf = Buffer.alloc(0);
  private waiting: Array<(a: RtspAnswer) => void> = [];
  private cseq = 0;
  /** interleaved frames received, by channel */
  readonly frames = new Map<number, number>();
  closed = false;
  readonly opened: Promise<void>;

  constructor(port: number, host = '127.0.0.1') {
    this.sock = connect(port, host);
    this.sock.on('error', () => {});
    this.sock.on('close', () => (this.closed = true));
    this.opened = new Promise((resolve, reject) => {
      this.sock.once('connect', () => resolve());
      this.sock.once('error', reject);
    });
    this.sock.on('data', (d: Buffer) => this.read(d));
  }

  private read(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length) {
      if (this.buf[0] === 0x24) {
        if (this.buf.length < 4 || this.buf.length < 4 + this.buf.readUInt16BE(2)) return;
        this.frames.set(this.buf[1], (this.frames.get(this.buf[1]) ?? 0) + 1);
        this.buf = this.buf.subarray(4 + this.buf.readUInt16BE(2));
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buf.toString('utf8', 0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const len = Number(headers['content-length'] ?? 0);
      if (this.buf.length < end + 4 + len) return;
      const body = this.buf.toString('utf8', end + 4, end + 4 + len);
      this.buf = this.buf.subarray(end + 4 + len);
      this.waiting.shift()?.({ status: Number(lines[0].split(' ')[1]), headers, body });
    }
  }

  /** Sends `METHOD url RTSP/1.0` with the headers; resolves with the answer (rejects after `ms`). */
  request(method: string, url: string, headers: Record<string, string> = {}, ms = 5000): Promise<RtspAnswer> {
    let text = `${method} ${url} RTSP/1.0\r\nCSeq: ${++this.cseq}\r\n`;
    for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
    this.sock.write(text + '\r\n');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: no answer within ${ms} ms`)), ms);
      this.waiting.push((a) => {
        clearTimeout(timer);
        resolve(a);
      });
    });
  }

  /** SETUP with this Transport, then PLAY when it was accepted; returns the SETUP's status. */
  async setupAndPlay(url: string, transport: string): Promise<number> {
    const setup = await this.request('SETUP', `${url}/trackID=0`, { Transport: transport });
    if (setup.status !== 200) return setup.status;
    const session = setup.headers['session'].split(';')[0];
    const play = await this.request('PLAY', url, { Session: session });
    if (play.status !== 200) throw new Error(`PLAY answered ${play.status}`);
    return 200;
  }

  write(data: string | Buffer): void {
    if (!this.closed) this.sock.write(data);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** A UDP "player": an even/odd port pair that counts the RTP packets it receives. */
export async function udpReceiver(): Promise<{ ports: [number, number]; packets: () => number; close: () => void }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const rtpPort = 2 * (20000 + Math.floor(Math.random() * 10000));
    const rtp: UdpSocket = createSocket('udp4');
    const rtcp: UdpSocket = createSocket('udp4');
    try {
      await new Promise<void>((res, rej) => (rtp.once('error', rej), rtp.bind(rtpPort, '127.0.0.1', () => res())));
      await new Promise<void>((res, rej) => (rtcp.once('error', rej), rtcp.bind(rtpPort + 1, '127.0.0.1', () => res())));
    } catch {
      rtp.close();
      try { rtcp.close(); } catch { /* not bound */ }
      continue;
    }
    let n = 0;
    rtp.on('message', () => n++);
    return { ports: [rtpPort, rtpPort + 1], packets: () => n, close: () => (rtp.close(), rtcp.close()) };
  }
  throw new Error('no free UDP port pair');
}

/** An RTCP receiver report (RFC 3550 §6.4.2, no report blocks) as a client sends it on channel 1. */
export function interleavedRtcp(channel = 1): Buffer {
  const rr = Buffer.alloc(8);
  rr[0] = 0x80;
  rr[1] = 201;
  rr.writeUInt16BE(1, 2);
  rr.writeUInt32BE(0x12345678, 4);
  const h = Buffer.from([0x24, channel, 0, rr.length]);
  return Buffer.concat([h, rr]);
}

/** Transport values a hostile client may send in SETUP; every one must be refused with 461. */
export const BAD_TRANSPORTS = [
  'RTP/AVP;unicast;client_port=99999-100000',
  'RTP/AVP;unicast;client_port=0-1',
  'RTP/AVP;unicast;client_port=5001-5002',
  'RTP/AVP;unicast;client_port=5000-5003',
  'RTP/AVP;unicast;client_port=65535-65536',
  'RTP/AVP;unicast;client_port=abc',
  'RTP/AVP;unicast;client_port=-2--1',
  'RTP/AVP;unicast;client_port=5000.5-5001',
  'RTP/AVP;unicast;client_port=',
  'RTP/AVP;unicast',
  'RTP/AVP/TCP;unicast;interleaved=abc',
  'RTP/AVP/TCP;unicast;interleaved=256-257',
  'RTP/AVP/TCP;unicast;interleaved=255-256',
  'RTP/AVP/TCP;unicast;interleaved=3-3',
  'RTP/AVP/TCP;unicast;interleaved=-1-0',
  'RTP/AVP/TCP;unicast;interleaved=0x1-2',
  'RTP/AVP/TCP;unicast;interleaved=',
  'RTP/AVP;multicast;client_port=5000-5001',
  'RAW/RAW/UDP;unicast;client_port=5000-5001',
];
