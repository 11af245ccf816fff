/**
 * The benchmark's players, in a child process of their own (so their CPU is not counted as the
 * stream's): N minimal RTSP clients over TCP (OPTIONS, DESCRIBE, SETUP interleaved, PLAY) that
 * note, for every RTP packet, its arrival time (ms since the epoch, high resolution), RTP
 * timestamp and payload size. Started as: node listeners.js <url> <count>; reports over IPC.
 */
import { connect, type Socket } from 'node:net';
import { OpusDecoder } from '../../lib/whep/opus';
import { splitRtsp, type RtspResponse } from '../support/rtsp-stream';

const [url, countArg] = process.argv.slice(2);
const count = Number(countArg);
const u = new URL(url);
const now = () => performance.timeOrigin + performance.now();

interface Rec {
  at: number[];
  ts: number[];
  size: number[];
}

function client(rec: Rec | undefined, onPacket: (at: number, payload: Buffer) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: u.hostname, port: Number(u.port || 554) });
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let cseq = 0;
    let session = '';
    let step = 0;
    const send = (method: string, target: string, headers: Record<string, string> = {}) => {
      const h = { CSeq: String(++cseq), ...(session ? { Session: session } : {}), ...headers };
      sock.write(`${method} ${target} RTSP/1.0\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    };
    let control = `${url}/trackID=0`;
    const next = (res: RtspResponse) => {
      if (res.status !== 200) return reject(new Error(`step ${step}: ${res.status}`));
      step++;
      if (step === 1) send('DESCRIBE', url, { Accept: 'application/sdp' });
      else if (step === 2) {
        const m = /a=control:(\S+)/.exec(res.body.split('m=audio')[1] ?? '');
        if (m) control = /^rtsp:/.test(m[1]) ? m[1] : `${(res.headers['content-base'] ?? url).replace(/\/$/, '')}/${m[1]}`;
        send('SETUP', control, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
      } else if (step === 3) {
        session = (res.headers.session ?? '').split(';')[0];
        send('PLAY', url, { Range: 'npt=0-' });
      } else if (step === 4) resolve(sock);
    };
    sock.on('connect', () => send('OPTIONS', url));
    sock.on('error', reject);
    sock.on('data', (d) => {
      const at = now();
      buf = splitRtsp(
        buf.length ? Buffer.concat([buf, d]) : d,
        (channel, frame) => {
          if (channel !== 0 || frame.length < 12) return;
          const cc = frame[0] & 0x0f;
          if (rec) {
            rec.at.push(at);
            rec.ts.push(frame.readUInt32BE(4));
            rec.size.push(frame.length - 12 - cc * 4);
          }
          onPacket(at, frame.subarray(12 + cc * 4));
        },
        next,
      );
    });
  });
}

async function main(): Promise<void> {
  const recs: Rec[] = [];
  // speech detection for the first-packet figure: player 0 decodes what it gets (Opus packet
  // sizes alone do not tell silence from speech: after speech the encoder sends 32-byte silence)
  let watchFrom = Infinity;
  let threshold = 0;
  // libopus with room for 120 ms per packet (opusscript's decoder takes at most 60 ms)
  const decoder = new OpusDecoder(48000, 1);
  const socks: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const rec = { at: [], ts: [], size: [] };
    recs.push(rec);
    socks.push(
      await client(rec, (at, payload) => {
        if (i !== 0) return;
        const pcm = decoder.decode(payload);
        if (at < watchFrom) return;
        let sum = 0;
        for (let k = 0; k + 1 < pcm.length; k += 2) sum += pcm.readInt16LE(k) ** 2;
        if (Math.sqrt(sum / (pcm.length / 2)) > threshold) {
          watchFrom = Infinity;
          process.send!({ type: 'speech', at });
        }
      }),
    );
  }
  process.send!({ type: 'ready' });
  process.on('message', (m: { type: string; from?: number; threshold?: number }) => {
    if (m.type === 'watch') {
      watchFrom = m.from!;
      threshold = m.threshold!;
    } else if (m.type === 'report') {
      process.send!({ type: 'report', recs }, () => {
        for (const s of socks) s.destroy();
        process.exit(0);
      });
    }
  });
}

main().catch((e) => {
  process.send!({ type: 'fail', error: String(e) });
  process.exit(1);
});
