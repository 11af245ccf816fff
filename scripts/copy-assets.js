#!/usr/bin/env node
// Puts each node's editor assets where Node-RED's loader looks for them: next to the compiled
// dist/nodes/<type>/<type>.js go <type>.html, icons/ (from the top-level icons/) and
// locales/<lang>/<type>.{json,html} (from the top-level locales/).
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const nodesSrc = path.join(root, 'nodes');
const nodesOut = path.join(root, 'dist', 'nodes');

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

function readJson(f) {
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {};
}

function deepMerge(...objs) {
  const out = {};
  for (const o of objs) {
    for (const [k, v] of Object.entries(o)) {
      out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? deepMerge(out[k], v) : v;
    }
  }
  return out;
}

for (const type of fs.readdirSync(nodesSrc)) {
  const dir = path.join(nodesSrc, type);
  if (!fs.statSync(dir).isDirectory()) continue;
  const html = path.join(dir, `${type}.html`);
  if (!fs.existsSync(html)) continue; // shared helpers, not a node
  const out = path.join(nodesOut, type);
  copy(html, path.join(out, `${type}.html`));
  const icons = path.join(root, 'icons');
  if (fs.existsSync(icons)) {
    for (const f of fs.readdirSync(icons)) copy(path.join(icons, f), path.join(out, 'icons', f));
  }
  const locales = path.join(root, 'locales');
  if (fs.existsSync(locales)) {
    for (const lang of fs.readdirSync(locales)) {
      const help = path.join(locales, lang, `${type}.html`);
      if (fs.existsSync(help)) copy(help, path.join(out, 'locales', lang, `${type}.html`));
      // the node's own catalog, with the shared texts (common.json) merged under the same keys
      const own = path.join(locales, lang, `${type}.json`);
      const common = path.join(locales, lang, 'common.json');
      if (fs.existsSync(own) || fs.existsSync(common)) {
        const merged = deepMerge(readJson(common), { [type]: {} }, readJson(own));
        fs.mkdirSync(path.join(out, 'locales', lang), { recursive: true });
        fs.writeFileSync(path.join(out, 'locales', lang, `${type}.json`), JSON.stringify(merged, null, 2));
      }
    }
  }
}
