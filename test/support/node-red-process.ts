/**
 * A real Node-RED (test/support/which-node-red: the devDependency, or LIVE_AUDIO_NODE_RED's) in a child process, on 127.0.0.1 and a free port,
 * with a throw-away user directory. Used by the editor (browser) test, the install test and the
 * demo. `linkPackage` puts this checkout into <userDir>/node_modules as the palette would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');

export interface NodeRedProcess {
  url: string;
  port: number;
  userDir: string;
  child: ChildProcess;
  /** everything Node-RED printed so far */
  output(): string;
  stop(): Promise<void>;
}

export { freePort } from './processes';
import { freePort } from './processes';
import { nodeRedJs } from './which-node-red';

export function makeUserDir(prefix = 'live-audio-nr-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Links this checkout into <userDir>/node_modules, as if installed from the palette. */
export function linkPackage(userDir: string): void {
  const nm = path.join(userDir, 'node_modules');
  fs.mkdirSync(nm, { recursive: true });
  const link = path.join(nm, 'node-red-contrib-live-audio');
  fs.rmSync(link, { recursive: true, force: true });
  // a junction on Windows: a directory symlink there needs administrator rights
  fs.symlinkSync(repoRoot, link, process.platform === 'win32' ? 'junction' : 'dir');
}

export interface StartOptions {
  userDir: string;
  port?: number;
  flows?: unknown[];
  /** extra settings.js properties (JSON-serialisable) */
  settings?: Record<string, unknown>;
  /** ms to wait for the editor to answer (bounded) */
  timeoutMs?: number;
  /** the Node-RED start script; default the one test/support/which-node-red names */
  redJs?: string;
  /** options for Node itself, before the script (e.g. --require a probe) */
  nodeArgs?: string[];
}

export async function startNodeRed(opts: StartOptions): Promise<NodeRedProcess> {
  const port = opts.port ?? (await freePort());
  const { userDir } = opts;
  if (opts.flows) fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(opts.flows));
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'live-audio-test',
    editorTheme: { tours: false, projects: { enabled: false } },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    ...opts.settings,
  };
  fs.writeFileSync(path.join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  const redJs = opts.redJs ?? nodeRedJs;
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), redJs, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false' },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const proc: NodeRedProcess = {
    url,
    port,
    userDir,
    child,
    output: () => out,
    stop: () => stopChild(child),
  };
  const end = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Node-RED exited with ${child.exitCode}:\n${out}`);
    try {
      const r = await fetch(`${url}/settings`, { signal: AbortSignal.timeout(2000) });
      // flows are started once "Started flows" is logged; wait for both (the log follows the
      // `lang` setting, so the zh-CN lines count too)
      if (r.ok && /Started flows|Flows file|No flows found|Waiting for missing types|流程已启动|流程文件/.test(out)) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) {
      await proc.stop();
      throw new Error(`Node-RED did not answer on ${url} in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return proc;
}

/** SIGINT (Node-RED closes its flows), then SIGKILL if it has not exited within 20 s. */
export async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGINT');
  });
}

/** The node types this package declares (package.json → node-red.nodes). */
export function declaredTypes(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  return Object.keys(pkg['node-red']?.nodes ?? {});
}
