/**
 * RTSP 1.0 (RFC 2326) message framing on a TCP connection, shared by the server and the publisher:
 * requests, responses and `$`-prefixed interleaved binary frames (RTP/RTCP over TCP) arrive
 * mixed on one byte stream.
 */

export interface RtspMessage {
  /** request: method and URL; response: undefined */
  method?: string;
  url?: string;
  /** response: status code and reason */
  status?: number;
  reason?: string;
  /** header names lower-cased */
  headers: Record<string, string>;
  body: Buffer;
}

export interface InterleavedFrame {
  channel: number;
  data: Buffer;
}

/** Largest header block we accept: a client sending more is broken or hostile. */
const MAX_HEADER = 16 * 1024;
const MAX_BODY = 64 * 1024;

export class RtspParseError extends Error {}

/** Incremental parser: feed bytes, get messages and interleaved frames in order. */
export class RtspReader {
  private buf: Buffer = Buffer.alloc(0);

  /** bytes of a message or frame not complete yet (0: every byte so far was understood) */
  get buffered(): number {
    return this.buf.length;
  }

  constructor(
    private readonly onMessage: (m: RtspMessage) => void,
    private readonly onFrame: (f: InterleavedFrame) => void,
  ) {}

  push(data: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    for (;;) {
      if (this.buf.length === 0) return;
      if (this.buf[0] === 0x24) {
        if (this.buf.length < 4) return;
        const len = this.buf.readUInt16BE(2);
        if (this.buf.length < 4 + len) return;
        const frame = { channel: this.buf[1], data: this.buf.subarray(4, 4 + len) };
        this.buf = this.buf.subarray(4 + len);
        this.onFrame(frame);
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > MAX_HEADER) throw new RtspParseError('RTSP header too long');
        return;
      }
      const head = this.buf.toString('utf8', 0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const len = Number(headers['content-length'] ?? 0);
      if (!Number.isInteger(len) || len < 0 || len > MAX_BODY) throw new RtspParseError(`bad Content-Length ${headers['content-length']}`);
      if (this.buf.length < end + 4 + len) return;
      const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + len));
      this.buf = this.buf.subarray(end + 4 + len);
      const first = head[0].split(' ');
      if (first[0].startsWith('RTSP/')) {
        this.onMessage({ status: Number(first[1]), reason: first.slice(2).join(' '), headers, body });
      } else if (first.length === 3 && first[2].startsWith('RTSP/')) {
        this.onMessage({ method: first[0].toUpperCase(), url: first[1], headers, body });
      } else {
        throw new RtspParseError(`not an RTSP message: ${head[0].slice(0, 80)}`);
      }
    }
  }
}

/** Serializes a request or response head plus optional body. */
export function formatMessage(firstLine: string, headers: Record<string, string | number | undefined>, body?: string | Buffer): Buffer {
  const b = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  let s = `${firstLine}\r\n`;
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) s += `${k}: ${v}\r\n`;
  if (b.length) s += `Content-Length: ${b.length}\r\n`;
  s += '\r\n';
  return Buffer.concat([Buffer.from(s, 'utf8'), b]);
}

/** An interleaved frame: `$`, channel, 16-bit length, data. */
export function interleave(channel: number, data: Buffer): Buffer {
  const h = Buffer.allocUnsafe(4);
  h[0] = 0x24;
  h[1] = channel;
  h.writeUInt16BE(data.length, 2);
  return Buffer.concat([h, data]);
}

/**
 * A packet built by RtpStream.packet() (interleaved header for channel 0 in front) as an
 * interleaved frame on `channel`: the very buffer for channel 0, a framed copy for any other
 * (the shared buffer may already sit in other sockets' queues, so it is never rewritten).
 */
export function interleavedFor(channel: number, framed: Buffer): Buffer {
  return channel === framed[1] ? framed : interleave(channel, framed.subarray(4));
}

/** A Transport header entry, e.g. `RTP/AVP/TCP;unicast;interleaved=0-1` → its parts. */
export function parseTransport(value: string): { profile: string; params: Record<string, string> }[] {
  return value.split(',').map((spec) => {
    const parts = spec.trim().split(';');
    const params: Record<string, string> = {};
    for (const p of parts.slice(1)) {
      const i = p.indexOf('=');
      if (i < 0) params[p.trim().toLowerCase()] = '';
      else params[p.slice(0, i).trim().toLowerCase()] = p.slice(i + 1).trim();
    }
    return { profile: parts[0].trim().toUpperCase(), params };
  });
}

/**
 * "a-b" → [a, b] (b defaults to a+1): decimal numbers 0–65535 only, else undefined (never a
 * guess: "abc" is not 0). A player's SETUP is read stricter still: see transport.ts.
 */
export function parsePortPair(v: string | undefined): [number, number] | undefined {
  const m = v === undefined ? null : /^\s*(\d{1,5})(?:-(\d{1,5}))?\s*$/.exec(v);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a + 1 : Number(m[2]);
  return a <= 65535 && b <= 65535 ? [a, b] : undefined;
}
