/**
 * The benchmark's players, in a child process of their own (so their CPU is not counted as the
 * stream's): N minimal RTSP clients over TCP (OPTIONS, DESCRIBE, SETUP interleaved, PLAY) that
 * note, for every RTP packet, its arrival time (ms since the epoch, high resolution), RTP
 * timestamp and payload size. Started as: node listeners.js <url> <count>; reports over IPC.
 */
import type { Socket } from 'node:net';
import { OpusDecoder } from '../../lib/whep/opus';
import { rtspPlayer } from '../support/rtsp-player';

const [url, countArg] = process.argv.slice(2);
const count = Number(countArg);

interface Rec {
  at: number[];
  ts: number[];
  size: number[];
}

/** A player of the audio track only (the SDP's m=audio, interleaved 0-1) that notes every RTP packet. */
function client(rec: Rec | undefined, onPacket: (at: number, payload: Buffer) => void): Promise<Socket> {
  return rtspPlayer(url, {
    tracks: 'audio',
    onFrame: (channel, at, frame) => {
      if (channel !== 0 || frame.length < 12) return;
      const cc = frame[0] & 0x0f;
      if (rec) {
        rec.at.push(at);
        rec.ts.push(frame.readUInt32BE(4));
        rec.size.push(frame.length - 12 - cc * 4);
      }
      onPacket(at, frame.subarray(12 + cc * 4));
    },
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
