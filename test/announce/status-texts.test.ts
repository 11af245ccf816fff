/**
 * Status texts with a count, through Node-RED 4.1's own i18n (@node-red/util, i18next) and the
 * built catalogs, as the runtime translates them for a node's status: "1 player" / "2 players"
 * in English (i18next plural keys _one/_other), one form in Chinese. The node-test helper's RED._
 * returns the key, so this is where the words themselves are checked.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { i18n } = require('@node-red/util');
type T = (key: string, opts?: Record<string, unknown>) => string;
const root = resolve(__dirname, '..', '..');

before(async () => {
  await i18n.init({ lang: 'en-US' });
  await i18n.i.loadLanguages(['zh-CN']);
  for (const type of ['tts-rtsp-out', 'resample']) await i18n.registerMessageCatalog(type, resolve(root, 'nodes', type, 'locales'), `${type}.json`);
});

const fixed = (lang: string, ns: string): T => i18n.i.getFixedT(lang, ns);

test('tts-rtsp-out: "1 player", "2 players"; "1 announcement waiting"; zh-CN has its one form', () => {
  const en = fixed('en-US', 'tts-rtsp-out');
  assert.equal(en('tts-rtsp-out.status.listening', { count: 0 }), 'listening · 0 players');
  assert.equal(en('tts-rtsp-out.status.listening', { count: 1 }), 'listening · 1 player');
  assert.equal(en('tts-rtsp-out.status.listening', { count: 2 }), 'listening · 2 players');
  assert.equal(en('tts-rtsp-out.status.waiting', { count: 1 }), '1 announcement waiting');
  assert.equal(en('tts-rtsp-out.status.waiting', { count: 3 }), '3 announcements waiting');
  assert.equal(en('tts-rtsp-out.status.reconnectingBecause', { reason: 'connect ECONNREFUSED; retry in 2000 ms' }), 'reconnecting: connect ECONNREFUSED; retry in 2000 ms');
  const zh = fixed('zh-CN', 'tts-rtsp-out');
  assert.equal(zh('tts-rtsp-out.status.listening', { count: 1 }), '等待播放 · 1 个播放器');
  assert.equal(zh('tts-rtsp-out.status.listening', { count: 2 }), '等待播放 · 2 个播放器');
  assert.equal(zh('tts-rtsp-out.status.waiting', { count: 2 }), '2 条播报等待中');
});

test('resample: "1 stream", "2 streams" in both languages', () => {
  const en = fixed('en-US', 'resample');
  assert.equal(en('resample.status.streams', { count: 1, from: '48k', to: '16k' }), '1 stream · 48k→16k');
  assert.equal(en('resample.status.streams', { count: 2, from: '48k', to: '16k' }), '2 streams · 48k→16k');
  const zh = fixed('zh-CN', 'resample');
  assert.equal(zh('resample.status.streams', { count: 1, from: '48k', to: '16k' }), '1 路流 · 48k→16k');
  assert.equal(zh('resample.status.streams', { count: 3, from: '48k', to: '16k' }), '3 路流 · 48k→16k');
});
