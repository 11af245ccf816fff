/**
 * The demo's stand-in for an ASR service: a real WebSocket server that accepts what
 * `base64-ws-out` sends (the seed's JSON `{traceId, stmId, timestamp, data}`, or binary PCM),
 * shows per stream what arrived (terminal and a web page), answers like a recogniser would
 * (a JSON reply per second of audio, so replies flow back into Node-RED), and saves each stream
 * as a WAV file. Loopback only.
 *
 * Acknowledgements (base64-ws-out's ack mode): a frame that carries a numeric `seq` is answered,
 * once consumed, with `{"stmId","ack":<seq>}`; a frame whose `seq` is not higher than the last one
 * consumed for its stream is a re-sent duplicate and is acknowledged again but not used twice.
 * The stream's last seq is forgotten at its end frame (a new stream under that id starts at 0).
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeWav } from '../lib/pcm/wav';

export interface AsrReceiverOptions {
  port: number;
  host?: string;
  /** folder for <stmId>.wav files (written when a stream ends and on demand); none = keep in memory only */
  saveDir?: string;
  /** format of raw PCM arriving (what the demo flow's whep-in decodes to) */
  rate?: number;
  channels?: number;
  log?: (line: string) => void;
}

interface StreamInfo {
  stmId: string;
  traceId?: string;
  chunks: number;
  bytes: number;
  firstAt: number;
  lastAt: number;
  ended: boolean;
  pcm: Buffer[];
  repliedSeconds: number;
  /** ack mode: the last seq consumed (-1 before the first) and re-sent duplicates ignored */
  lastSeq: number;
  duplicates: number;
}

export interface AsrReceiver {
  url: string;
  pageUrl: string;
  streams(): Array<Omit<StreamInfo, 'pcm'> & { seconds: number }>;
  close(): Promise<void>;
}

export async function startAsrReceiver(opts: AsrReceiverOptions): Promise<AsrReceiver> {
  const host = opts.host ?? '127.0.0.1';
  const rate = opts.rate ?? 16000;
  const channels = opts.channels ?? 1;
  const bytesPerSec = rate * channels * 2;
  /** keep at most 10 min of audio per stream in memory */
  const maxBytesPerStream = bytesPerSec * 600;
  const log = opts.log ?? ((l: string) => console.log(l));
  const streams = new Map<string, StreamInfo>();

  const seconds = (s: { bytes: number }) => s.bytes / bytesPerSec;
  const summary = () =>
    [...streams.values()].map(({ pcm: _pcm, ...s }) => ({ ...s, seconds: Math.round(seconds(s) * 100) / 100 }));

  function save(s: StreamInfo): string | undefined {
    if (!opts.saveDir || s.bytes === 0) return undefined;
    fs.mkdirSync(opts.saveDir, { recursive: true });
    const file = path.join(opts.saveDir, `${s.stmId.replace(/[^\w.-]+/g, '_')}.wav`);
    fs.writeFileSync(file, encodeWav(Buffer.concat(s.pcm), { rate, channels }));
    return file;
  }

  function onAudio(ws: WebSocket, stmId: string, traceId: string | undefined, pcm: Buffer): void {
    let s = streams.get(stmId);
    if (!s) {
      s = { stmId, traceId, chunks: 0, bytes: 0, firstAt: Date.now(), lastAt: Date.now(), ended: false, pcm: [], repliedSeconds: 0, lastSeq: -1, duplicates: 0 };
      streams.set(stmId, s);
      log(`[asr-receiver] new stream ${stmId}${traceId ? ` (traceId ${traceId})` : ''}`);
    }
    s.chunks++;
    s.bytes += pcm.length;
    s.lastAt = Date.now();
    s.ended = false;
    // s.bytes counts every byte; until the cap is first reached that is what s.pcm holds
    if (s.bytes - pcm.length < maxBytesPerStream) s.pcm.push(pcm);
    // like a recogniser's partial result, once per second of audio
    const secs = Math.floor(seconds(s));
    if (secs > s.repliedSeconds) {
      s.repliedSeconds = secs;
      ws.send(JSON.stringify({ stmId, traceId, type: 'partial', text: `(demo ASR) ${secs} s of audio received`, seconds: secs }));
      if (secs % 5 === 0) log(`[asr-receiver] ${stmId}: ${s.chunks} chunks, ${seconds(s).toFixed(1)} s of audio`);
    }
  }

  /** Ack mode: consumes a frame once (by its seq) and acknowledges it. */
  function onSeqAudio(ws: WebSocket, stmId: string, traceId: string | undefined, pcm: Buffer, seq: number): void {
    const s = streams.get(stmId);
    if (s && !s.ended && seq <= s.lastSeq) s.duplicates++;
    else {
      if (s && s.ended) {
        // the same id again after its end: a new stream
        s.ended = false;
        s.lastSeq = -1;
      }
      onAudio(ws, stmId, traceId, pcm);
      streams.get(stmId)!.lastSeq = seq;
    }
    ws.send(JSON.stringify({ stmId, ack: seq }));
  }

  function onEnd(ws: WebSocket, stmId: string): void {
    const s = streams.get(stmId);
    if (!s) return;
    s.ended = true;
    s.lastSeq = -1;
    const file = save(s);
    ws.send(JSON.stringify({ stmId, traceId: s.traceId, type: 'final', text: `(demo ASR) stream ended after ${seconds(s).toFixed(1)} s`, seconds: seconds(s) }));
    log(`[asr-receiver] ${stmId} ended: ${s.chunks} chunks, ${seconds(s).toFixed(1)} s${file ? `, saved ${file}` : ''}`);
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/streams.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(summary()));
    } else if (url.pathname.startsWith('/wav/')) {
      const s = streams.get(decodeURIComponent(url.pathname.slice(5)));
      if (!s) {
        res.writeHead(404).end('no such stream');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'audio/wav', 'Content-Disposition': `attachment; filename="${encodeURIComponent(s.stmId)}.wav"` });
      res.end(encodeWav(Buffer.concat(s.pcm), { rate, channels }));
    } else if (url.pathname === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    // per-stream connection mode puts the stream id in the URL (…/asr?sid=<stmId>)
    const sid = new URL(req.url ?? '/', `http://${host}`).searchParams.get('sid') ?? undefined;
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        onAudio(ws, sid ?? 'binary', undefined, Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
        return;
      }
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(data.toString());
      } catch {
        ws.send(JSON.stringify({ type: 'error', text: 'expected JSON' }));
        return;
      }
      const stmId = String(m.stmId ?? sid ?? 'unnamed');
      if (typeof m.data === 'string' && typeof m.seq === 'number') onSeqAudio(ws, stmId, m.traceId as string | undefined, Buffer.from(m.data, 'base64'), m.seq);
      else if (typeof m.data === 'string') onAudio(ws, stmId, m.traceId as string | undefined, Buffer.from(m.data, 'base64'));
      if (m.end === true || m.complete === true) onEnd(ws, stmId);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://${host}:${port}/asr`,
    pageUrl: `http://${host}:${port}/`,
    streams: summary,
    close: async () => {
      for (const s of streams.values()) if (!s.ended) save(s);
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Demo ASR receiver</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}</style>
</head><body><h1>Demo ASR receiver</h1>
<p>What <code>base64-ws-out</code> delivers, per stream (refreshes every second).</p>
<table><thead><tr><th>stmId</th><th>traceId</th><th>chunks</th><th>seconds of audio</th><th>state</th><th>WAV</th></tr></thead><tbody id="rows"></tbody></table>
<script>
async function refresh(){
  const s = await (await fetch('streams.json')).json();
  document.getElementById('rows').innerHTML = s.map(x => '<tr><td>'+x.stmId+'</td><td>'+(x.traceId||'')+'</td><td>'+x.chunks+'</td><td>'+x.seconds.toFixed(1)+'</td><td>'+(x.ended?'ended':'receiving')+'</td><td><a href="wav/'+encodeURIComponent(x.stmId)+'">download</a></td></tr>').join('') || '<tr><td colspan=6>nothing received yet</td></tr>';
}
setInterval(refresh, 1000); refresh();
</script></body></html>`;
