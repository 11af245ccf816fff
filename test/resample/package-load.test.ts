/**
 * The built package in a real Node-RED (4.1, started as a child process on 127.0.0.1 with a fresh
 * user directory that has this package in its node_modules, as the palette manager installs it):
 * the resample node registers with its editor HTML, help, en-US/zh-CN catalogs and icon; and the
 * packed tarball contains the files that needs (the .wasm kernel included).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { linkPackage, makeUserDir, repoRoot as root, startNodeRed, type NodeRedProcess } from '../support/node-red-process';

let red: NodeRedProcess | undefined;
let base = '';
let userDir = '';
/** everything Node-RED printed so far (the tests read its log as it grows) */
const log = () => red?.output() ?? '';

async function get(p: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const r = await fetch(base + p, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, text: await r.text() };
}

before(async () => {
  userDir = makeUserDir('live-audio-red-');
  linkPackage(userDir);
  red = await startNodeRed({ userDir, settings: { logging: { console: { level: 'info' } } } });
  base = red.url;
});

after(async () => {
  await red?.stop();
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
});

test('Node-RED loads the resample node from the built package, with no error', async () => {
  const r = await get('/nodes', { Accept: 'application/json' });
  assert.equal(r.status, 200);
  const sets = JSON.parse(r.text) as Array<{ module: string; name: string; types: string[]; enabled: boolean; err?: string }>;
  const set = sets.find((s) => s.module === 'node-red-contrib-live-audio' && s.types.includes('resample'));
  assert.ok(set, `resample not among the loaded node sets:\n${log()}`);
  assert.equal(set.err, undefined, String(set.err));
  assert.equal(set.enabled, true);
});

test('the editor gets its template, help (en-US and zh-CN), catalogs and icon', async () => {
  const html = await get('/nodes', { Accept: 'text/html' });
  assert.match(html.text, /data-template-name="resample"/);
  assert.match(html.text, /registerType\('resample'/);
  assert.match(html.text, /data-help-name="resample"/);
  assert.match(html.text, /Converts live PCM audio chunks/);
  const zh = await get('/nodes?lng=zh-CN', { Accept: 'text/html', 'Accept-Language': 'zh-CN' });
  assert.match(zh.text, /按流把实时 PCM 音频块转换/);
  const en = JSON.parse((await get('/locales/node-red-contrib-live-audio/resample?lng=en-US')).text);
  assert.equal(en.resample.status.streams_other, '__count__ streams · __from__→__to__');
  assert.equal(en.resample.status.streams_one, '1 stream · __from__→__to__');
  assert.match(en.errors.pcm.partialFrame, /not a whole number of/);
  const zhCat = JSON.parse((await get('/locales/node-red-contrib-live-audio/resample?lng=zh-CN')).text);
  assert.equal(zhCat.resample.paletteLabel, '重采样');
  const icon = await get('/icons/node-red-contrib-live-audio/resample.svg');
  assert.equal(icon.status, 200);
  assert.match(icon.text, /<svg[^>]*viewBox="0 0 40 60"/);
});

test('npm pack ships what the node needs at run time (the wasm kernel, html, locales, icon, example)', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const files = new Set((JSON.parse(r.stdout)[0].files as Array<{ path: string }>).map((f) => f.path));
  for (const f of [
    'dist/lib/resample/fir.wasm',
    'dist/lib/resample/resampler.js',
    'dist/nodes/resample/resample.js',
    'dist/nodes/resample/resample.html',
    'dist/nodes/resample/icons/resample.svg',
    'dist/nodes/resample/locales/en-US/resample.json',
    'dist/nodes/resample/locales/zh-CN/resample.html',
    'examples/resample-48k-to-16k.json',
  ]) {
    assert.ok(files.has(f), `${f} missing from the package`);
  }
});

test('the example flow deploys in Node-RED and produces exactly 1 s of 16 kHz mono', async () => {
  const flow = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'resample-48k-to-16k.json'), 'utf8')) as Array<Record<string, unknown>>;
  // make the summary visible in Node-RED's log, which this test reads
  for (const n of flow) if (n.name === 'summary') n.console = true;
  const r = await fetch(`${base}/flows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
    body: JSON.stringify(flow),
    signal: AbortSignal.timeout(10_000),
  });
  assert.ok(r.status === 200 || r.status === 204, `deploy answered ${r.status}: ${await r.text()}`);
  const inject = flow.find((n) => n.type === 'inject')!;
  const end = Date.now() + 30_000;
  // the deploy is asynchronous: retry the inject until the flow is running
  while (!/demo: 16000 samples = 1 s at 16 kHz, 1 channel/.test(log())) {
    if (Date.now() > end) throw new Error(`no summary from the example flow:\n${log()}`);
    await fetch(`${base}/inject/${inject.id}`, { method: 'POST', signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    await new Promise((res) => setTimeout(res, 1000));
  }
  assert.doesNotMatch(log(), /\[error\]/);
});
