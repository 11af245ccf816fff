/**
 * The cluster's real peers for the test and the scale-out bench: Mosquitto on 127.0.0.1 with a
 * port and config of its own, worker Node-RED processes running the worker flow
 * (stream-lease → whep-in (dynamic) → base64-ws-out, whep-in's events back into stream-lease),
 * and a WebSocket receiver that records, per frame, the stream and the worker it came from.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { spawnPeer, until, freePort, type Peer } from '../support/processes';
import { linkPackage, makeUserDir, startNodeRed, type NodeRedProcess } from '../support/node-red-process';

export interface Broker {
  port: number;
  url: string;
  peer: Peer;
  stop(): Promise<void>;
  /** the same broker again on the same port (retained messages are not persisted) */
  restart(): Promise<void>;
}

export async function startBroker(maxMs: number, port?: number): Promise<Broker> {
  const p = port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-audio-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, `listener ${p} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const launch = async () => {
    const peer = spawnPeer('mosquitto', ['-c', conf], maxMs);
    await until(() => /running|Opening ipv4 listen socket/.test(peer.stderr() + peer.stdout()) || peer.child.exitCode !== null, 15_000, 'mosquitto to listen');
    if (peer.child.exitCode !== null) throw new Error(`mosquitto exited: ${peer.stderr()}`);
    return peer;
  };
  const b: Broker = {
    port: p,
    url: `mqtt://127.0.0.1:${p}`,
    peer: await launch(),
    stop: async () => {
      b.peer.kill('SIGTERM');
      await Promise.race([b.peer.exited, new Promise((r) => setTimeout(r, 5000))]);
      b.peer.kill('SIGKILL');
      await b.peer.exited;
    },
    restart: async () => {
      await b.stop();
      b.peer = await launch();
    },
  };
  return b;
}

export interface Frame {
  stmId: string;
  worker: string;
  at: number;
}

/** A ws server that keeps only (stmId, worker, time) of each JSON frame: bounded memory. */
export async function startFrameReceiver(): Promise<{ url: string; frames: Frame[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const frames: Frame[] = [];
  wss.on('connection', (ws) =>
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      try {
        const f = JSON.parse(String(data));
        if (f.data) frames.push({ stmId: String(f.stmId), worker: String(f.worker), at: Date.now() });
      } catch {
        /* not a frame */
      }
    }),
  );
  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/asr`,
    frames,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

export interface WorkerFlowOptions {
  workerId: string;
  brokerUrl: string;
  receiverUrl: string;
  prefix: string;
  maxStreams: number;
  takeoverS?: number;
  leaseS?: number;
}

/** The worker flow of examples/cluster-worker.json, with this worker's settings written in. */
export function workerFlows(o: WorkerFlowOptions): unknown[] {
  return [
    { id: 'tab', type: 'tab', label: 'worker' },
    { id: 'lease', z: 'tab', type: 'stream-lease', broker: o.brokerUrl, prefix: o.prefix, group: 'workers', workerId: o.workerId, maxStreams: o.maxStreams, leaseS: o.leaseS ?? 15, takeoverS: o.takeoverS ?? 2, wires: [['whep'], []] },
    { id: 'whep', z: 'tab', type: 'whep-in', mode: 'dynamic', url: '', rate: '16000', channels: '1', chunkMs: 20, idleMs: 5, idleSilence: false, idleReconnectMs: 0, retryMaxMs: 5, maxStreams: o.maxStreams, iceHostAddresses: '127.0.0.1', insecureTls: false, wires: [['out'], ['lease']] },
    { id: 'out', z: 'tab', type: 'base64-ws-out', target: 'asr', chunkSize: 200, chunkUnit: 'ms', frameMode: 'json', fieldTraceId: 'traceId', fieldStmId: 'stmId', fieldTimestamp: 'timestamp', fieldData: 'data', extras: [{ name: 'worker', type: 'str', value: o.workerId }], wavHeader: false, endFrame: '', queueSeconds: 30, policy: 'drop-oldest', closePolicy: 'drop', wires: [[], []] },
    { id: 'asr', type: 'live-audio-ws-target', url: o.receiverUrl, mode: 'shared', protocols: '', tlsVerify: true, connectTimeout: 10, pingInterval: 15, deflate: false, backoffInitial: 0.5, backoffMax: 5 },
  ];
}

export interface Worker {
  id: string;
  red: NodeRedProcess;
  userDir: string;
}

export async function startWorker(o: WorkerFlowOptions, userDir = makeUserDir('live-audio-worker-')): Promise<Worker> {
  linkPackage(userDir);
  const red = await startNodeRed({ userDir, flows: workerFlows(o), timeoutMs: 90_000 });
  return { id: o.workerId, red, userDir };
}
