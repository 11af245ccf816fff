/**
 * tts-rtsp-out in a real Node-RED (4.1, a child process on 127.0.0.1 with this package in its
 * user directory, as the palette installs it): the node registers with its editor HTML, help,
 * catalogs and icon; both example flows deploy without errors; the queue-calling example speaks
 * (inject and HTTP) with its events in the log; and npm pack ships what the node needs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './support';
import { root, startRed, type Red } from './red';

let red: Red;
let base = '';
const log = () => red.log();

const req = (p: string, init: RequestInit = {}) => fetch(base + p, { ...init, signal: AbortSignal.timeout(10_000) });

before(async () => {
  red = await startRed();
  base = red.base;
});

after(() => red?.stop());

async function deploy(flow: unknown[]): Promise<void> {
  const r = await req('/flows', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(flow) });
  assert.ok(r.status === 200 || r.status === 204, `deploy answered ${r.status}: ${await r.text()}`);
}

async function waitLog(re: RegExp, ms: number, poke?: () => Promise<unknown>): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(log())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${re} in Node-RED's log:\n${log().slice(-4000)}`);
    if (poke) await poke().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

test('tts-rtsp-out registers in the editor: HTML, help (en-US, zh-CN), catalogs, icon, voice list', async () => {
  const html = await (await req('/nodes', { headers: { Accept: 'text/html' } })).text();
  assert.match(html, /registerType\('tts-rtsp-out'/);
  assert.match(html, /data-help-name="tts-rtsp-out"/);
  const zh = await (await req('/nodes', { headers: { Accept: 'text/html', 'Accept-Language': 'zh-CN' } })).text();
  assert.match(zh, /叫号播报/);
  const cat = (await (await req('/locales/node-red-contrib-live-audio/tts-rtsp-out?lng=zh-CN')).json()) as Record<string, any>;
  assert.equal(cat['tts-rtsp-out'].status.reconnecting, '重新连接中…');
  assert.match(cat.errors.announce.queueFull, /播报队列已满/);
  assert.equal((await req('/icons/node-red-contrib-live-audio/tts-rtsp-out.svg')).status, 200);
  const voices = (await (await req('/live-audio/voices?engine=embedded')).json()) as Array<{ name: string }>;
  assert.ok(voices.some((v) => v.name === 'yue'));
});

test('the queue-calling example deploys, speaks from inject and HTTP, and logs its events', async () => {
  const port = await freePort();
  const flow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'tts-rtsp-out-queue-calling.json'), 'utf8')) as Array<Record<string, any>>;
  for (const n of flow) {
    // tests stay on 127.0.0.1 and a free port; the debug nodes also write to the log we read
    if (n.type === 'tts-rtsp-out') Object.assign(n, { host: '127.0.0.1', port: String(port) });
    if (n.type === 'debug') n.console = true;
  }
  await deploy(flow);
  await waitLog(/announcement stream on rtsp:\/\/127\.0\.0\.1:\d+\/announce/, 20_000);
  const a012 = flow.find((n) => n.name === 'A012 → 3')!;
  // debug nodes log util.inspect()ed objects: { event: 'queued', id: 'A012', … }
  await waitLog(/event: 'queued',\s+id: 'A012'/, 20_000, async () => {
    if (!/event: 'queued',\s+id: 'A012'/.test(log())) await req(`/inject/${a012.id}`, { method: 'POST' });
  });
  await waitLog(/event: 'finished',\s+id: 'A012'/, 30_000);
  const r = await req('/call', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ number: 'A014', window: '2' }) });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { queued: 'A014' });
  await waitLog(/event: 'finished',\s+id: 'A014',\s+text: '请 A014 号到 2 号窗口'/, 30_000);
  assert.doesNotMatch(log(), /\[error\]/);
});

test('the push example deploys without errors (it waits for its server, reconnecting)', async () => {
  const port = await freePort(); // nothing listens there: the node keeps retrying, quietly
  const flow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'tts-rtsp-out-push.json'), 'utf8')) as Array<Record<string, any>>;
  for (const n of flow) if (n.type === 'tts-rtsp-out') n.url = `rtsp://127.0.0.1:${port}/announce`;
  await deploy(flow);
  await waitLog(new RegExp(`announcement stream on rtsp://127\\.0\\.0\\.1:${port}/announce`), 20_000);
  await new Promise((r) => setTimeout(r, 2000));
  assert.doesNotMatch(log(), /\[error\]/);
  await deploy([]); // stop it: the deploy closes the node (and its reconnect timer)
});

test('npm pack ships the node (html, locales, icon, examples, engine worker)', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const files = new Set((JSON.parse(r.stdout)[0].files as Array<{ path: string }>).map((f) => f.path));
  for (const f of [
    'dist/nodes/tts-rtsp-out/tts-rtsp-out.js',
    'dist/nodes/tts-rtsp-out/tts-rtsp-out.html',
    'dist/nodes/tts-rtsp-out/icons/tts-rtsp-out.svg',
    'dist/nodes/tts-rtsp-out/locales/en-US/tts-rtsp-out.json',
    'dist/nodes/tts-rtsp-out/locales/zh-CN/tts-rtsp-out.html',
    'dist/lib/announce/engines/espeak-wasm-worker.js',
    'examples/tts-rtsp-out-queue-calling.json',
    'examples/tts-rtsp-out-push.json',
    'examples/tts-rtsp-out-queue-board.json',
  ]) {
    assert.ok(files.has(f), `${f} missing from the package`);
  }
});
