/**
 * The Node-RED the tests and benchmarks run against. By default the devDependency (the oldest
 * Node-RED we claim); `LIVE_AUDIO_NODE_RED=<folder>` names another install, a folder with
 * node_modules/node-red in it (CI's Node 24 leg: `npm install node-red@5.0` in a scratch folder),
 * so the node tests (node-red-node-test-helper) and the whole-Node-RED processes (editor,
 * install, demo, bench --node-red) prove that leg's Node-RED, not the one in our lock file.
 */
import fs from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const base = process.env.LIVE_AUDIO_NODE_RED ? path.resolve(process.env.LIVE_AUDIO_NODE_RED) : repoRoot;

function resolveIn(request: string): string {
  try {
    return require.resolve(request, { paths: [base] });
  } catch {
    throw new Error(`LIVE_AUDIO_NODE_RED=${base}: no ${request} there (install one with: npm install --prefix ${base} node-red@5.0)`);
  }
}

/** node-red's main module (what node-red-node-test-helper's init() takes) */
export const nodeRedMain = resolveIn('node-red');
/** node-red's start script (what `node-red` runs) */
export const nodeRedJs = resolveIn('node-red/red.js');
/** the folder of @node-red/nodes (the core nodes) in that install */
export const coreNodesDir = path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [nodeRedMain] }));
/** its version, for logs */
export const nodeRedVersion: string = JSON.parse(fs.readFileSync(path.join(path.dirname(nodeRedJs), 'package.json'), 'utf8')).version;
