/**
 * Players of the video benchmark, in a child process of their own (their CPU is not the
 * stream's): for each URL given, N minimal RTSP clients over TCP that SET UP every track the
 * SDP offers (audio on interleaved 0-1, the board on 2-3), PLAY, and read and drop what comes.
 * Started as: node av-players.js <count> <url>...; says {type:'ready'} over IPC, exits on 'stop'.
 */
import type { Socket } from 'node:net';
import { rtspPlayer } from '../support/rtsp-player';

const [countArg, ...urls] = process.argv.slice(2);
const count = Number(countArg);

async function main(): Promise<void> {
  const socks: Socket[] = [];
  for (const url of urls) for (let i = 0; i < count; i++) socks.push(await rtspPlayer(url, { tracks: 'all' }));
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
