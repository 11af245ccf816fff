/**
 * URL secrets and the flow file, in a real Node-RED 4.1 (its own process, this package linked
 * into its user dir): a flow saved before, with a token and a password in the target URL, keeps
 * working; the editor's migration (the live-audio-ws-target.html script, run here on the flow the
 * editor loads) and one deploy later, flows.json no longer holds them and the connection still
 * carries them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { editorScripts } from '../support/editor-script';
import { WsReceiver } from '../peers/ws-receiver';
import { linkPackage, makeUserDir, startNodeRed, type NodeRedProcess } from '../support/node-red-process';
import { until } from '../support/processes';
import { cleanupAfterFile } from './helpers';

const cleanup = cleanupAfterFile();

/** The editor's migration, as the browser runs it on 'flows:loaded'. */
function editorMigrate(flows: Array<Record<string, any>>): void {
  const code = editorScripts('live-audio-ws-target').join('\n');
  const handlers: Record<string, () => void> = {};
  const RED = {
    events: { on: (n: string, f: () => void) => (handlers[n] = f) },
    nodes: { registerType: () => undefined, eachConfig: (cb: (n: unknown) => void) => flows.filter((n) => !n.z && n.type !== 'tab').forEach(cb), dirty: () => undefined },
    // the definition's validators are built at load (not run here): Node-RED's factories' shape
    validators: { number: () => () => true, regex: () => () => true },
  };
  runInNewContext(code, { RED, $: () => undefined });
  handlers['flows:loaded']();
}

test('flows.json: a token and a password in the target URL move to the credentials on the next deploy, and the connection keeps them', async () => {
  const r = await new WsReceiver().start();
  cleanup(() => r.stop());
  const userDir = makeUserDir();
  linkPackage(userDir);
  const flows = [
    { id: 'tab1', type: 'tab', label: 'secrets' },
    { id: 't1', type: 'live-audio-ws-target', url: `ws://alice:pa55w0rd@127.0.0.1:${r.port}/asr?lang=zh&token=abc123`, mode: 'shared', tlsVerify: true, pingInterval: 15, backoffInitial: 0.1, backoffMax: 1 },
    { id: 'o1', type: 'base64-ws-out', z: 'tab1', target: 't1', chunkSize: 200, chunkUnit: 'ms', frameMode: 'json', queueSeconds: 30, policy: 'drop-oldest', closePolicy: 'flush', x: 200, y: 100, wires: [[], []] },
  ];
  const nr: NodeRedProcess = await startNodeRed({ userDir, flows });
  cleanup(() => nr.stop());
  await until(() => r.connections.length === 1, 30_000, 'the saved flow connects');
  assert.equal(r.connections[0].url, '/asr?lang=zh&token=abc123');
  assert.equal(r.connections[0].headers.authorization, `Basic ${Buffer.from('alice:pa55w0rd').toString('base64')}`);

  // the editor loads the flow, migrates it, and the user deploys
  const loaded = (await (await fetch(`${nr.url}/flows`, { headers: { 'Node-RED-API-Version': 'v2' } })).json()) as { flows: Array<Record<string, any>>; rev: string };
  editorMigrate(loaded.flows);
  const res = await fetch(`${nr.url}/flows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' },
    body: JSON.stringify({ flows: loaded.flows, rev: loaded.rev }),
  });
  assert.equal(res.status, 200, await res.text());
  await until(() => r.connections.length === 2, 30_000, 'reconnected after the deploy');
  assert.equal(r.connections[1].url, '/asr?lang=zh&token=abc123', 'the token still reaches the server');
  assert.equal(r.connections[1].headers.authorization, `Basic ${Buffer.from('alice:pa55w0rd').toString('base64')}`);
  const file = readFileSync(join(userDir, 'flows.json'), 'utf8');
  assert.ok(!file.includes('abc123') && !file.includes('pa55w0rd'), file);
  assert.match(file, /ws:\/\/\*\*\*@127\.0\.0\.1:\d+\/asr\?lang=zh&token=\*\*\*/);
  const creds = readFileSync(join(userDir, 'flows_cred.json'), 'utf8');
  assert.ok(!creds.includes('abc123'), 'credentials file is encrypted');
});
