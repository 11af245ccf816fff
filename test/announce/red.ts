/** A real Node-RED (4.1) child process on 127.0.0.1 with this package installed, for the announce tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './support';

export const root = path.resolve(__dirname, '../../..');

export interface Red {
  base: string;
  log: () => string;
  stop: () => Promise<void>;
}

export async function startRed(flows: unknown[] = [], lang?: string): Promise<Red> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-audio-tts-red-'));
  fs.mkdirSync(path.join(userDir, 'node_modules'));
  fs.symlinkSync(root, path.join(userDir, 'node_modules', 'node-red-contrib-live-audio'), 'dir');
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = { uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', credentialSecret: 'test', ${lang ? `lang: '${lang}', ` : ''}logging: { console: { level: 'info' } }, editorTheme: { tours: false } };\n`,
  );
  const redJs = require.resolve('node-red/red.js', { paths: [root] });
  const red: ChildProcess = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  red.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  red.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async () => {
    if (red.exitCode === null) {
      red.kill('SIGINT');
      await Promise.race([new Promise((r) => red.once('exit', r)), new Promise((r) => setTimeout(r, 10_000))]);
      if (red.exitCode === null) red.kill('SIGKILL');
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  };
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/settings`, { signal: AbortSignal.timeout(5000) })).status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end || red.exitCode !== null) {
      await stop();
      throw new Error(`Node-RED did not start within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { base, log: () => log, stop };
}
