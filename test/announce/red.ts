/**
 * A real Node-RED (4.1) child process on 127.0.0.1 with this package installed, for the announce
 * tests: the shared launcher (test/support/node-red-process.ts) with the interface these tests use.
 */
import fs from 'node:fs';
import { linkPackage, makeUserDir, repoRoot, startNodeRed } from '../support/node-red-process';

export const root = repoRoot;

export interface Red {
  base: string;
  log: () => string;
  stop: () => Promise<void>;
}

export async function startRed(flows: unknown[] = [], lang?: string): Promise<Red> {
  const userDir = makeUserDir('live-audio-tts-red-');
  linkPackage(userDir);
  const settings = { logging: { console: { level: 'info' } }, ...(lang ? { lang } : {}) };
  const nr = await startNodeRed({ userDir, flows, settings }).catch((e: unknown) => {
    fs.rmSync(userDir, { recursive: true, force: true });
    throw e;
  });
  return {
    base: nr.url,
    log: nr.output,
    stop: async () => {
      await nr.stop();
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}
