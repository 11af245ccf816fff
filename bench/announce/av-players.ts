/**
 * Players of the video benchmark, in a child process of their own (their CPU is not the
 * stream's): for each URL given, N minimal RTSP clients over TCP that SET UP every track the
 * SDP offers (audio on interleaved 0-1, the board on 2-3), PLAY, and read and drop what comes.
 * Started as: node av-players.js <count> <url>...; says {type:'ready'} over IPC, exits on 'stop'.
 */
import { connect, type Socket } from 'node:net';
import { splitRtsp, type RtspResponse } from '../support/rtsp-stream';

const [countArg, ...urls] = process.argv.slice(2);
const count = Number(countArg);

function client(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect({ host: u.hostname, port: Number(u.port || 554) });
    let buf: Buffer = Buffer.alloc(0);
    let cseq = 0;
    let session = '';
    let controls: string[] = [];
    let step = 0;
    const send = (method: string, target: string, headers: Record<string, string> = {}) => {
      const h = { CSeq: String(++cseq), ...(session ? { Session: session } : {}), ...headers };
      sock.write(`${method} ${target} RTSP/1.0\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    };
    const setup = (i: number) => send('SETUP', controls[i], { Transport: `RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1}` });
    const next = (res: RtspResponse) => {
      if (res.status !== 200) return reject(new Error(`${url} step ${step}: ${res.status}`));
      step++;
      if (step === 1) send('DESCRIBE', url, { Accept: 'application/sdp' });
      else if (step === 2) {
        const base = (res.headers['content-base'] ?? url).replace(/\/$/, '');
        controls = res.body.split(/\r?\nm=/).slice(1).map((m) => {
          const c = /a=control:(\S+)/.exec(m)![1];
          return /^rtsp:/.test(c) ? c : `${base}/${c}`;
        });
        setup(0);
      } else if (step - 3 < controls.length - 1) {
        session ||= (res.headers.session ?? '').split(';')[0];
        setup(step - 2);
      } else if (step - 3 === controls.length - 1) {
        session ||= (res.headers.session ?? '').split(';')[0];
        send('PLAY', url, { Range: 'npt=0-' });
      } else resolve(sock);
    };
    sock.on('connect', () => send('OPTIONS', url));
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = splitRtsp(buf.length ? Buffer.concat([buf, d]) : d, () => undefined, next);
    });
  });
}

async function main(): Promise<void> {
  const socks: Socket[] = [];
  for (const url of urls) for (let i = 0; i < count; i++) socks.push(await client(url));
  process.send!({ type: 'ready' });
  process.on('message', () => {
    for (const s of socks) s.destroy();
    process.exit(0);
  });
}

main().catch((e) => {
  process.send!({ type: 'fail', error: String(e) });
  process.exit(1);
});
