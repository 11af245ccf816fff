#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with Node's built-in test runner and the
// spec reporter, which ends with the pass/fail counts. Extra arguments filter files by substring:
//   npm test -- pcm resample
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const testDir = path.join(root, 'dist', 'test');
const filters = process.argv.slice(2);

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith('.test.js') ? [p] : [];
  });
}

const files = walk(testDir)
  .filter((f) => filters.length === 0 || filters.some((s) => path.relative(testDir, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files matched ${filters.join(' ') || '(all)'} under ${testDir}`);
  process.exit(1);
}
const args = [
  '--test',
  '--test-reporter=spec',
  // every test is bounded: a hung peer fails the test instead of hanging CI
  '--test-timeout=180000',
  '--test-concurrency=1',
  ...files,
];
// Tests whose real peer is missing append one line each here (test/support/peers.ts); the run
// ends with the list, so a newcomer sees what was not proven and how to install it.
const skipLog = path.join(os.tmpdir(), `live-audio-skips-${process.pid}.txt`);
fs.rmSync(skipLog, { force: true });
const r = spawnSync(process.execPath, args, {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, LIVE_AUDIO_SKIP_LOG: skipLog },
});
if (fs.existsSync(skipLog)) {
  const lines = [...new Set(fs.readFileSync(skipLog, 'utf8').split('\n').filter(Boolean))];
  fs.rmSync(skipLog, { force: true });
  console.log(`\nskipped for missing peers (install them to run these tests):`);
  for (const l of lines) console.log(`- ${l}`);
  const pkgs = [...new Set(lines.flatMap((l) => (/apt-get install -y (.*)$/.exec(l)?.[1] ?? '').split(' ').filter(Boolean)))];
  if (pkgs.length > 1) console.log(`all of them at once:\n  sudo apt-get install -y ${pkgs.join(' ')}`);
}
process.exit(r.status === null ? 1 : r.status);
