/**
 * A real WebSocket receiver (a `ws` server on 127.0.0.1) standing in for an ASR service: records
 * every frame per stream (`stmId` of JSON frames, else the connection's `sid`/`stmId` query
 * parameter), can restart (closing every client with 1012 "service restart", as a redeploying
 * service does), can answer each frame, and remembers the upgrade headers it saw.
 * Used by the tests, the benchmark (as a separate process, see the CLI at the bottom) and the
 * examples' "try it locally" notes. The demo has its own receiver (demo/asr-receiver.ts: web page,
 * WAV files, bounded memory); this one keeps every frame, which only a bounded test can afford.
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';

export interface ReceivedFrame {
  /** 0-based number of the connection it arrived on */
  conn: number;
  /** stream: JSON `stmId`, else the connection URL's `sid`/`stmId` query, else '' */
  stmId: string;
  text?: string;
  json?: any;
  binary?: Buffer;
  /** receive time, ms since epoch with sub-ms precision (comparable across processes) */
  at: number;
}

export interface ReceiverOptions {
  port?: number;
  /** serve wss:// with this key and certificate (PEM) */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** answer a frame: return what to send back on the same connection (undefined = nothing) */
  reply?: (frame: ReceivedFrame, ws: WebSocket) => string | Buffer | undefined;
  /** keep frame contents (default true; the benchmark keeps only times) */
  keepData?: boolean;
  /** answer pings (default true); false plays a dead peer whose TCP stays up */
  answerPings?: boolean;
}

export interface SeenConnection {
  url: string;
  headers: IncomingHttpHeaders;
  protocol: string;
}

export function now(): number {
  return performance.timeOrigin + performance.now();
}

export class WsReceiver {
  readonly frames: ReceivedFrame[] = [];
  readonly connections: SeenConnection[] = [];
  port = 0;
  private http: HttpServer | undefined;
  private wss: WebSocketServer | undefined;
  private readonly sockets = new Set<WebSocket>();
  /** while stopping, a client that gets in is closed at once, like the others */
  private stopping = false;

  constructor(private readonly opts: ReceiverOptions = {}) {
    this.port = opts.port ?? 0;
  }

  get url(): string {
    return `${this.opts.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const http = this.opts.tls ? createHttpsServer({ key: this.opts.tls.key, cert: this.opts.tls.cert }) : createHttpServer();
    const wss = new WebSocketServer({ server: http, perMessageDeflate: true, autoPong: this.opts.answerPings ?? true });
    wss.on('connection', (ws, req) => this.accept(ws, req.url ?? '/', req.headers));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (http.address() as AddressInfo).port;
    this.http = http;
    this.wss = wss;
    return this;
  }

  /** Closes every client (1012 service restart) and the listener; the port stays ours for start(). */
  async stop(code = 1012): Promise<void> {
    this.stopping = true;
    const wss = this.wss;
    const http = this.http;
    this.wss = undefined;
    this.http = undefined;
    const closing = [...this.sockets].map(
      (ws) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => ws.terminate(), 2000);
          ws.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          ws.close(code, 'restart');
        }),
    );
    await Promise.all(closing);
    if (wss) await new Promise<void>((r) => wss.close(() => r()));
    if (http) await new Promise<void>((r) => http.close(() => r()));
    this.stopping = false;
  }

  /** Stops, stays down for `downMs`, and listens again on the same port. */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }

  /** Stops reading from every client (a slow or stuck service): their data backs up in TCP. */
  pause(): void {
    for (const ws of this.sockets) ws.pause();
  }

  resume(): void {
    for (const ws of this.sockets) ws.resume();
  }

  /** Cuts every client off without a close handshake (a crashed peer). */
  terminateAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  /** Frames of one stream, in arrival order. */
  stream(stmId: string): ReceivedFrame[] {
    return this.frames.filter((f) => f.stmId === stmId);
  }

  streams(): string[] {
    return [...new Set(this.frames.map((f) => f.stmId))];
  }

  /** The PCM of a stream: its JSON frames' base64 `data` (or binary frames) decoded and joined in arrival order. */
  pcm(stmId: string, dataField = 'data'): Buffer {
    return Buffer.concat(
      this.stream(stmId)
        .map((f) => (f.binary ? f.binary : typeof f.json?.[dataField] === 'string' ? Buffer.from(f.json[dataField], 'base64') : undefined))
        .filter((b): b is Buffer => b !== undefined),
    );
  }

  private accept(ws: WebSocket, url: string, headers: IncomingHttpHeaders): void {
    if (this.stopping) {
      ws.close(1012, 'restart');
      return;
    }
    const conn = this.connections.length;
    this.connections.push({ url, headers, protocol: ws.protocol });
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('error', () => undefined);
    const q = new URL(url, 'http://x').searchParams;
    const connStream = q.get('sid') ?? q.get('stmId') ?? '';
    const keep = this.opts.keepData ?? true;
    ws.on('message', (data: Buffer, isBinary) => {
      const at = now();
      const f: ReceivedFrame = { conn, stmId: connStream, at };
      if (isBinary) {
        if (keep) f.binary = Buffer.from(data);
      } else {
        if (!keep) {
          // the benchmark only needs the stream: read it from the head of the frame, no parse
          const m = /"stmId":"([^"]*)"/.exec(data.toString('utf8', 0, 256));
          if (m) f.stmId = m[1];
          this.frames.push(f);
          return;
        }
        const text = data.toString('utf8');
        f.text = text;
        try {
          const json = JSON.parse(text);
          f.json = json;
          if (json && typeof json.stmId === 'string') f.stmId = json.stmId;
        } catch {
          /* not JSON: recorded as text */
        }
      }
      this.frames.push(f);
      const answer = this.opts.reply?.(f, ws);
      if (answer !== undefined) ws.send(answer);
    });
  }
}

// CLI for the benchmark and the examples: `node ws-receiver.js [port] [--reply] [--ack] [--lines]` prints
// {"port":N} and then every frame; --reply answers each audio frame like a recogniser would
// ({"stmId","traceId","seq","text"}); --ack answers each audio frame with {"stmId","ack":<its seq>}
// once it is recorded and ignores a frame whose seq it already has (ack mode's receiver side);
// --lines prints one JSON line per audio frame at once ({"conn","stmId","seq","ts","bytes","dup"}),
// so that a test can SIGKILL it and still know everything it consumed (stdout on a pipe is
// synchronous on Linux). With an IPC channel (the benchmark) it prints nothing,
// answers {cmd:"report"} with per-stream receive times, {cmd:"clock"} with its clock, and
// {cmd:"stop"} by exiting.
if (require.main === module) {
  const seq = new Map<string, number>();
  const reply = process.argv.includes('--reply')
    ? (f: ReceivedFrame) => {
        if (!f.json || typeof f.json.data !== 'string') return undefined;
        const n = (seq.get(f.stmId) ?? 0) + 1;
        seq.set(f.stmId, n);
        const ms = (Buffer.from(f.json.data, 'base64').length / 32).toFixed(0);
        return JSON.stringify({ stmId: f.stmId, traceId: f.json.traceId, seq: n, text: `heard ${ms} ms of 16 kHz audio` });
      }
    : undefined;
  const lines = process.argv.includes('--lines');
  const ack = process.argv.includes('--ack');
  const lastSeq = new Map<string, number>();
  const consume = (f: ReceivedFrame): string | undefined => {
    if (!f.json || typeof f.json.data !== 'string') return undefined;
    const s = typeof f.json.seq === 'number' ? f.json.seq : undefined;
    const dup = s !== undefined && s <= (lastSeq.get(f.stmId) ?? -1);
    if (s !== undefined && !dup) lastSeq.set(f.stmId, s);
    if (lines) process.stdout.write(JSON.stringify({ conn: f.conn, stmId: f.stmId, seq: s, ts: f.json.timestamp, bytes: (f.json.data.length * 3) / 4, dup }) + '\n');
    if (ack && s !== undefined) return JSON.stringify({ stmId: f.stmId, ack: s });
    return reply?.(f);
  };
  const port = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 0);
  const r = new WsReceiver({ port, keepData: !process.send || lines, reply: lines || ack ? consume : reply });
  void r.start().then(() => {
    if (process.send) process.send({ port: r.port });
    else console.log(JSON.stringify({ port: r.port, url: r.url }));
  });
  if (!process.send && !lines) {
    let shown = 0;
    setInterval(() => {
      for (; shown < r.frames.length; shown++) {
        const f = r.frames[shown];
        const what = f.json ? JSON.stringify({ ...f.json, data: typeof f.json.data === 'string' ? `<${Buffer.from(f.json.data, 'base64').length} bytes>` : f.json.data }) : f.binary ? `<binary ${f.binary.length} bytes>` : f.text;
        console.log(`[${new Date(f.at).toISOString()}] conn ${f.conn} stream ${f.stmId || '-'}: ${what}`);
      }
    }, 200);
  }
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'clock') process.send!({ clock: now() });
    else if (m.cmd === 'report') {
      const times: Record<string, number[]> = {};
      for (const f of r.frames) (times[f.stmId] ??= []).push(f.at);
      process.send!({ report: times, cpu: process.cpuUsage() });
    } else if (m.cmd === 'stop') void r.stop(1001).then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
}
