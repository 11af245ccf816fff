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
      for (const ext of ['json', 'html']) {
        const f = path.join(locales, lang, `${type}.${ext}`);
        if (fs.existsSync(f)) copy(f, path.join(out, 'locales', lang, `${type}.${ext}`));
      }
    }
  }
}
