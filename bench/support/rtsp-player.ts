/**
 * The benchmarks' minimal RTSP player over TCP (bench/announce/listeners.ts, av-players.ts):
 * OPTIONS, DESCRIBE, a SETUP per track it takes (track i of the SDP on interleaved channels
 * 2i-2i+1), PLAY; then every RTP/RTCP `$` frame goes to `onFrame` with its arrival time.
 */
import { connect, type Socket } from 'node:net';
import { splitRtsp, type RtspResponse } from './rtsp-stream';

export interface RtspPlayerOptions {
  /** the tracks to set up: the audio track only, or every track the SDP offers (audio + board) */
  tracks: 'audio' | 'all';
  /** each interleaved frame: channel (2i RTP, 2i+1 RTCP of track i), arrival (ms since the epoch), bytes */
  onFrame?: (channel: number, at: number, frame: Buffer) => void;
}

const now = () => performance.timeOrigin + performance.now();

/** Resolves with the socket once PLAY was answered (rejects on a refusal or a socket error). */
export function rtspPlayer(url: string, opts: RtspPlayerOptions): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect({ host: u.hostname, port: Number(u.port || 554) });
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let cseq = 0;
    let session = '';
    /** the control URL of each track set up, with its index in the SDP */
    let setups: Array<{ control: string; index: number }> = [];
    let step = 0;
    const send = (method: string, target: string, headers: Record<string, string> = {}) => {
      const h = { CSeq: String(++cseq), ...(session ? { Session: session } : {}), ...headers };
      sock.write(`${method} ${target} RTSP/1.0\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    };
    const setup = (k: number) => {
      const { control, index } = setups[k];
      send('SETUP', control, { Transport: `RTP/AVP/TCP;unicast;interleaved=${2 * index}-${2 * index + 1}` });
    };
    const onResponse = (res: RtspResponse) => {
      if (res.status !== 200) return reject(new Error(`${url}: step ${step} answered ${res.status}`));
      step++;
      if (step === 1) return send('DESCRIBE', url, { Accept: 'application/sdp' });
      if (step === 2) {
        const base = (res.headers['content-base'] ?? url).replace(/\/$/, '');
        setups = res.body
          .split(/\r?\nm=/)
          .slice(1)
          .map((m, index) => {
            const c = /a=control:(\S+)/.exec(m)?.[1] ?? `trackID=${index}`;
            return { media: m.split(' ')[0], control: /^rtsp:/.test(c) ? c : `${base}/${c}`, index };
          })
          .filter((t) => opts.tracks === 'all' || t.media === 'audio');
        if (!setups.length) return reject(new Error(`${url}: no track to set up`));
        return setup(0);
      }
      const k = step - 3; // the SETUP answered
      if (k < setups.length) {
        session ||= (res.headers.session ?? '').split(';')[0];
        return k + 1 < setups.length ? setup(k + 1) : send('PLAY', url, { Range: 'npt=0-' });
      }
      if (k === setups.length) resolve(sock);
    };
    sock.on('connect', () => send('OPTIONS', url));
    sock.on('error', reject);
    sock.on('data', (d) => {
      const at = now();
      buf = splitRtsp(buf.length ? Buffer.concat([buf, d]) : d, (channel, frame) => opts.onFrame?.(channel, at, frame), onResponse);
    });
  });
}
