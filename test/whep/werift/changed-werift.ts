/**
 * A werift with renamed internals, for the changed-internals test: a copy of the installed
 * werift in a temporary folder with identifiers renamed consistently through all of its code
 * (werift itself still works, as a werift release that renamed them would), and the redirect a
 * child process uses so that every `require('werift')` (ours and werift's own) loads the copy.
 */
import fs from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');

/** The installed werift's package folder. */
export function weriftRoot(): string {
  let dir = path.dirname(require.resolve('werift'));
  while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== 'werift') {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('werift package.json not found');
    dir = up;
  }
  return dir;
}

function jsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? (e.name === 'node_modules' ? [] : jsFiles(p)) : e.name.endsWith('.js') ? [p] : [];
  });
}

/** Copies werift and renames each `from` identifier to `to` in all its JS; counts the replacements per name. */
export function changedWerift(renames: Record<string, string>): { dir: string; replaced: Record<string, number>; remove(): void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'werift-changed-'));
  const dir = path.join(base, 'node_modules', 'werift');
  fs.cpSync(weriftRoot(), dir, { recursive: true });
  const replaced: Record<string, number> = Object.fromEntries(Object.keys(renames).map((k) => [k, 0]));
  for (const file of jsFiles(path.join(dir, 'lib'))) {
    let src = fs.readFileSync(file, 'utf8');
    let changed = false;
    for (const [from, to] of Object.entries(renames)) {
      src = src.replace(new RegExp(`\\b${from}\\b`, 'g'), () => {
        replaced[from]++;
        changed = true;
        return to;
      });
    }
    if (changed) fs.writeFileSync(file, src);
  }
  return { dir, replaced, remove: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/**
 * In this process, from now on: every module file of the installed werift resolves to the same
 * file in `copy`; werift's hoisted dependencies are still found in this checkout's node_modules.
 */
export function redirectWerift(copy: string): void {
  const original = weriftRoot() + path.sep;
  const M = Module as unknown as { _resolveFilename: (...a: unknown[]) => string; _initPaths: () => void };
  const resolve = M._resolveFilename;
  M._resolveFilename = function (this: unknown, ...a: unknown[]) {
    const file = resolve.apply(this, a);
    return file.startsWith(original) ? path.join(copy, file.slice(original.length)) : file;
  };
  process.env.NODE_PATH = path.join(repoRoot, 'node_modules');
  M._initPaths();
}
