/**
 * `npm start`: the whole product on one machine, with nothing else to install or run.
 *
 *  - a demo WHEP source (werift) speaking a sample text in a loop,
 *  - a demo ASR receiver (WebSocket) that shows what arrives and answers like a recogniser,
 *  - Node-RED on 127.0.0.1 with this package loaded and the demo example flows deployed:
 *    whep-in (16 kHz mono) → base64-ws-out (placeholder replies into a debug node), and
 *    inject / HTTP POST /call → tts-rtsp-out serving rtsp://127.0.0.1:8554/announce.
 *
 * Ports come from the environment (PORT, WHEP_PORT, ASR_PORT, RTSP_PORT). Ctrl-C stops all.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { decodeWav } from '../lib/pcm/wav';
import { resampleAll } from '../lib/resample';
import { startAsrReceiver } from './asr-receiver';
import { DEFAULT_PORTS, demoFlows, type DemoPorts } from './flows';
import { startWhepSource } from '../test/peers/whep-source';
import { linkPackage, repoRoot, startNodeRed, type NodeRedProcess } from '../test/support/node-red-process';

export interface Demo {
  ports: DemoPorts;
  urls: Record<string, string>;
  nodeRed: NodeRedProcess;
  stop(): Promise<void>;
}

export interface DemoOptions {
  ports?: Partial<DemoPorts>;
  userDir?: string;
  log?: (line: string) => void;
}

async function assertFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `port ${port} (${what}) is already in use: stop what uses it, or choose another port (see README)` : e.message)),
    );
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const ports: DemoPorts = { ...DEFAULT_PORTS, ...opts.ports };
  const log = opts.log ?? ((l: string) => console.log(l));
  await assertFree(ports.nodeRed, 'Node-RED');
  await assertFree(ports.whep, 'demo WHEP source');
  await assertFree(ports.asr, 'demo ASR receiver');
  await assertFree(ports.rtsp, 'RTSP announcements');

  const userDir = opts.userDir ?? path.join(repoRoot, '.node-red-demo');
  fs.mkdirSync(userDir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    // the sample speech ships at 16 kHz; WebRTC Opus wants 48 kHz: our own resampler does it
    const sample = decodeWav(fs.readFileSync(path.join(repoRoot, 'demo', 'media', 'sample-speech-16k.wav')));
    const pcm48k = resampleAll(sample.pcm, sample.format, { rate: 48000, channels: 1 });
    const whep = await startWhepSource({ port: ports.whep, pcm: pcm48k, loop: true });
    stops.push(() => whep.stop());
    const asr = await startAsrReceiver({ port: ports.asr, saveDir: path.join(userDir, 'received'), log });
    stops.push(() => asr.close());

    linkPackage(userDir);
    const flows = demoFlows(path.join(repoRoot, 'examples'), ports);
    const nodeRed = await startNodeRed({ userDir, port: ports.nodeRed, flows, settings: { credentialSecret: 'live-audio-demo' } });
    stops.unshift(() => nodeRed.stop()); // Node-RED first, so its nodes close while the peers are still up
    const urls = {
      editor: `http://127.0.0.1:${ports.nodeRed}/`,
      whep: whep.url,
      asr: asr.url,
      asrPage: asr.pageUrl,
      rtsp: `rtsp://127.0.0.1:${ports.rtsp}/announce`,
      call: `http://127.0.0.1:${ports.nodeRed}/call`,
    };
    return { ports, urls, nodeRed, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs the demo in the foreground: prints what runs where, stops everything on Ctrl-C. */
export function main(): void {
  const env = (k: string) => (process.env[k] ? Number(process.env[k]) : undefined);
  const ports: Partial<DemoPorts> = {};
  if (env('PORT')) ports.nodeRed = env('PORT');
  if (env('WHEP_PORT')) ports.whep = env('WHEP_PORT');
  if (env('ASR_PORT')) ports.asr = env('ASR_PORT');
  if (env('RTSP_PORT')) ports.rtsp = env('RTSP_PORT');
  startDemo({ ports }).then(
    (demo) => {
      demo.nodeRed.child.stdout?.on('data', (d: Buffer) => process.stdout.write(d));
      demo.nodeRed.child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
      console.log(`
  node-red-contrib-live-audio demo is running
  ────────────────────────────────────────────
  Node-RED editor      ${demo.urls.editor}
  demo WHEP source     ${demo.urls.whep}   (speaks a sample text in a loop)
  demo ASR receiver    ${demo.urls.asr}   — what it receives: ${demo.urls.asrPage}
  announcements (RTSP) ${demo.urls.rtsp}
      listen:          ffplay ${demo.urls.rtsp}      (or VLC → Open Network Stream)
      call a number:   curl -X POST -H 'Content-Type: application/json' --data '{"number":"A012","window":"3"}' ${demo.urls.call}
                       (or click the inject buttons of the "queue calling" tab)
  Ctrl-C stops everything.
`);
      let stopping = false;
      const onSignal = () => {
        if (stopping) return;
        stopping = true;
        console.log('\nstopping the demo…');
        demo.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    },
    (err: Error) => {
      console.error(`the demo could not start: ${err.message}`);
      process.exit(1);
    },
  );
}

if (require.main === module) main();
