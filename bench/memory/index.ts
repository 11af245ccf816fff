/**
 * Memory per stream in a real Node-RED (the Node-RED of test/support/which-node-red: the
 * devDependency, or LIVE_AUDIO_NODE_RED's), on whatever Node runs this:
 *
 *   npm run bench -- memory [--streams 50] [--settle 15] [--node-args "--max-semi-space-size=16"]
 *
 * Node-RED starts with the Listen flow deployed and idle (whep-in in dynamic mode → base64-ws-out
 * to a `ws` receiver in a child process; a WHEP source child sends looped speech), is measured,
 * then N streams are started through an HTTP endpoint of the flow and it is measured again once
 * every stream reaches the receiver and `--settle` seconds have passed. Each measurement is RSS
 * from /proc and, through bench/memory/probe.ts (asked through a file), V8's heap after a full collection (live data)
 * and the size of its spaces. Ends with one JSON line: idle and loaded figures and
 * rssMbPerStream = (loaded RSS − idle RSS) / N, liveMbPerStream = the same for heap used + external
 * after a full collection (what the streams really hold; RSS adds what V8 keeps reserved).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { numberOption } from '../support/stats';
import { linkPackage, makeUserDir, startNodeRed } from '../../test/support/node-red-process';
import { nodeRedVersion } from '../../test/support/which-node-red';
import { nextMessage } from '../support/ipc';
import { startWhepSource, startWsReceiver } from '../support/peers';

const args = process.argv.slice(2);
const streams = numberOption(args, 'streams', 50);
const settle = numberOption(args, 'settle', 15);
const nodeArgsAt = args.indexOf('--node-args');
const extraNodeArgs = nodeArgsAt >= 0 ? (args[nodeArgsAt + 1] ?? '').split(' ').filter(Boolean) : [];
const children: ChildProcess[] = [];
const log = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));



async function streamsSeen(proc: ChildProcess): Promise<number> {
  proc.send({ cmd: 'report' });
  for (;;) {
    const m = await nextMessage<{ report?: Record<string, number[]> }>(proc, 30_000, 'ws receiver report');
    if (m.report) return Object.keys(m.report).length;
  }
}

interface Probe {
  after: NodeJS.MemoryUsage;
  spaces: Record<string, { size: number; used: number }>;
}

const mb = (b: number) => +(b / 2 ** 20).toFixed(1);

async function measure(pid: number, file: string): Promise<Record<string, number>> {
  fs.rmSync(file, { force: true });
  fs.writeFileSync(`${file}.req`, '');
  const end = Date.now() + 20_000;
  while (!fs.existsSync(file) || fs.statSync(file).size === 0) {
    if (Date.now() > end) throw new Error('the memory probe in Node-RED did not answer');
    await sleep(100);
  }
  await sleep(100);
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Probe;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  return {
    rssMb: mb(rss),
    heapUsedMb: mb(p.after.heapUsed),
    heapTotalMb: mb(p.after.heapTotal),
    externalMb: mb(p.after.external),
    newSpaceMb: mb(p.spaces.new_space?.size ?? 0),
    oldSpaceMb: mb(p.spaces.old_space?.size ?? 0),
    codeSpaceMb: mb(p.spaces.code_space?.size ?? 0),
  };
}

async function main(): Promise<void> {
  const sourceUrl = (await startWhepSource(children)).url;
  const receiver = await startWsReceiver(children);
  const func = `for (let i = 0; i < ${streams}; i++) node.send({ action: 'start', url: ${JSON.stringify(sourceUrl)}, stmId: 's' + i });\nreturn null;`;
  const flows = [
    { id: 'tab', type: 'tab', label: 'memory' },
    { id: 'http', z: 'tab', type: 'http in', url: '/bench/start', method: 'post', wires: [['starts', 'ok']] },
    { id: 'ok', z: 'tab', type: 'http response', statusCode: '200', wires: [] },
    { id: 'starts', z: 'tab', type: 'function', func, outputs: 1, wires: [['whep']] },
    { id: 'whep', z: 'tab', type: 'whep-in', mode: 'dynamic', url: '', rate: '16000', channels: '1', chunkMs: 20, idleMs: 5, idleSilence: false, idleReconnectMs: 0, retryMaxMs: 30, maxStreams: streams, iceServers: '', iceHostAddresses: '127.0.0.1', insecureTls: false, wires: [['out'], []] },
    { id: 'out', z: 'tab', type: 'base64-ws-out', target: 'asr', chunkSize: 200, chunkUnit: 'ms', frameMode: 'json', fieldTraceId: 'traceId', fieldStmId: 'stmId', fieldTimestamp: 'timestamp', fieldData: 'data', extras: [], wavHeader: false, endFrame: '', queueSeconds: 30, policy: 'drop-oldest', closePolicy: 'flush', wires: [[], []] },
    { id: 'asr', type: 'live-audio-ws-target', url: receiver.url, mode: 'shared', protocols: '', tlsVerify: true, connectTimeout: 10, pingInterval: 15, deflate: false, backoffInitial: 0.5, backoffMax: 30 },
  ];
  const userDir = makeUserDir('live-audio-mem-');
  const probeFile = path.join(userDir, 'probe.json');
  linkPackage(userDir);
  process.env.LIVE_AUDIO_MEM_PROBE = probeFile;
  const red = await startNodeRed({ userDir, flows, nodeArgs: ['--expose-gc', ...extraNodeArgs, '--require', path.join(__dirname, 'probe.js')] });
  const pid = red.child.pid!;
  try {
    await sleep(settle * 1000);
    const idle = await measure(pid, probeFile);
    log(`idle: ${JSON.stringify(idle)}`);
    const res = await fetch(`${red.url}/bench/start`, { method: 'POST' });
    if (!res.ok) throw new Error(`starting the streams: HTTP ${res.status}`);
    const deadline = Date.now() + 60_000;
    let seen = 0;
    while ((seen = await streamsSeen(receiver.proc)) < streams && Date.now() < deadline) await sleep(500);
    log(`${seen}/${streams} streams reach the receiver; settling ${settle} s`);
    await sleep(settle * 1000);
    const loaded = await measure(pid, probeFile);
    console.log(
      JSON.stringify({
        node: process.version,
        nodeRed: nodeRedVersion,
        nodeArgs: extraNodeArgs.join(' '),
        streams: seen,
        idle,
        loaded,
        rssMbPerStream: +((loaded.rssMb - idle.rssMb) / streams).toFixed(2),
        liveMbPerStream: +((loaded.heapUsedMb + loaded.externalMb - idle.heapUsedMb - idle.externalMb) / streams).toFixed(2),
        loadAvg1: +os.loadavg()[0].toFixed(2),
      }),
    );
  } catch (err) {
    log(red.output().slice(-3000));
    throw err;
  } finally {
    await red.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
    for (const c of children) c.kill('SIGTERM');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  },
);
