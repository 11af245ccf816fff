/**
 * Every coded engine error (CodedError and its subclasses: `errors.<area>.<code>`) has a text in
 * en-US and in zh-CN, with the same parameters, so `localError` never falls back to English or to
 * the bare code. One check for every area (pcm, resample, whep, ws, rtsp, announce), reading the
 * sources the way the errors are written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const AREAS = ['pcm', 'resample', 'whep', 'ws', 'rtsp', 'announce', 'cluster', 'config'];

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [fs.readFileSync(path.join(root, p), 'utf8')] : [];
  });
}

/** errors.* of common.json and every node catalog of a language (what the build merges) */
function catalogErrors(lang: string): Record<string, Record<string, string>> {
  const dir = path.join(root, 'locales', lang);
  const out: Record<string, Record<string, string>> = {};
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const errors = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).errors ?? {};
    for (const [area, texts] of Object.entries(errors)) {
      if (texts && typeof texts === 'object') Object.assign((out[area] ??= {}), texts);
    }
  }
  return out;
}

test('every error code of the engine and the nodes has an en-US and a zh-CN text with the same parameters', () => {
  const re = new RegExp(`'(${AREAS.join('|')})\\.([a-zA-Z]+)'`, 'g');
  const codes = new Set([...sources('lib'), ...sources('nodes')].flatMap((t) => [...t.matchAll(re)].map((m) => `${m[1]}.${m[2]}`)));
  for (const area of AREAS) assert.ok([...codes].some((c) => c.startsWith(`${area}.`)), `no ${area}.* code found: the pattern is stale`);
  const en = catalogErrors('en-US');
  const zh = catalogErrors('zh-CN');
  const params = (s: string) => [...s.matchAll(/__(\w+)__/g)].map((m) => m[1]).sort();
  const missing: string[] = [];
  for (const code of codes) {
    const [area, name] = code.split('.');
    if (!en[area]?.[name]) missing.push(`en-US errors.${code}`);
    if (!zh[area]?.[name]) missing.push(`zh-CN errors.${code}`);
    if (en[area]?.[name] && zh[area]?.[name]) assert.deepEqual(params(zh[area][name]), params(en[area][name]), `parameters of ${code}`);
  }
  assert.deepEqual(missing, []);
});
