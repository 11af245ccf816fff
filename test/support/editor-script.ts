/**
 * What the editor runs for a node type: the package's shared editor script (resources/editor.js,
 * which every node's .html loads first) and the .html's own inline scripts, in that order. For
 * tests that run a node's editor code with a stand-in RED.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

export function editorScripts(type: string): string[] {
  const html = readFileSync(join(root, 'nodes', type, `${type}.html`), 'utf8');
  const own = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  return [readFileSync(join(root, 'resources', 'editor.js'), 'utf8'), ...own];
}
