/**
 * A WHEP source (server) built on werift that sends real Opus: speech made with espeak-ng (or
 * PCM given by the caller), encoded once with opusscript and sent in real time to every session.
 * Used by the tests (with fault switches that mimic real servers: mediamtx's 404 while nobody
 * publishes, SRS's closed connection on a rejected offer and its 302 without a trailing slash,
 * a publisher that stops and resumes, a server that dies) and by the demo (`npm start`).
 *
 *   const src = await startWhepSource({ port: 0, text: 'hello', loop: true });
 *   src.url  // http://127.0.0.1:<port>/whep/demo
 *   await src.stop();
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { hasPeer } from '../support/peers';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import OpusScript from 'opusscript';
import { RTCPeerConnection, RtpHeader, RtpPacket, type RTCRtpTransceiver } from 'werift';

export interface WhepSourceOptions {
  /** TCP port of the HTTP endpoint (0 = any free port) */
  port?: number;
  /** spoken with espeak-ng (when no `pcm` is given) */
  text?: string;
  /** espeak-ng voice, e.g. "en" or "cmn" */
  voice?: string;
  /** 48 kHz mono s16le to send instead of speech */
  pcm?: Buffer;
  /** start again from the beginning when the audio ends (else RTP stops, as when a publisher leaves) */
  loop?: boolean;
  /** Opus bitrate (bits/s), default 64000 */
  bitrate?: number;
  /**
   * Opus application: "audio" (default; CELT, like ffmpeg/libopus transcoders such as SRS's
   * RTMP→WebRTC path) or "voip" (SILK/hybrid, like a browser publishing speech)
   */
  application?: 'audio' | 'voip';
  /**
   * "aes-cm": offer only AES_CM_128_HMAC_SHA1_80 in DTLS-SRTP, as SRS does (werift prefers
   * AEAD_AES_128_GCM otherwise). werift 0.24 has no option for it: this narrows the profile list
   * that werift shares between all its transports, so it holds for the whole process (the
   * source CLI, not a test process that also runs whep-in).
   */
  srtp?: 'aes-cm';
  /** serve HTTPS with this key and certificate (PEM) instead of HTTP */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * Start with nobody publishing, and mimic how a server says so until publish() is called:
   * "silent": answer 201 and keep a live session that carries no RTP (SRS), RTP starts on it
   * when the publisher appears; "404": refuse offers with 404 (mediamtx).
   */
  absent?: 'silent' | '404';
  /**
   * Serve GET /_control/stats (the counters as JSON) and POST /_control/publish, /_control/unpublish
   * (for a source in its own process).
   */
  control?: boolean;
}

/** What a source counts, for tests and benches that check every session was released. */
export interface WhepSourceStats {
  /** offers received (every POST, including the refused ones) */
  posts: number;
  /** sessions made and answered with 201/200 */
  created: number;
  /** DELETEs that ended a live session */
  deleted: number;
  /** DELETE requests received (including ones for unknown sessions) */
  deletes: number;
  /** sessions alive now */
  live: number;
  /** whether a publisher is there */
  publishing: boolean;
}

/** Switches that make the source misbehave the way real servers do. Change them at any time. */
export interface WhepSourceFaults {
  /** answer 404 (mediamtx: nobody publishes) to the next n offers */
  notFound: number;
  /** answer 503 with Retry-After: 1 to the next n offers */
  unavailable: number;
  /** close the connection without any reply (SRS rejecting an offer) to the next n offers */
  closeWithoutReply: number;
  /** answer 302 to offers POSTed to a path without a trailing slash (SRS's /rtc/v1/whep) */
  redirect302: boolean;
  /** answer 307 to the next n offers, pointing at the same endpoint with ?redirected=1 */
  redirect307: number;
  /** answer without a Location header (older SRS whip-play): the client cannot DELETE */
  omitLocation: boolean;
  /** rewrite the answer the way SRS writes it (fmtp starting with ';', ice-lite) */
  srsStyleAnswer: boolean;
  /** answer 200 instead of 201 */
  answer200: boolean;
  /** answer 201 with a broken SDP body to the next n offers */
  badAnswer: number;
  /** a Link: rel="ice-server" header to add to answers */
  linkHeader?: string;
}

export interface WhepSourceSession {
  id: string;
  pc: RTCPeerConnection;
  transceiver: RTCRtpTransceiver;
  /** index of the next packet to send */
  next: number;
  startedAt: number;
  seq: number;
  ts: number;
  sent: number;
  authorization?: string;
  deleted: boolean;
}

const FRAME = 960; // 20 ms at 48 kHz

/**
 * Speech as 48 kHz mono s16le: espeak-ng → sox (both Debian packages), or where they are missing
 * the same eSpeak NG from its npm package (test/peers/speech-cli.ts), so a machine with only Node
 * and npm still has a speaking source.
 */
export function speechPcm48k(text: string, voice = 'en'): Buffer {
  if (!hasPeer('espeak-ng') || !hasPeer('sox')) {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'speech-cli.js'), voice, text], { maxBuffer: 256 << 20, timeout: 60_000 });
    if (r.status !== 0 || !r.stdout?.length) throw new Error(`speech from the espeak-ng npm package failed: ${r.stderr?.toString() || r.error}`);
    return r.stdout;
  }
  const wav = spawnSync('espeak-ng', ['-v', voice, '-s', '150', '--stdout', text], { maxBuffer: 64 << 20, timeout: 30_000 });
  if (wav.status !== 0 || !wav.stdout?.length) throw new Error(`espeak-ng failed: ${wav.stderr?.toString() || wav.error}`);
  const raw = spawnSync('sox', ['-t', 'wav', '-', '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-c', '1', '-r', '48000', '-'], {
    input: wav.stdout,
    maxBuffer: 256 << 20,
    timeout: 30_000,
  });
  if (raw.status !== 0) throw new Error(`sox failed: ${raw.stderr?.toString() || raw.error}`);
  return raw.stdout;
}

/** Encodes 48 kHz mono s16le into 20 ms Opus packets (the last frame padded with silence). */
export function encodeOpus(pcm48k: Buffer, bitrate = 64000, application: 'audio' | 'voip' = 'audio'): Buffer[] {
  const enc = new OpusScript(48000, 1, application === 'voip' ? OpusScript.Application.VOIP : OpusScript.Application.AUDIO);
  enc.setBitrate(bitrate);
  const frameBytes = FRAME * 2;
  const out: Buffer[] = [];
  try {
    for (let off = 0; off < pcm48k.length; off += frameBytes) {
      let frame = pcm48k.subarray(off, off + frameBytes);
      if (frame.length < frameBytes) frame = Buffer.concat([frame, Buffer.alloc(frameBytes - frame.length)]);
      // opusscript copies the bytes of a Buffer (s16le) into its heap
      out.push(enc.encode(frame, FRAME));
    }
  } finally {
    enc.delete();
  }
  return out;
}

export class WhepSource {
  readonly faults: WhepSourceFaults = {
    notFound: 0,
    unavailable: 0,
    closeWithoutReply: 0,
    redirect302: false,
    redirect307: 0,
    omitLocation: false,
    srsStyleAnswer: false,
    answer200: false,
    badAnswer: 0,
  };
  /** offers received (every POST, including the refused ones) */
  posts = 0;
  /** sessions made and answered */
  created = 0;
  /** DELETEs that ended a live session */
  deleted = 0;
  /** whether a publisher is there (see WhepSourceOptions.absent) */
  publishing: boolean;
  /** paths of the DELETE requests received */
  readonly deletes: string[] = [];
  /** Authorization headers of the offers */
  readonly authorizations: Array<string | undefined> = [];
  readonly sessions = new Map<string, WhepSourceSession>();
  /** the 48 kHz mono PCM that is sent (before Opus) */
  readonly pcm: Buffer;
  readonly packets: Buffer[];
  private server: http.Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private paused = false;
  private nextId = 1;
  private _port = 0;

  constructor(private readonly opts: WhepSourceOptions = {}) {
    this.pcm = opts.pcm ?? speechPcm48k(opts.text ?? 'Number A 0 1 2, please go to counter 3.', opts.voice);
    this.packets = encodeOpus(this.pcm, opts.bitrate ?? (opts.application === 'voip' ? 32000 : 64000), opts.application);
    this.publishing = !opts.absent;
    if (opts.absent === 'silent') this.paused = true;
  }

  get stats(): WhepSourceStats {
    return { posts: this.posts, created: this.created, deleted: this.deleted, deletes: this.deletes.length, live: this.sessions.size, publishing: this.publishing };
  }

  /**
   * A publisher appears: RTP starts on the sessions (silent mode: from the beginning of the audio),
   * offers are answered (404 mode). Returns the time it happened (Date.now()).
   */
  publish(): number {
    this.publishing = true;
    if (this.paused) {
      for (const s of this.sessions.values()) s.next = 0; // a new publisher: its audio from the start
      this.resumeRtp();
    }
    return Date.now();
  }

  /** The publisher leaves: RTP stops (the sessions stay, as on SRS); in 404 mode new offers get 404. */
  unpublish(): void {
    this.publishing = false;
    this.pauseRtp();
  }

  get port(): number {
    return this._port;
  }

  /** The WHEP endpoint (any path works; this one is what tests and the demo use). */
  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${this._port}/whep/demo/`;
  }

  /** Duration of one pass of the audio, ms. */
  get durationMs(): number {
    return this.packets.length * 20;
  }

  async start(): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    this.server = this.opts.tls ? https.createServer(this.opts.tls, handler) : http.createServer(handler);
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    this._port = (this.server.address() as AddressInfo).port;
    this.timer = setInterval(() => this.tick(), 10);
    return this;
  }

  /** Stops RTP on every session (the publisher left); the sessions stay up. */
  pauseRtp(): void {
    this.paused = true;
  }

  /** RTP flows again on the same sessions (a publisher came back). */
  resumeRtp(): void {
    if (!this.paused) return;
    this.paused = false;
    const now = Date.now();
    for (const s of this.sessions.values()) {
      s.startedAt = now - s.sent * 20;
    }
  }

  /** Dies mid-stream: the HTTP endpoint and every session vanish without a word. */
  async die(): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const closing = [...this.sessions.values()].map((s) => s.pc.close().catch(() => undefined));
    this.sessions.clear();
    if (this.server) {
      const server = this.server;
      this.server = undefined;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await Promise.all(closing);
  }

  private tick(): void {
    if (this.paused) return;
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (s.transceiver.sender.dtlsTransport?.state !== 'connected') continue;
      // send what is due (catching up after a timer hiccup), never more than 10 packets at once
      let due = Math.floor((now - s.startedAt) / 20) + 1 - s.sent;
      if (due > 10) {
        s.startedAt = now - s.sent * 20;
        due = 1;
      }
      for (; due > 0; due--) {
        if (s.next >= this.packets.length) {
          if (!this.opts.loop) break;
          s.next = 0;
        }
        const header = new RtpHeader({ payloadType: 111, sequenceNumber: s.seq, timestamp: s.ts, marker: s.sent === 0 });
        void s.transceiver.sender.sendRtp(new RtpPacket(header, this.packets[s.next])).catch(() => undefined);
        s.seq = (s.seq + 1) & 0xffff;
        s.ts = (s.ts + FRAME) >>> 0;
        s.next++;
        s.sent++;
      }
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const body = await readBody(req);
      const path = req.url ?? '/';
      if (this.opts.control && path.startsWith('/_control/')) {
        const what = path.slice('/_control/'.length);
        if (what === 'publish' && req.method === 'POST') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ at: this.publish() }));
        else if (what === 'unpublish' && req.method === 'POST') (this.unpublish(), res.writeHead(204).end());
        else if (what === 'stats') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.stats));
        else res.writeHead(404).end();
        return;
      }
      if (req.method === 'DELETE') {
        this.deletes.push(path);
        const id = new URL(path, 'http://x').searchParams.get('session') ?? path.split('/').pop() ?? '';
        const s = this.sessions.get(id);
        if (s) {
          s.deleted = true;
          this.deleted++;
          this.sessions.delete(id);
          await s.pc.close().catch(() => undefined);
          res.writeHead(200).end();
        } else {
          res.writeHead(404).end();
        }
        return;
      }
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      this.posts++;
      this.authorizations.push(req.headers.authorization);
      const f = this.faults;
      if (f.closeWithoutReply > 0) {
        f.closeWithoutReply--;
        req.socket.destroy();
        return;
      }
      if (f.notFound > 0 || (this.opts.absent === '404' && !this.publishing)) {
        if (f.notFound > 0) f.notFound--;
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no one is publishing to this path');
        return;
      }
      if (f.unavailable > 0) {
        f.unavailable--;
        res.writeHead(503, { 'retry-after': '1' }).end();
        return;
      }
      const u = new URL(path, 'http://x');
      if (f.redirect302 && !u.pathname.endsWith('/')) {
        res.writeHead(302, { location: `${u.pathname}/${u.search}` }).end();
        return;
      }
      if (f.redirect307 > 0) {
        f.redirect307--;
        u.searchParams.set('redirected', '1');
        res.writeHead(307, { location: `${u.pathname}${u.search}` }).end();
        return;
      }
      if (f.badAnswer > 0) {
        f.badAnswer--;
        res.writeHead(201, { 'content-type': 'application/sdp', location: '/whep/session?session=broken' }).end('v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nm=video 9 UDP 96\r\n');
        return;
      }
      if (!String(req.headers['content-type'] ?? '').startsWith('application/sdp')) {
        res.writeHead(415).end();
        return;
      }
      const answer = await this.answer(body.toString('utf8'), req.headers.authorization);
      this.created++;
      const headers: Record<string, string> = { 'content-type': 'application/sdp; charset=utf-8' };
      if (!f.omitLocation) headers.location = `../session?session=${answer.id}`; // relative, like SRS
      if (f.linkHeader) headers.link = f.linkHeader;
      res.writeHead(f.answer200 ? 200 : 201, headers).end(answer.sdp);
    } catch (err) {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' }).end(String((err as Error).message));
    }
  }

  private async answer(offer: string, authorization: string | undefined): Promise<{ id: string; sdp: string }> {
    const pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      iceServers: [],
      // loopback only: the tests never touch another address
      iceUseIpv4: false,
      iceUseIpv6: false,
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
    });
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    if (this.opts.srtp === 'aes-cm') {
      for (const t of pc.dtlsTransports) {
        const list = (t as unknown as { srtpProfiles: number[] }).srtpProfiles;
        for (let i = list.length - 1; i >= 0; i--) if (list[i] !== 0x0001) list.splice(i, 1);
      }
    }
    const transceiver = pc.getTransceivers().find((t) => t.kind === 'audio');
    if (!transceiver) {
      await pc.close();
      throw new Error('the offer has no audio section');
    }
    transceiver.setDirection('sendonly');
    await pc.setLocalDescription(await pc.createAnswer());
    const id = String(this.nextId++);
    const session: WhepSourceSession = {
      id,
      pc,
      transceiver,
      next: 0,
      startedAt: Date.now(),
      seq: Math.floor(Math.random() * 0xffff),
      ts: Math.floor(Math.random() * 0xffffffff) >>> 0,
      sent: 0,
      authorization,
      deleted: false,
    };
    transceiver.sender.dtlsTransport?.onStateChange.subscribe((state) => {
      if (state === 'connected') session.startedAt = Date.now() - session.sent * 20;
    });
    pc.connectionStateChange.subscribe((state) => {
      if ((state === 'failed' || state === 'closed') && this.sessions.get(id) === session) {
        // a client that vanished without DELETE (ICE consent expired): release its sockets and timers
        this.sessions.delete(id);
        if (state === 'failed') void pc.close().catch(() => undefined);
      }
    });
    this.sessions.set(id, session);
    let sdp = pc.localDescription!.sdp;
    if (this.faults.srsStyleAnswer) {
      sdp = sdp.replace(/a=fmtp:(\d+) /g, 'a=fmtp:$1 ;').replace(/a=end-of-candidates\r?\n/g, '');
    }
    return { id, sdp };
  }
}

export async function startWhepSource(opts: WhepSourceOptions = {}): Promise<WhepSource> {
  return new WhepSource(opts).start();
}

/** The demo's entry point: `const src = await start({ port: 8889, text: '…', loop: true }); … await src.stop();` */
export const start = startWhepSource;

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}
