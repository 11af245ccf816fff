/**
 * The child process of changed-internals.test.ts: whep-in in a Node-RED runtime
 * (node-red-node-test-helper) on a werift with renamed internals, streaming from a WHEP source in
 * another process. Prints one JSON line: whether whep-in registered, how many PCM messages came,
 * the werift layer's report and what the node logged and warned (en-US texts).
 *
 *   node changed-werift-child.js <werift copy> <source url>
 */
import fs from 'node:fs';
import path from 'node:path';
import { redirectWerift } from './changed-werift';

const [copy, url] = process.argv.slice(2);
redirectWerift(copy);

const root = path.resolve(__dirname, '..', '..', '..', '..');
const catalog = JSON.parse(fs.readFileSync(path.join(root, 'locales', 'en-US', 'whep-in.json'), 'utf8'));
/** RED._ with the en-US catalog (the test helper's returns the key) */
function translate(key: string, params: Record<string, unknown> = {}): string {
  const text = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], catalog);
  if (typeof text !== 'string') return key;
  return text.replace(/__(\w+)__/g, (_, k: string) => String(params[k]));
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = { registered: false, weriftFile: require.resolve('werift') };
  // required after the redirect: lib/whep and werift load from the changed copy
  let whepIn: (RED: unknown) => void;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    whepIn = require('../../../nodes/whep-in/whep-in');
  } catch (err) {
    out.requireError = (err as Error).stack;
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const red = require('../../support/node-red') as typeof import('../../support/node-red');
  await red.startServer();
  try {
    const withCatalog = (RED: unknown) => whepIn(new Proxy(RED as Record<string, unknown>, { get: (t, k) => (k === '_' ? translate : t[k as string]) }));
    await red.load(withCatalog, [
      { id: 'w', type: 'whep-in', mode: 'static', url, stmId: 'changed', iceHostAddresses: '127.0.0.1', rate: '16000', channels: '1', wires: [['pcm'], []] },
      { id: 'pcm', type: 'helper' },
    ]);
    const w = red.getNode('w');
    out.registered = w.type === 'whep-in';
    const pcm = red.collect('pcm');
    await red.until(() => pcm.length >= 50, 30_000, 'a second of audio').catch((err: Error) => (out.waitError = err.message));
    out.pcm = pcm.length;
    out.pcmBytes = pcm.reduce((n, m) => n + (m.payload as Buffer).length, 0);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    out.report = (require('../../../lib/whep') as typeof import('../../../lib/whep')).installWeriftLayer();
    // the helper spies on every node's log and warn (installed on the prototype)
    const texts = (spy: { args: unknown[][] }) => spy.args.map((a) => String(a[0]));
    out.logs = texts(w.log);
    out.warns = texts(w.warn);
    await red.unload();
  } finally {
    await red.stopServer();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
