/**
 * The editor assets of every node type in package.json, read as Node-RED reads them (no browser):
 * registerType definitions (category, colour, icon, palette label, port labels, validation, secrets
 * as credentials), texts only from the catalogs (en-US and zh-CN with the same keys), help in the
 * house style in both languages, icons white on transparent at 2:3, and examples that cover every
 * node and explain themselves in a comment node. The browser test (editor.test.ts) shows the same
 * assets working; this one says which rule a file breaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { editorScripts } from '../support/editor-script';

const root = path.resolve(__dirname, '..', '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const types = Object.keys(pkg['node-red'].nodes as Record<string, string>);
const LANGS = ['en-US', 'zh-CN'] as const;

type Json = Record<string, unknown>;
const readJson = (f: string): Json => (fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {});

function keysOf(o: Json, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? keysOf(v as Json, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

function lookup(o: Json, key: string): unknown {
  return key.split('.').reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Json)[k] : undefined), o);
}

/** The catalog a node gets at runtime: common.json merged with its own (scripts/copy-assets.js). */
function catalog(type: string, lang: string): Json {
  const common = readJson(path.join(root, 'locales', lang, 'common.json'));
  const own = readJson(path.join(root, 'locales', lang, `${type}.json`));
  return { ...common, ...own, errors: { ...(common.errors as Json), ...(own.errors as Json) } };
}

interface NodeDef {
  category: string;
  color?: string;
  icon?: string;
  inputs?: number;
  outputs?: number;
  defaults: Record<string, { value: unknown; validate?: unknown; type?: string }>;
  credentials?: Record<string, { type: string }>;
  paletteLabel?: unknown;
  label?: unknown;
  inputLabels?: unknown;
  outputLabels?: unknown;
}

/**
 * Node-RED's own RED.validators (number, regex, typedInput), cut from the editor it ships, so the
 * validators our editors build on behave here as in the browser.
 */
function editorValidators(RED: object): unknown {
  const src = fs.readFileSync(require.resolve('@node-red/editor-client/public/red/red.js', { paths: [require.resolve('node-red')] }), 'utf8');
  const start = src.indexOf('RED.validators = {');
  assert.ok(start >= 0, 'RED.validators in the editor source');
  const end = src.indexOf('\n};', start);
  const ctx = { RED, $: () => ({}) };
  vm.runInNewContext(src.slice(start, end + 3), ctx);
  return (ctx.RED as { validators: unknown }).validators;
}

/**
 * A RED._ that answers `⟦key⟧ {params}` for a key of <type>'s catalog (namespaced "module/type:key"
 * as the editor needs outside a node's own `this._`), and fails on a key the catalog lacks.
 */
function editorTranslate(type: string) {
  const cat = catalog(type, 'en-US');
  return (key: string, params?: Record<string, unknown>) => {
    const k = key.replace(/^[^:]*:/, '');
    if (key.startsWith('node-red:') || key.startsWith('validator.')) return key;
    assert.equal(key.split(':')[0], `${pkg.name}/${type}`, `${type}: namespace of ${key}`);
    assert.equal(typeof lookup(cat, k), 'string', `${type}: catalog key ${k} exists`);
    return `⟦${k}⟧ ${JSON.stringify(params ?? {})}`;
  };
}

/** Runs the editor script of <type>.html with a stand-in RED that records registerType. */
function definition(type: string): { def: NodeDef; template: string } {
  const html = fs.readFileSync(path.join(root, 'nodes', type, `${type}.html`), 'utf8');
  const defs: Record<string, NodeDef> = {};
  const RED: Record<string, unknown> = { nodes: { registerType: (t: string, d: NodeDef) => (defs[t] = d) }, events: { on: () => undefined }, _: editorTranslate(type) };
  RED.validators = editorValidators(RED);
  // the shared editor script each .html loads first (resources/editor.js), then the node's own
  assert.match(html, /^<script src="resources\/node-red-contrib-live-audio\/editor\.js"><\/script>/, `${type}.html loads the shared editor script first`);
  const ctx = vm.createContext({ RED, $: () => ({}) });
  for (const code of editorScripts(type)) vm.runInContext(code, ctx);
  const template = /<script type="text\/html" data-template-name="([^"]+)">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(defs[type], `${type}.html registers ${type}`);
  assert.equal(template?.[1], type, `${type}.html has the edit template of ${type}`);
  return { def: defs[type], template: template![2] };
}

// A translation function that marks what came from the catalog: ⟦key⟧ (and checks the key exists).
function marker(type: string) {
  const cat = catalog(type, 'en-US');
  return (key: string) => {
    assert.equal(typeof lookup(cat, key), 'string', `${type}: catalog key ${key} exists`);
    return `⟦${key}⟧`;
  };
}

for (const type of types) {
  test(`${type}: registerType follows the house style`, () => {
    const { def } = definition(type);
    const config = def.category === 'config';
    if (!config) {
      assert.equal(def.category, 'live audio');
      assert.equal(def.color, '#87C4E0');
      assert.equal(def.icon, `${type}.svg`);
      assert.ok(fs.existsSync(path.join(root, 'icons', `${type}.svg`)), `icons/${type}.svg exists`);
    }
    const _ = marker(type);
    const self = { _, ...Object.fromEntries(Object.entries(def.defaults).map(([k, v]) => [k, v.value])) };
    // palette label and port labels come whole from the catalog
    assert.equal(typeof def.paletteLabel, 'function', `${type}: paletteLabel from the catalog`);
    assert.match((def.paletteLabel as () => string).call(self), /^⟦[\w.-]+⟧$/);
    if (def.inputs) assert.match((def.inputLabels as (i: number) => string).call(self, 0), /^⟦[\w.-]+⟧$/, `${type}: inputLabels`);
    for (let i = 0; i < (def.outputs ?? 0); i++) {
      assert.match((def.outputLabels as (i: number) => string).call(self, i), /^⟦[\w.-]+⟧$/, `${type}: outputLabels(${i})`);
    }
    // the node's own label: catalog texts, property values and units only
    const label = (def.label as () => string).call(self);
    const values = (Object.values(self) as unknown[]).filter((v) => typeof v === 'string' || typeof v === 'number') as Array<string | number>;
    let rest = label.replace(/⟦[\w.-]+⟧/g, '');
    for (const v of values) if (String(v)) rest = rest.split(String(v)).join('');
    assert.doesNotMatch(rest.replace(/\b(rtsp|kHz)\b/g, ''), /[A-Za-z]{2,}/, `${type}: label "${label}" has no hard-coded words`);
    // every property the user types is validated; secrets are credentials, not defaults
    for (const [k, v] of Object.entries(def.defaults)) {
      if (k === 'name' || typeof v.value === 'boolean' || v.type || Array.isArray(v.value)) continue;
      // free text: ids of the static stream, and a voice name the engine checks (unknownVoice)
      if (['stmId', 'traceId', 'voice'].includes(k)) continue;
      assert.equal(typeof v.validate, 'function', `${type}: ${k} is validated`);
    }
    for (const k of Object.keys(def.defaults)) {
      assert.doesNotMatch(k, /password|token|secret|authori[sz]ation|apikey/i, `${type}: ${k} belongs in credentials`);
    }
    for (const [k, c] of Object.entries(def.credentials ?? {})) {
      // urlSecrets: the secrets cut out of a WebSocket URL; the editor needs them back to merge them
      // into a URL the user edits, so it is a 'text' credential: never in an exported flow, stored
      // encrypted, shown only to editor users (as the target's headers are)
      if (k === 'urlSecrets') continue;
      if (/password|token|secret|authori[sz]ation/i.test(k)) assert.equal(c.type, 'password', `${type}: credential ${k} is hidden`);
    }
  });

  test(`${type}: edit dialog texts come from the catalogs (en-US, zh-CN same keys)`, () => {
    const { template } = definition(type);
    const en = catalog(type, 'en-US');
    const zh = catalog(type, 'zh-CN');
    assert.deepEqual(keysOf(zh).sort(), keysOf(en).sort(), `${type}: zh-CN and en-US catalogs have the same keys`);
    for (const m of template.matchAll(/data-i18n="([^"]+)"/g)) {
      for (const part of m[1].split(';')) {
        const key = part.replace(/^\[\w+\]/, '');
        if (key.startsWith('node-red:')) continue;
        for (const [lang, cat] of [['en-US', en], ['zh-CN', zh]] as const) {
          assert.equal(typeof lookup(cat, key), 'string', `${type}: ${key} in the ${lang} catalog`);
        }
      }
    }
    // text between tags: units and protocol names only (labels are data-i18n spans)
    const text = template.replace(/<[^>]*>/g, ' ').replace(/&\w+;/g, ' ');
    const words = (text.match(/[A-Za-z]{2,}/g) ?? []).filter((w) => !['Hz', 'ms', 'KiB', 'TCP', 'UDP', 'Basic', 'Digest'].includes(w));
    assert.deepEqual(words, [], `${type}: hard-coded words in the edit template`);
  });

  test(`${type}: help in the house style (en-US, zh-CN)`, () => {
    const config = definition(type).def.category === 'config';
    const headings: Record<string, string[]> = config
      ? { 'en-US': ['Properties', 'Details', 'References'], 'zh-CN': ['属性', '详细说明', '参考'] }
      : { 'en-US': ['Inputs', 'Outputs', 'Details', 'References'], 'zh-CN': ['输入', '输出', '详细说明', '参考'] };
    for (const lang of LANGS) {
      const f = path.join(root, 'locales', lang, `${type}.html`);
      assert.ok(fs.existsSync(f), `locales/${lang}/${type}.html exists`);
      const html = fs.readFileSync(f, 'utf8');
      const body = new RegExp(`^<script type="text/html" data-help-name="${type}">\\s*([\\s\\S]*)</script>\\s*$`).exec(html.trim());
      assert.ok(body, `${lang}/${type}.html is one help script for ${type}`);
      // the first paragraph is the palette tooltip
      assert.match(body[1], /^<p>[^]+?<\/p>/, `${lang}/${type}.html starts with a paragraph`);
      const found = [...body[1].matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1].trim());
      assert.deepEqual(found, headings[lang], `${lang}/${type}.html sections`);
      assert.match(body[1], /<dl class="message-properties">/, `${lang}/${type}.html lists properties`);
      if (lang === 'zh-CN') assert.match(body[1], /[\u4e00-\u9fff]/, `${type}: zh-CN help is in Chinese`);
    }
  });
}

// numbers typed in the editor: a value out of range is refused with the reason as text (shown
// beside the field by Node-RED >= 3), from the catalog, naming the range; no DOM read needed
const NUMBERS: Record<string, Record<string, [ok: unknown[], bad: unknown[]]>> = {
  resample: { outRate: [[16000, '8000'], ['16k', 7999, 16000.5, '']], idleTimeout: [[0, '0.5', 86400], ['soon', -1, 86401]] },
  'base64-ws-out': { chunkSize: [[1, '200'], ['20O', 0, 1.5]], queueSeconds: [['30', 0.5], ['x', 0, 3601]] },
  'live-audio-ws-target': { connectTimeout: [['', 10], ['ten', 0, 301]], pingInterval: [['', 0], [-1, 'a']], backoffInitial: [[0.05], [0]], backoffMax: [[30], [3601]], maxReply: [['', 1024], [0, 'big']], linger: [['', 0, 5, '1.5'], [-1, 'soon', 601]] },
  'stream-lease': { maxStreams: [['', 100, '1'], ['lots', 0, 1.5, 10001]], leaseS: [[15], [2]], takeoverS: [[0, ''], [-1, 'x']] },
};
for (const [type, props] of Object.entries(NUMBERS)) {
  test(`${type}: number properties are checked with their range, the reason in the catalogs`, () => {
    const { def } = definition(type);
    for (const [k, [ok, bad]] of Object.entries(props)) {
      const validate = def.defaults[k].validate as (this: unknown, v: unknown, opt: object) => unknown;
      assert.equal(validate.length, 2, `${type}.${k}: a 3.x validator (v, opt)`);
      for (const v of ok) assert.equal(validate.call({}, v, {}), true, `${type}.${k} = ${JSON.stringify(v)}`);
      for (const v of bad) {
        const reason = validate.call({}, v, {});
        assert.match(String(reason), /^⟦shared\.(number|integer)⟧ \{.*"min":[\d.]+,"max":\d+/, `${type}.${k} = ${JSON.stringify(v)}: ${String(reason)}`);
        assert.match(String(validate.call({}, v, { label: 'L' })), /^⟦shared\.(number|integer)Prop⟧ \{"prop":"L"/);
      }
    }
  });
}

test('icons: white artwork on transparent, 2:3', () => {
  for (const type of types) {
    const f = path.join(root, 'icons', `${type}.svg`);
    if (!fs.existsSync(f)) continue; // config nodes have no palette icon
    const svg = fs.readFileSync(f, 'utf8');
    assert.match(svg, /viewBox="0 0 40 60"/, `${type}.svg is 40×60`);
    for (const m of svg.matchAll(/(?:fill|stroke)(?:="|:\s*)([^";]+)/g)) {
      assert.ok(['#fff', '#ffffff', 'white', 'none'].includes(m[1].trim().toLowerCase()), `${type}.svg uses colour ${m[1]}`);
    }
    assert.doesNotMatch(svg, /<image|<style/, `${type}.svg is plain vector art`);
  }
});

test('examples: every node appears in one, every example explains itself in a comment node', () => {
  const dir = path.join(root, 'examples');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  const used = new Set<string>();
  for (const f of files) {
    const flow = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Array<{ type: string; info?: string; name?: string }>;
    assert.ok(Array.isArray(flow), `${f} is a flow (an array of nodes)`);
    flow.forEach((n) => used.add(n.type));
    const comments = flow.filter((n) => n.type === 'comment' && (n.info ?? '').trim().length > 80);
    assert.ok(comments.length > 0, `${f} has a comment node that explains it`);
  }
  for (const type of types) {
    if (definition(type).def.category === 'config') continue;
    assert.ok(used.has(type), `${type} appears in an example (scorecard N02)`);
  }
});

test('examples: each imports onto a tab of its own, binds 127.0.0.1 unless its comment says why not, and names its ports', () => {
  const dir = path.join(root, 'examples');
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const flow = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Array<Record<string, any>>;
    const tabs = flow.filter((n) => n.type === 'tab');
    assert.equal(tabs.length, 1, `${f} brings its own tab (an import then lands the same way for every example)`);
    for (const n of flow) if ('wires' in n) assert.equal(n.z, tabs[0].id, `${f}: ${n.type} ${n.id} is on the example's tab`);
    const comment = flow.filter((n) => n.type === 'comment').map((n) => String(n.info ?? '')).join('\n');
    const network = flow.some((n) => ['whep-in', 'tts-rtsp-out', 'live-audio-ws-target'].includes(n.type));
    if (network) assert.match(comment, /^Ports/m, `${f}: the comment names the ports the example uses`);
    for (const n of flow.filter((x) => x.type === 'tts-rtsp-out')) assert.equal(n.host, '127.0.0.1', `${f}: tts-rtsp-out binds 127.0.0.1`);
    for (const n of flow.filter((x) => x.type === 'whep-in' && x.iceHostAddresses !== '127.0.0.1')) {
      assert.match(comment, /ICE addresses/, `${f}: whep-in gathers on every interface, and the comment says why (${n.id})`);
    }
  }
});

test('package.json: what the flow library reads', () => {
  assert.ok(pkg.keywords.includes('node-red'), "keyword 'node-red' (P05)");
  assert.ok(pkg.license && pkg.repository && pkg.bugs, 'licence, repository, bugs (P01, P03)');
  assert.ok(pkg['node-red'].version && pkg.engines?.node, 'node-red.version and engines.node (P06, P07)');
  // D01 warns above six runtime dependencies and asks for the reason in the README: every one is
  // named there, with what it is for
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const deps = /## Dependencies\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  for (const d of Object.keys(pkg.dependencies)) assert.ok(deps.includes(`\`${d}\``), `README "Dependencies" names ${d} and what it is for (D01)`);
  assert.ok(Object.keys(pkg.dependencies).length <= 6 || deps.length > 0, 'six dependencies at most, or the README says why (D01)');
  assert.ok(!('node-red' in pkg.dependencies) && !('node-red-dev' in pkg.dependencies), 'no Node-RED or node-red-dev at runtime');
  for (const [type, file] of Object.entries(pkg['node-red'].nodes as Record<string, string>)) {
    assert.equal(file, `dist/nodes/${type}/${type}.js`);
  }
});
