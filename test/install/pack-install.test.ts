/**
 * Installs the package as a user would from the palette: `npm pack`, then the palette manager's
 * own `npm install` command into a fresh Node-RED user directory, with no compiler on PATH, and
 * checks that Node-RED registers every node type of ours, with its icon.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findExecutable } from '../../lib/util/executable';
import { declaredTypes, makeUserDir, repoRoot, startNodeRed, type NodeRedProcess } from '../support/node-red-process';

let tmp: string;
let userDir: string;
let red: NodeRedProcess | undefined;

/**
 * What npm needs from the caller's environment to reach its registry here: a custom CA, a proxy,
 * the registry and its TLS settings. The palette manager runs npm with Node-RED's environment,
 * which has them; a test that dropped them would fail on a machine behind a proxy or a TLS
 * inspecting gateway while the real palette works.
 */
function networkEnv(): Record<string, string> {
  const pass = /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|(HTTPS?|NO|ALL)_PROXY|npm_config_(registry|proxy|https_proxy|noproxy|cafile|ca|strict_ssl|userconfig|globalconfig))$/i;
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => pass.test(e[0]) && e[1] !== undefined));
}

interface NodeSet {
  id: string;
  name: string;
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'live-audio-pack-'));
  userDir = makeUserDir('live-audio-palette-');
});

after(async () => {
  await red?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(userDir, { recursive: true, force: true });
});

// the stripped PATH is made of POSIX shell wrappers (npm on Windows is a .cmd, which needs a shell)
const posixOnly = process.platform === 'win32' && 'builds a PATH of node and npm shell wrappers';

test('npm pack → palette-style install (no compiler) → Node-RED registers every node with its icon', { timeout: 240_000, skip: posixOnly }, async () => {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: repoRoot, encoding: 'utf8' }));
  const tgz = path.join(tmp, packed[0].filename as string);
  const files: string[] = packed[0].files.map((f: { path: string }) => f.path);
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('dist/test/') || f.startsWith('node_modules/')), 'tests are not shipped');
  for (const type of declaredTypes()) {
    assert.ok(files.includes(`dist/nodes/${type}/${type}.js`), `${type}.js is in the package`);
    assert.ok(files.includes(`dist/nodes/${type}/${type}.html`), `${type}.html is in the package`);
  }

  // A PATH with node and npm only: an install step that needs a compiler (or any other tool) fails.
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const npmCli = fs.realpathSync(process.env.npm_execpath || findExecutable('npm') || 'npm');
  fs.writeFileSync(path.join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
  const env = { ...networkEnv(), HOME: process.env.HOME ?? '/root', PATH: bin, npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm') };
  // Reach the registry once without retries first: behind a proxy or a custom CA that the
  // environment does not pass on, npm would retry a TLS failure for minutes; this says why at once.
  const ping = spawnSync(path.join(bin, 'npm'), ['ping', '--fetch-retries=0'], { cwd: userDir, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(
    ping.status,
    0,
    `npm cannot reach its registry from the palette-style environment (${/\b[A-Z][A-Z_]{6,}\b/.exec(ping.stderr ?? '')?.[0] ?? ping.error?.message ?? 'no answer'}); ` +
      `passed on: ${Object.keys(networkEnv()).join(', ') || 'nothing'} (a custom CA needs NODE_EXTRA_CA_CERTS or npm_config_cafile, a proxy HTTPS_PROXY)\n${ping.stderr}`,
  );
  // the palette manager's arguments (@node-red/registry installer.js)
  const install = spawnSync(
    path.join(bin, 'npm'),
    ['install', '--no-audit', '--no-update-notifier', '--no-fund', '--save', '--save-prefix=~', '--omit=dev', '--engine-strict', tgz],
    { cwd: userDir, env, encoding: 'utf8', timeout: 180_000 },
  );
  assert.equal(install.status, 0, `palette-style npm install failed (${install.error?.message ?? `exit ${install.status}`}):\n${install.stderr}`);
  const lock = JSON.parse(fs.readFileSync(path.join(userDir, 'package-lock.json'), 'utf8'));
  const withScripts = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
    .filter(([, p]) => p.hasInstallScript)
    .map(([k]) => k);
  assert.deepEqual(withScripts, [], 'no installed dependency needs an install script');

  red = await startNodeRed({ userDir });
  const res = await fetch(`${red.url}/nodes`, { headers: { Accept: 'application/json' } });
  assert.equal(res.status, 200);
  const sets = ((await res.json()) as NodeSet[]).filter((s) => s.module === 'node-red-contrib-live-audio');
  const declared = declaredTypes();
  assert.deepEqual(sets.map((s) => s.name).sort(), [...declared].sort(), `node sets loaded:\n${red.output()}`);
  for (const s of sets) {
    assert.equal(s.err, undefined, `${s.name}: ${s.err}`);
    assert.ok(s.enabled && s.types.length > 0, `${s.name} is enabled and registers its types: ${JSON.stringify(s)}\n${red.output()}`);
  }
  // each node's icon is served from the installed package
  const html = await (await fetch(`${red.url}/nodes`, { headers: { Accept: 'text/html' } })).text();
  let icons = 0;
  for (const type of declared) {
    // the node's own registerType call, up to the next one (a config node has no icon)
    const def = new RegExp(`registerType\\(\\s*['"]${type}['"]([\\s\\S]*?)(registerType\\(|$)`).exec(html);
    assert.ok(def, `${type}'s editor definition is served`);
    if (/category:\s*['"]config['"]/.test(def[1])) continue;
    const m = /icon:\s*['"]([^'"]+)['"]/.exec(def[1]);
    assert.ok(m, `${type} names its icon`);
    icons++;
    const icon: Response = await fetch(`${red.url}/icons/node-red-contrib-live-audio/${m[1]}`);
    assert.equal(icon.status, 200, `icon ${m[1]} of ${type}`);
    assert.match(icon.headers.get('content-type') ?? '', /svg|png/);
  }
  assert.ok(icons >= 4, `icons checked for the four palette nodes (got ${icons})`);
});
