/**
 * `npm start`'s demo, end to end, as a newcomer would see it (on free ports, in a throw-away user
 * directory): the listen pipeline delivers the demo speech to the ASR receiver and its replies
 * come back; the editor, in real chromium, shows the running flow with connected statuses; a
 * call over HTTP is heard on the RTSP stream (ffmpeg as the player).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startDemo, type Demo } from '../../demo/start';
import { freePort, makeUserDir, repoRoot } from '../support/node-red-process';
import { until } from '../support/node-red';
import { CHROMIUM, missingPeer } from '../support/peers';

declare const window: any;
declare const document: any;

const shots = path.join(repoRoot, '.test-output', 'screenshots');
let demo: Demo;
let browser: Browser | undefined;
const lines: string[] = [];

before(async () => {
  fs.mkdirSync(shots, { recursive: true });
  demo = await startDemo({
    ports: { nodeRed: await freePort(), whep: await freePort(), asr: await freePort(), rtsp: await freePort() },
    userDir: makeUserDir('live-audio-demo-'),
    log: (l) => lines.push(l),
  });
});

after(async () => {
  await browser?.close();
  await demo?.stop();
  if (demo) fs.rmSync(demo.nodeRed.userDir, { recursive: true, force: true });
});

interface Received {
  stmId: string;
  traceId?: string;
  chunks: number;
  seconds: number;
}

test('the listen pipeline delivers the demo speech to the ASR receiver, 16 kHz mono in 200 ms chunks', async () => {
  let streams: Received[] = [];
  await until(
    () => {
      void fetch(`${demo.urls.asrPage}streams.json`)
        .then((r) => r.json())
        .then((s) => (streams = s as Received[]))
        .catch(() => undefined);
      return streams.some((s) => s.seconds >= 3);
    },
    60_000,
    `3 s of audio at the ASR receiver (log: ${lines.join(' / ')})`,
  );
  const s = streams.find((x) => x.stmId === 'demo-1');
  assert.ok(s, 'the stream keeps its stmId end to end');
  assert.equal(s.traceId, 'trace-demo-1');
  // 200 ms chunks of 16 kHz mono: 5 per second
  assert.ok(Math.abs(s.chunks - s.seconds * 5) <= 1, `${s.chunks} chunks for ${s.seconds} s`);
});

test('the editor shows the running demo with connected statuses (chromium)', { skip: missingPeer('chromium') }, async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  await page.goto(demo.urls.editor);
  await page.waitForFunction(() => Boolean(window.RED?.nodes?.version?.()), undefined, { timeout: 60_000, polling: 200 });
  const statusOf = (type: string) =>
    page.evaluate((t) => {
      const n = window.RED.nodes.filterNodes({ type: t })[0];
      return n?.status?.text ? `${n.status.fill}:${n.status.text}` : '';
    }, type);
  // statuses arrive over the editor's comms socket
  let whep = '';
  let ws = '';
  for (const end = Date.now() + 30_000; Date.now() < end && !(whep.startsWith('green') && ws.startsWith('green')); ) {
    whep = await statusOf('whep-in');
    ws = await statusOf('base64-ws-out');
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.match(whep, /^green:/, `whep-in status: ${whep}`);
  assert.match(ws, /^green:/, `base64-ws-out status: ${ws}`);
  const tts = await statusOf('tts-rtsp-out');
  assert.match(tts, /^green:/, `tts-rtsp-out status: ${tts}`);
  // the status labels are on the canvas too
  const labels = await page.locator('.red-ui-flow-node-status-label').allInnerTexts();
  assert.ok(labels.length >= 3, `status labels on the canvas: ${labels.join(' | ')}`);
  await page.screenshot({ path: path.join(shots, 'demo-listen.png') });
});

test('a call over HTTP is heard on the RTSP stream', { skip: missingPeer('ffmpeg') }, async () => {
  const wav = path.join(demo.nodeRed.userDir, 'heard.wav');
  // the player runs while the call is made (asynchronously: the WHEP source lives in this process)
  const player = new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const p = spawn('ffmpeg', ['-loglevel', 'error', '-y', '-rtsp_transport', 'tcp', '-i', demo.urls.rtsp, '-t', '15', '-ac', '1', '-ar', '16000', wav]);
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('exit', (status) => (clearTimeout(t), resolve({ status, stderr })));
  });
  await new Promise((r) => setTimeout(r, 500));
  const res = await fetch(demo.urls.call, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ number: 'A012', window: '3' }) });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { queued: 'A012' });
  const r = await player;
  assert.equal(r.status, 0, `ffmpeg: ${r.stderr}`);
  const pcm = fs.readFileSync(wav).subarray(44);
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length >> 1);
  // loud speech somewhere in the 15 s (the first call also starts the speech engine), silence elsewhere (the stream never stops)
  let loud = 0;
  for (let i = 0; i < samples.length; i += 160) {
    let e = 0;
    for (let j = i; j < Math.min(i + 160, samples.length); j++) e += samples[j] * samples[j];
    if (Math.sqrt(e / 160) > 1000) loud++;
  }
  assert.ok(samples.length >= 16000 * 14, `${samples.length / 16000} s decoded`);
  assert.ok(loud > 50, `speech heard (${loud} loud 10 ms frames); Node-RED said:\n${demo.nodeRed.output().slice(-3000)}`);
});
