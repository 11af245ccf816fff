#!/usr/bin/env node
// Compiles the resampler's SIMD kernel (lib/resample/kernel/fir.ts, AssemblyScript) to
// dist/lib/resample/fir.wasm, which the package ships (AssemblyScript is a devDependency only:
// users get the .wasm, no compiler and no install script).
'use strict';
const path = require('path');
const fs = require('fs');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const asc = require.resolve('assemblyscript/bin/asc.js', { paths: [root] });
const out = path.join(root, 'dist', 'lib', 'resample', 'fir.wasm');
fs.mkdirSync(path.dirname(out), { recursive: true });
const r = spawnSync(
  process.execPath,
  [asc, path.join(root, 'lib', 'resample', 'kernel', 'fir.ts'), '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd', '-o', out],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status === null ? 1 : r.status);
