#!/usr/bin/env node
// Runs one benchmark from dist/bench/<name>/index.js:  npm run bench -- <name> [options]
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const benchDir = path.resolve(__dirname, '..', 'dist', 'bench');
const available = fs.existsSync(benchDir)
  ? fs.readdirSync(benchDir).filter((d) => fs.existsSync(path.join(benchDir, d, 'index.js')))
  : [];
const [name, ...rest] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [options]\navailable: ${available.join(', ') || '(none built)'}`);
  process.exit(name ? 1 : 0);
}
const r = spawnSync(process.execPath, ['--expose-gc', path.join(benchDir, name, 'index.js'), ...rest], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
