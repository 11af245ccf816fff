/**
 * The edit dialog in a real editor: Debian's chromium (playwright-core) opens Node-RED, edits a
 * tts-rtsp-out node: labels from the zh-CN catalog, the voice list from the runtime's engine,
 * the Opus-only silence-packet choice, push rows shown for push mode, and the URL validated.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import { startRed, type Red } from './red';
import { freePort } from './support';
import { CHROMIUM, missingPeer } from '../support/peers';

let red: Red;
let browser: Browser | undefined;

before(async () => {
  if (missingPeer('chromium')) return;
  const port = await freePort();
  red = await startRed(
    [
      { id: 'f1', type: 'tab', label: 'announce' },
      { id: 'n1', z: 'f1', type: 'tts-rtsp-out', mode: 'serve', host: '127.0.0.1', port: String(port), path: 'announce', codec: 'opus', engine: 'embedded', voice: 'cmn', chime: 'builtin', x: 200, y: 100, wires: [[]] },
    ],
    'zh-CN',
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  await red?.stop();
});

test('edit dialog: Chinese labels, voices from the engine, push URL validation', { skip: missingPeer('chromium') }, async () => {
  const ctx = await browser!.newContext({ locale: 'zh-CN' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(red.base, { waitUntil: 'networkidle' });
  await page.waitForFunction(() => (window as any).RED?.nodes?.filterNodes?.({ type: 'tts-rtsp-out' }).length === 1);
  await page.evaluate(() => {
    const R = (window as any).RED;
    R.editor.edit(R.nodes.filterNodes({ type: 'tts-rtsp-out' })[0]);
  });
  await page.waitForSelector('#node-input-voice');
  assert.equal((await page.textContent('label[for="node-input-engine"] span'))?.trim(), '语音引擎');
  // the datalist is filled from GET live-audio/voices (the embedded engine's list)
  await page.waitForFunction(() => document.querySelectorAll('#tts-rtsp-out-voices option').length > 50);
  const voices = await page.$$eval('#tts-rtsp-out-voices option', (o) => o.map((x) => (x as HTMLOptionElement).value));
  for (const v of ['cmn', 'yue', 'en-us']) assert.ok(voices.includes(v), v);
  // silence packets: an Opus setting, 120 ms unless changed; hidden for the other codecs
  assert.equal((await page.textContent('label[for="node-input-silence"] span'))?.trim(), '静音包时长');
  assert.equal(await page.inputValue('#node-input-silence'), '120');
  assert.equal(await page.isVisible('#node-input-silence'), true);
  await page.selectOption('#node-input-codec', 'pcmu');
  assert.equal(await page.isVisible('#node-input-silence'), false);
  await page.selectOption('#node-input-codec', 'opus');
  assert.equal(await page.isVisible('#node-input-silence'), true);
  // the programs a service may not find by name: ffmpeg for AAC, espeak-ng for the system engine
  assert.equal(await page.isVisible('#node-input-ffmpegPath'), false);
  await page.selectOption('#node-input-codec', 'aac');
  assert.equal(await page.isVisible('#node-input-ffmpegPath'), true);
  assert.equal((await page.textContent('label[for="node-input-ffmpegPath"] span'))?.trim(), 'ffmpeg 程序');
  await page.selectOption('#node-input-codec', 'opus');
  assert.equal(await page.isVisible('#node-input-espeakPath'), false);
  await page.selectOption('#node-input-engine', 'espeak');
  assert.equal(await page.isVisible('#node-input-espeakPath'), true);
  assert.equal(await page.isVisible('#node-input-command'), false, 'the command template is not the espeak-ng program');
  await page.selectOption('#node-input-engine', 'embedded');
  assert.equal(await page.isVisible('#node-input-url'), false);
  await page.selectOption('#node-input-mode', 'push');
  assert.equal(await page.isVisible('#node-input-url'), true);
  assert.equal(await page.isVisible('#node-input-port'), false);
  await page.fill('#node-input-url', 'http://wrong');
  await page.dispatchEvent('#node-input-url', 'change');
  await page.waitForFunction(() => document.querySelector('#node-input-url')!.classList.contains('input-error'));
  await page.fill('#node-input-url', 'rtsp://127.0.0.1:8554/announce');
  await page.dispatchEvent('#node-input-url', 'change');
  await page.waitForFunction(() => !document.querySelector('#node-input-url')!.classList.contains('input-error'));
  await ctx.close();
});
