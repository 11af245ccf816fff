#!/usr/bin/env node
// Runs the Node-RED flow-library scorecard (`node-red-dev validate`, pinned to 0.1.6) on this
// package, in-process, and prints one line per check at the end.
//
//   npm run validate              build, then validate
//   npm run validate -- --no-build
//
// node-red-dev is not a dependency of the package (it pulls ~200 packages and is only needed by
// maintainers). The script looks for it in $NODE_RED_DEV_DIR (a folder whose node_modules holds
// node-red-dev), then in node_modules/.cache/node-red-dev/ (git-ignored); if it is in neither,
// it installs node-red-dev@0.1.6 there with `npm install` (once; needs registry.npmjs.org).
//
// Why in-process: node-red-dev fetches https://catalogue.nodered.org/catalogue.json for P08
// (similar package names) and N01 (node type names used by other packages). Where that host is
// unreachable the whole run stops with ENOTFOUND. We wrap the axios.get that node-red-dev's
// libs use: the catalogue request is tried for real (10 s), and only if it fails it is answered
// with an empty catalogue — P08 and N01 are then reported as "not checked (offline)" instead
// of passing. Every other request (registry.npmjs.org for P06/P07/D02/D03) goes out unchanged.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const NODE_RED_DEV_VERSION = '0.1.6';
const CATALOGUE_URL = 'https://catalogue.nodered.org/catalogue.json';
const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);

// Warnings that stay, each explained in DEVELOPING.md → "Flow-library scorecard".
const ACCEPTED = {
  P04: 'new packages should use a scoped name; the project owner chose the unscoped name node-red-contrib-live-audio',
};
// D03: dependencies that stay behind their latest version on purpose.
const HELD_BACK = {
  werift: '0.25 requires Node.js >= 22; this package supports Node.js 20 (engines >= 20)',
};

const TITLES = {
  P01: 'licence',
  P03: 'repository / bugs link',
  P04: 'package name',
  P05: "'node-red' keyword",
  P06: 'Node-RED version compatibility',
  P07: 'Node.js version compatibility',
  P08: 'no similarly named package',
  N01: 'unique node type names',
  N02: 'an example for every node',
  D01: 'number of dependencies',
  D02: 'no incompatible package in the dependency tree',
  D03: 'dependencies at their latest version',
};

function findNodeRedDev() {
  const candidates = [];
  if (process.env.NODE_RED_DEV_DIR) candidates.push(path.resolve(process.env.NODE_RED_DEV_DIR));
  const cache = path.join(root, 'node_modules', '.cache', 'node-red-dev');
  candidates.push(cache);
  for (const dir of candidates) {
    const pkg = path.join(dir, 'node_modules', 'node-red-dev', 'package.json');
    if (fs.existsSync(pkg)) {
      const { version } = JSON.parse(fs.readFileSync(pkg, 'utf8'));
      if (version !== NODE_RED_DEV_VERSION) {
        console.warn(`note: ${pkg} is version ${version}; this script was written for ${NODE_RED_DEV_VERSION}`);
      }
      return path.dirname(pkg);
    }
  }
  console.log(`installing node-red-dev@${NODE_RED_DEV_VERSION} into ${path.relative(root, cache)} (once) …`);
  fs.mkdirSync(cache, { recursive: true });
  // A package.json of its own keeps npm from treating the project as the install root.
  fs.writeFileSync(path.join(cache, 'package.json'), '{ "private": true }\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(
    npm,
    ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', cache, `node-red-dev@${NODE_RED_DEV_VERSION}`],
    { stdio: 'inherit', shell: process.platform === 'win32' },
  );
  if (r.status !== 0) {
    console.error(
      `could not install node-red-dev. Install it yourself and point NODE_RED_DEV_DIR at it:\n` +
        `  npm install --prefix /tmp/nrd node-red-dev@${NODE_RED_DEV_VERSION}\n` +
        `  NODE_RED_DEV_DIR=/tmp/nrd npm run validate`,
    );
    process.exit(2);
  }
  return path.join(cache, 'node_modules', 'node-red-dev');
}

function build() {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// Answer the catalogue request offline when the real one fails; remember that we did.
function patchAxios(nrdDir) {
  const axiosPath = require.resolve('axios', { paths: [path.join(nrdDir, 'src', 'libs')] });
  const axios = require(axiosPath);
  const realGet = axios.get.bind(axios);
  const state = { catalogueOffline: false, error: '' };
  axios.get = async (url, config) => {
    if (url !== CATALOGUE_URL) return realGet(url, config);
    try {
      return await realGet(url, { ...config, timeout: 10_000 });
    } catch (err) {
      state.catalogueOffline = true;
      state.error = err.code || err.message;
      return { status: 200, data: { modules: [] } };
    }
  };
  return state;
}

async function main() {
  if (!args.includes('--no-build')) build();
  const nrdDir = findNodeRedDev();
  const catalogue = patchAxios(nrdDir);
  const ValidateCommand = require(path.join(nrdDir, 'src', 'commands', 'validate.js'));
  const out = path.join(os.tmpdir(), `live-audio-scorecard-${process.pid}.json`);
  // --embed: node-red-dev must not call process.exit itself; we print the summary afterwards.
  await ValidateCommand.run(['--path', root, '--output', out, '--embed', 'true']);

  let scorecard;
  try {
    scorecard = JSON.parse(fs.readFileSync(out, 'utf8'));
    fs.unlinkSync(out);
  } catch {
    console.error('node-red-dev wrote no scorecard (see its output above)');
    return 1;
  }
  console.log('\n    ---Scorecard summary---');
  let failed = 0;
  for (const [code, title] of Object.entries(TITLES)) {
    const entry = scorecard[code];
    let verdict;
    if (!entry) verdict = 'not run';
    else if ((code === 'P08' || code === 'N01') && catalogue.catalogueOffline) {
      verdict = `not checked (catalogue unreachable: ${catalogue.error})`;
    } else if (code === 'P04' && entry.test && !scorecard.package.name.startsWith('@')) {
      // node-red-dev prints the "should use a scoped name" warning, then records P04 as passed
      // because node-red-contrib-* is a valid unscoped name: report the warning it printed.
      verdict = `warning, accepted: ${ACCEPTED.P04}`;
    } else if (entry.test) verdict = 'pass';
    else if (code === 'D03' && (entry.packages || []).every((p) => HELD_BACK[p])) {
      verdict = `warning, accepted: ${entry.packages.map((p) => `${p}: ${HELD_BACK[p]}`).join('; ')}`;
    } else {
      verdict = 'FAIL';
      failed++;
    }
    console.log(`${code} ${title}: ${verdict}`);
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
