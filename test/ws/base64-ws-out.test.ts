/**
 * base64-ws-out and live-audio-ws-target in a real Node-RED 4.1 runtime (node-red-node-test-helper),
 * against real `ws` servers on 127.0.0.1.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, collectErrors, getNode, helper, load, nodeRedMain, startServer, stopServer, unload, until, type NodeModule } from '../support/node-red';
import { WsReceiver } from '../peers/ws-receiver';
import { runInNewContext } from 'node:vm';
import { editorScripts } from '../support/editor-script';
import { mergeUrlSecrets, splitUrlSecrets } from '../../lib/ws/url-secrets';
import { FMT16K, pcmFor } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const outNode = require('../../nodes/base64-ws-out/base64-ws-out') as NodeModule;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const targetNode = require('../../nodes/live-audio-ws-target/live-audio-ws-target') as NodeModule;
/**
 * The test helper's RED._ returns the key; give our nodes the en-US catalog that the build puts
 * next to them (what Node-RED loads), so statuses and errors are checked as users read them.
 */
function withCatalog(mod: NodeModule, type: string, lang = 'en-US'): NodeModule {
  const file = join(__dirname, '..', '..', 'nodes', type, 'locales', lang, `${type}.json`);
  const catalog = JSON.parse(readFileSync(file, 'utf8'));
  const _ = (key: string, params: Record<string, unknown> = {}) => {
    const text = key.split('.').reduce<any>((o, k) => (o && typeof o === 'object' ? o[k] : undefined), catalog);
    return typeof text === 'string' ? text.replace(/__(\w+)__/g, (_m, k) => String(params[k] ?? '')) : key;
  };
  return (RED: unknown) => mod(Object.assign(Object.create(RED as object), { _ }));
}
const nodes = [withCatalog(targetNode, 'live-audio-ws-target'), withCatalog(outNode, 'base64-ws-out')];

const receivers: WsReceiver[] = [];
async function receiver(opts: ConstructorParameters<typeof WsReceiver>[0] = {}): Promise<WsReceiver> {
  const r = await new WsReceiver(opts).start();
  receivers.push(r);
  return r;
}

before(startServer);
afterEach(async () => {
  await unload();
  for (const r of receivers.splice(0)) await r.stop();
});
after(stopServer);

function flow(url: string, target: Record<string, unknown> = {}, out: Record<string, unknown> = {}): unknown[] {
  return [
    { id: 't1', type: 'live-audio-ws-target', url, mode: 'shared', tlsVerify: true, pingInterval: 15, backoffInitial: 0.05, backoffMax: 0.5, ...target },
    { id: 'o1', type: 'base64-ws-out', target: 't1', chunkSize: 200, chunkUnit: 'ms', frameMode: 'json', queueSeconds: 30, policy: 'drop-oldest', closePolicy: 'flush', wires: [['replies'], ['events']], ...out },
    { id: 'replies', type: 'helper' },
    { id: 'events', type: 'helper' },
  ];
}

test('node: seed JSON frames, credentials as headers (never in logs or events), events on output 2, status', async () => {
  const r = await receiver();
  const secret = 'Bearer tok-5ecret-9';
  const apiKey = 'k-api-77';
  const printed: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const ewrite = process.stderr.write.bind(process.stderr);
  (process.stdout as any).write = (c: any, ...a: any[]) => (printed.push(String(c)), write(c, ...a));
  (process.stderr as any).write = (c: any, ...a: any[]) => (printed.push(String(c)), ewrite(c, ...a));
  try {
    await load(nodes, flow(r.url), { t1: { authorization: secret, headers: JSON.stringify([{ name: 'X-Api-Key', value: apiKey }]) } });
    const events = collect('events');
    const statuses: any[] = [];
    getNode('o1').on('call:status', (c: { args: any[] }) => statuses.push(c.args[0]));
    await until(() => events.some((e) => e.topic === 'connected'), 10_000, 'connected event');
    assert.equal(r.connections[0].headers.authorization, secret);
    assert.equal(r.connections[0].headers['x-api-key'], apiKey);
    const o = getNode('o1');
    for (let i = 0; i < 15; i++) o.receive({ payload: pcmFor(0, i * 320, 320), ...FMT16K, stmId: 'n1', traceId: 'tr', timestamp: 1_700_000_000_000 + i * 20 });
    o.receive({ complete: true, stmId: 'n1' });
    await until(() => r.frames.length === 2, 10_000, 'two frames');
    assert.equal(r.frames[0].text, `{"traceId":"tr","stmId":"n1","timestamp":1700000000,"data":"${pcmFor(0, 0, 3200).toString('base64')}"}`);
    assert.deepEqual(r.pcm('n1'), pcmFor(0, 0, 4800));
    // a server restart shows up on output 2 with counters, and in the status
    await r.stop();
    await until(() => statuses.some((s) => s.fill === 'red' && /reconnecting/.test(s.text)), 10_000, 'red status');
    for (let i = 0; i < 10; i++) o.receive({ payload: pcmFor(1, i * 320, 320), ...FMT16K, stmId: 'n2' });
    await until(() => statuses.some((s) => /^reconnecting · queue 0.2 s( · unconfirmed \d+)?$/.test(s.text)), 10_000, 'queue depth in the status');
    await r.start();
    await until(() => events.some((e) => e.topic === 'disconnected') && events.filter((e) => e.topic === 'connected').length === 2, 10_000, 'reconnected');
    await until(() => r.pcm('n2').length === 6400, 10_000, 'queued chunk delivered after reconnecting');
    const dis = events.find((e) => e.topic === 'disconnected')!;
    assert.equal(dis.payload.code, 1012);
    assert.deepEqual(Object.keys(dis.payload.counters).sort(), ['acknowledged', 'confirmed', 'dropped', 'queued', 'reconnects', 'resent', 'sent', 'unconfirmed', 'written']);
    await until(() => statuses.at(-1)?.fill === 'green' && /^connected 1\/1 · queue 0 s( · unconfirmed \d+)?$/.test(statuses.at(-1).text), 10_000, 'status green, queue empty');
    const logged = JSON.stringify(helper.log().args) + printed.join('') + JSON.stringify(events);
    assert.ok(!logged.includes('5ecret') && !logged.includes(apiKey), 'no secret in logs, output or events');
  } finally {
    (process.stdout as any).write = write;
    (process.stderr as any).write = ewrite;
  }
});

test('node: per-stream connections with {{stmId}} in the URL; replies on output 1 carry stmId/traceId', async () => {
  const r = await receiver({ reply: (f) => (f.json ? JSON.stringify({ result: 'ok', n: Buffer.from(f.json.data, 'base64').length }) : undefined) });
  await load(nodes, flow(`${r.url}/asr?sid={{stmId}}`, { mode: 'per-stream' }));
  const replies = collect('replies');
  const o = getNode('o1');
  for (const id of ['a', 'b']) o.receive({ payload: pcmFor(id === 'a' ? 0 : 1, 0, 3200), ...FMT16K, stmId: id, traceId: `T-${id}` });
  await until(() => replies.length === 2, 10_000, 'two replies');
  assert.deepEqual(replies.map((m) => [m.stmId, m.traceId, m.payload]).sort(), [
    ['a', 'T-a', { result: 'ok', n: 6400 }],
    ['b', 'T-b', { result: 'ok', n: 6400 }],
  ]);
  assert.deepEqual(r.connections.map((c) => c.url).sort(), ['/asr?sid=a', '/asr?sid=b']);
});

test('node: per-stream: a final reply the server sends 0.3 s after the end frame reaches output 1; the connection is closed after "Wait for close" (1 s) as the server keeps it open', async () => {
  const r = await receiver({
    reply: (f, ws) => {
      if (f.json?.end === true) setTimeout(() => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ final: true, text: 'done' })), 300);
      return undefined;
    },
  });
  await load(nodes, flow(`${r.url}/asr?sid={{stmId}}`, { mode: 'per-stream', linger: 1 }, { endFrame: '{"stmId":"{{stmId}}","end":true}' }));
  const replies = collect('replies');
  const o = getNode('o1');
  o.receive({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'fin', traceId: 'T-fin' });
  o.receive({ complete: true, stmId: 'fin' });
  const t0 = Date.now();
  await until(() => replies.length === 1, 10_000, 'the final reply');
  assert.deepEqual([replies[0].stmId, replies[0].traceId, replies[0].payload], ['fin', 'T-fin', { final: true, text: 'done' }]);
  await until(() => r.connections.length === 1 && (r as any).sockets.size === 0, 10_000, 'closed by us');
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 5000, `closed ${took} ms after complete`);
});

test('node: bad input reaches Catch through done(err), the node keeps streaming', async () => {
  const r = await receiver();
  await load(nodes, flow(r.url));
  const errors = collectErrors('o1');
  const o = getNode('o1');
  o.receive({ payload: pcmFor(0, 0, 1600), ...FMT16K, stmId: 'x' });
  o.receive({ payload: Buffer.alloc(5), ...FMT16K, stmId: 'x' });
  o.receive({ payload: 'hello', stmId: 'x' });
  o.receive({ payload: pcmFor(0, 1600, 1600), ...FMT16K, stmId: 'x' });
  await until(() => errors.length === 2 && r.frames.length === 1, 10_000, 'two errors, one frame');
  assert.match(errors[0], /payload has 5 bytes, not a whole number of 1-channel 16-bit frames/);
  assert.match(errors[1], /payload is string, not a Buffer/);
  assert.deepEqual(r.pcm('x'), pcmFor(0, 0, 3200));
});

test('node: redeploy flushes the partial chunk and closes every socket within the close timeout', async () => {
  const r = await receiver();
  await load(nodes, flow(`${r.url}/s?sid={{stmId}}`, { mode: 'per-stream' }));
  const o = getNode('o1');
  for (let i = 0; i < 3; i++) o.receive({ payload: pcmFor(i, 0, 1000), ...FMT16K, stmId: `c${i}` });
  await until(() => r.connections.length === 3, 10_000, 'three connections');
  const t0 = Date.now();
  await unload();
  assert.ok(Date.now() - t0 < 15_000);
  await until(() => r.frames.length === 3 && (r as any).sockets.size === 0, 10_000, 'flushed and closed');
  for (let i = 0; i < 3; i++) assert.deepEqual(r.pcm(`c${i}`), pcmFor(i, 0, 1000));
});

test('node: renamed/omitted fields and extra fields (fixed values and msg properties)', async () => {
  const r = await receiver();
  const extras = [
    { name: 'lang', type: 'msg', value: 'asr["lang"]' },
    { name: 'format', type: 'str', value: 'pcm' },
    { name: 'rate', type: 'num', value: '16000' },
  ];
  await load(nodes, flow(r.url, {}, { fieldTraceId: '', fieldData: 'audio', extras, endFrame: '{"session":"{{stmId}}","eof":true}' }));
  const o = getNode('o1');
  o.receive({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'e', traceId: 'x', timestamp: 1_700_000_000_500, asr: { lang: 'zh-CN' } });
  o.receive({ complete: true, stmId: 'e' });
  await until(() => r.frames.length === 2, 10_000, 'frame and end frame');
  assert.equal(r.frames[0].text, `{"stmId":"e","timestamp":1700000000.5,"audio":"${pcmFor(0, 0, 3200).toString('base64')}","lang":"zh-CN","format":"pcm","rate":16000}`);
  assert.equal(r.frames[1].text, '{"session":"e","eof":true}');
});

test('node: a server that is not there: translated warning once, error events on output 2, red status', async () => {
  const r = await receiver();
  const port = r.port;
  await r.stop();
  await load(nodes, flow(`ws://127.0.0.1:${port}/gone`));
  const events = collect('events');
  const o = getNode('o1');
  await until(() => events.filter((e) => e.topic === 'error').length >= 3, 10_000, 'three failed attempts');
  assert.match(events[0].payload.error, /ECONNREFUSED/);
  assert.ok(events.some((e) => e.topic === 'reconnecting' && e.payload.delayMs >= 0));
  assert.equal(o.warn.getCalls().filter((c: any) => c.thisValue === o).length, 1, 'one warning for the same failure');
  assert.match(String(o.warn.firstCall.args[0]), new RegExp(`^WebSocket ws://127.0.0.1:${port}/gone: .*ECONNREFUSED`));
});

test('node: a bad end-frame template is a configuration error shown in the status', async () => {
  const r = await receiver();
  await load(nodes, flow(r.url, {}, { endFrame: '{oops' }));
  const o = getNode('o1');
  const errors = collectErrors('o1');
  await until(() => errors.length === 1, 5000, 'config error reported');
  assert.match(errors[0], /end-of-stream frame is not valid JSON/);
  o.receive({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'q' });
  await until(() => errors.length === 2, 5000, 'input refused with the same error');
  assert.match(errors[1], /end-of-stream frame is not valid JSON/);
});

/** What a node did by itself (the helper's spies are shared by all nodes): its calls of `method`. */
function own(id: string, method: 'status' | 'error'): any[] {
  const n = getNode(id);
  return n[method].getCalls().filter((c: any) => c.thisValue === n).map((c: any) => c.args[0]);
}

test('node: a chunk size that is not a number is refused at deploy (translated, red status, done(err) for every message), not sent as 200 ms chunks', async () => {
  const r = await receiver();
  await load(nodes, flow(r.url, {}, { chunkSize: '20O' }));
  const o = getNode('o1');
  await until(() => own('o1', 'error').length === 1, 5000, 'config error reported at deploy');
  const text = 'property chunkSize is "20O": expected a whole number from 1 to 3600000 (leave it blank for the default)';
  assert.equal(own('o1', 'error')[0].message, text);
  assert.deepEqual(own('o1', 'status').at(-1), { fill: 'red', shape: 'ring', text: 'bad configuration' });
  o.receive({ payload: pcmFor(0, 0, 6400), ...FMT16K, stmId: 'q' });
  o.receive({ complete: true, stmId: 'q' });
  // done(err) reaches Catch nodes as node.error(err, msg): the same error, once per message
  await until(() => own('o1', 'error').length === 3, 5000, 'both messages refused');
  assert.deepEqual(own('o1', 'error').map((e) => e.message), [text, text, text]);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(r.frames.length, 0, 'nothing sent');
});

test('node: zh-CN users read the refusal in Chinese', async () => {
  const r = await receiver();
  await load([withCatalog(targetNode, 'live-audio-ws-target', 'zh-CN'), withCatalog(outNode, 'base64-ws-out', 'zh-CN')], flow(r.url, {}, { queueSeconds: '-1' }));
  await until(() => own('o1', 'error').length === 1, 5000, 'config error reported at deploy');
  assert.equal(own('o1', 'error')[0].message, '属性 queueSeconds 的值 "-1" 无效：应为 0.001 到 3600 之间的数字（留空则使用默认值）');
  assert.deepEqual(own('o1', 'status').at(-1), { fill: 'red', shape: 'ring', text: '配置错误' });
});

test('node: a target with a bad number logs it once, and every node using it refuses with that error', async () => {
  const r = await receiver();
  await load(nodes, flow(r.url, { connectTimeout: 'ten' }));
  const o = getNode('o1');
  const text = 'property connectTimeout is "ten": expected a number from 0.001 to 300 (leave it blank for the default)';
  await until(() => own('t1', 'error').length === 1 && own('o1', 'error').length === 1, 5000, 'errors at deploy');
  assert.equal(own('t1', 'error')[0].message, text);
  assert.equal(own('o1', 'error')[0].message, text);
  assert.deepEqual(own('o1', 'status').at(-1), { fill: 'red', shape: 'ring', text: 'bad configuration' });
  o.receive({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'q' });
  await until(() => own('o1', 'error').length === 2, 5000, 'message refused');
  assert.equal(own('o1', 'error')[1].message, text);
  assert.equal(own('t1', 'error').length, 1, 'the target logs it once');
  assert.equal(r.connections.length, 0, 'no connection for a target that cannot run');
});

test('node: blank numbers (flows saved before the property existed) are the defaults', async () => {
  const r = await receiver();
  await load(nodes, flow(r.url, { connectTimeout: '', maxReply: undefined }, { chunkSize: '', queueSeconds: undefined }));
  const o = getNode('o1');
  o.receive({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'd' });
  await until(() => r.frames.length === 1, 10_000, 'one 200 ms frame');
  assert.equal(Buffer.from(r.frames[0].json.data, 'base64').length, 6400, '200 ms of 16 kHz mono');
  assert.equal(own('o1', 'error').length + own('t1', 'error').length, 0);
});

// the importable examples deploy with core nodes only and deliver audio to a receiver
const core = ['common/20-inject', 'common/21-debug', 'common/90-comment', 'common/25-catch', 'function/10-function', 'function/10-switch', 'function/15-change'].map(
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (p) => require(require.resolve(`@node-red/nodes/core/${p}.js`, { paths: [nodeRedMain] })) as NodeModule,
);
for (const name of ['base64-ws-out-asr', 'base64-ws-out-per-stream', 'base64-ws-out-ack']) {
  test(`example ${name}.json deploys without errors and streams to a receiver`, async () => {
    const r = await receiver({ reply: () => JSON.stringify({ text: '你好' }) });
    const file = join(__dirname, '..', '..', '..', 'examples', `${name}.json`);
    const ex = JSON.parse(readFileSync(file, 'utf8')) as Array<Record<string, any>>;
    for (const n of ex) if (n.type === 'live-audio-ws-target') n.url = String(n.url).replace(/^ws:\/\/127\.0\.0\.1:8080/, r.url);
    await load([...core, ...nodes], ex);
    const ours = ex.filter((n) => n.type === 'base64-ws-out').map((n) => getNode(n.id));
    assert.ok(ours.length > 0);
    await until(() => r.frames.length >= 3, 15_000, 'frames from the example');
    for (const n of ours) assert.equal(n.error.called, false, `no error on ${n.id}`);
    if (name === 'base64-ws-out-ack') assert.deepEqual(r.frames.slice(0, 3).map((f) => f.json.seq), [0, 1, 2], 'ack mode: frames carry seq');
  });
}

test('example base64-ws-out-per-stream.json: with the server down, overflowing streams are stopped at their source', async () => {
  const r = await receiver();
  const port = r.port;
  await r.stop();
  const ex = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'base64-ws-out-per-stream.json'), 'utf8')) as Array<Record<string, any>>;
  for (const n of ex) if (n.type === 'live-audio-ws-target') n.url = String(n.url).replace(/^ws:\/\/127\.0\.0\.1:8080/, `ws://127.0.0.1:${port}`);
  for (const n of ex) if (n.type === 'base64-ws-out') n.queueSeconds = 1; // overflow after 1 s of audio, not 5
  await load([...core, ...nodes], ex);
  const fn = getNode('x-per');
  // the function node answers each stopped event with {stmId, complete: true} back into base64-ws-out
  // (the helper's spies sit on the Node prototype: keep the calls made by this node)
  const own = (spy: any, node: unknown) => spy.getCalls().filter((c: any) => c.thisValue === node);
  const stoppedIds = () => own(fn.send, fn).map((c: any) => [c.args[0]].flat(3)[0]?.stmId).sort();
  await until(() => own(fn.send, fn).length === 2, 20_000, 'both streams stopped');
  assert.deepEqual(stoppedIds(), ['counter-1', 'counter-2']);
  const o = getNode('o-per');
  const dropped = () => own(o.send, o).filter((c: any) => c.args[0]?.[1]?.topic === 'dropped').length;
  const before = dropped();
  await new Promise((res) => setTimeout(res, 1000));
  assert.equal(dropped(), before, 'no more audio once the sources are stopped');
});

test('node: a token and a password written into the URL of a flow saved before still work (moved to credentials by the editor later)', async () => {
  const r = await receiver();
  await load(nodes, flow(`ws://alice:pa55w0rd@127.0.0.1:${r.port}/asr?lang=zh&token=abc123`));
  const events = collect('events');
  await until(() => r.connections.length === 1, 10_000, 'connected');
  assert.equal(r.connections[0].url, '/asr?lang=zh&token=abc123');
  assert.equal(r.connections[0].headers.authorization, `Basic ${Buffer.from('alice:pa55w0rd').toString('base64')}`);
  await until(() => events.some((e) => e.topic === 'connected'), 10_000, 'connected event');
  assert.ok(!JSON.stringify(events).includes('abc123') && !JSON.stringify(events).includes('pa55w0rd'));
});

test('node: URL secrets from the credentials (the flow holds ***): the same connection, nothing secret in the flow', async () => {
  const r = await receiver();
  const original = `ws://alice:pa55w0rd@127.0.0.1:${r.port}/asr?sid={{stmId}}&token=abc123&sign=s%2B1`;
  const { url, secrets } = splitUrlSecrets(original);
  assert.equal(url, `ws://***@127.0.0.1:${r.port}/asr?sid={{stmId}}&token=***&sign=***`);
  assert.equal(mergeUrlSecrets(url, secrets), original);
  await load(nodes, flow(url, { mode: 'per-stream' }), { t1: { urlSecrets: JSON.stringify(secrets) } });
  getNode('o1').receive({ payload: pcmFor(0, 0, 3200), ...FMT16K, stmId: 'u1' });
  await until(() => r.frames.length === 1, 10_000, 'a frame');
  assert.equal(r.connections[0].url, '/asr?sid=u1&token=abc123&sign=s%2B1');
  assert.equal(r.connections[0].headers.authorization, `Basic ${Buffer.from('alice:pa55w0rd').toString('base64')}`);
});

test('editor: flows saved before have their URL secrets moved to credentials on load (the next deploy saves a flow without them)', () => {
  const code = editorScripts('live-audio-ws-target').join('\n');
  const handlers: Record<string, (...a: unknown[]) => void> = {};
  const configs: Array<Record<string, any>> = [
    { id: 'a', type: 'live-audio-ws-target', url: 'wss://u:p%40ss@asr.example/v1?appkey=K1&lang=en&access_token=T2' },
    { id: 'b', type: 'live-audio-ws-target', url: 'ws://127.0.0.1:8080/asr?lang=en' },
  ];
  let dirty = false;
  const RED = {
    events: { on: (n: string, f: (...a: unknown[]) => void) => (handlers[n] = f) },
    nodes: { registerType: () => undefined, eachConfig: (cb: (n: unknown) => void) => configs.forEach(cb), dirty: (d: boolean) => (dirty = d) },
    // the definition's validators are built at load (not run here): Node-RED's factories' shape
    validators: { number: () => () => true, regex: () => () => true },
  };
  runInNewContext(code, { RED, $: () => undefined });
  handlers['flows:loaded']();
  assert.equal(configs[0].url, 'wss://***@asr.example/v1?appkey=***&lang=en&access_token=***');
  assert.ok(configs[0].changed && dirty, 'marked changed: the next deploy sends it');
  const stored = JSON.parse(configs[0].credentials.urlSecrets);
  assert.equal(mergeUrlSecrets(configs[0].url, stored), 'wss://u:p%40ss@asr.example/v1?appkey=K1&lang=en&access_token=T2');
  assert.equal(configs[1].url, 'ws://127.0.0.1:8080/asr?lang=en', 'no secret: untouched');
  assert.equal(configs[1].changed, undefined);
  // the flow as the editor exports it (everything but credentials) holds no secret
  const exported = JSON.stringify(configs.map(({ credentials: _c, ...n }) => n));
  assert.ok(!/K1|T2|p%40ss/.test(exported), exported);
});

test('node: ack mode: frames carry seq, the reply field acknowledges them, counters say so', async () => {
  const r = await receiver({ reply: (f) => (f.json?.data ? JSON.stringify({ stmId: f.json.stmId, done: f.json.seq }) : undefined) });
  await load(nodes, flow(r.url, {}, { ack: true, ackField: 'done', ackBy: 'seq' }));
  const events = collect('events');
  const o = getNode('o1');
  for (let i = 0; i < 3; i++) o.receive({ payload: pcmFor(0, i * 3200, 3200), ...FMT16K, stmId: 'k', timestamp: 1_700_000_000_000 + i * 200 });
  await until(() => r.frames.length === 3, 10_000, 'three frames');
  assert.deepEqual(r.frames.map((f) => f.json.seq), [0, 1, 2]);
  await r.stop();
  await until(() => events.some((e) => e.topic === 'disconnected'), 10_000, 'disconnected');
  const c = events.find((e) => e.topic === 'disconnected')!.payload.counters;
  assert.equal(c.acknowledged, 3);
  assert.equal(c.unconfirmed, 0);
});

test('node: a server that accepts and closes at once (rejected token) gets one warning with its close code and reason, and growing delays', async () => {
  const { WebSocketServer } = await import('ws');
  const { createServer } = await import('node:http');
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  let conns = 0;
  wss.on('connection', (ws) => {
    conns++;
    ws.close(4001, 'invalid token');
  });
  await new Promise<void>((res) => http.listen(0, '127.0.0.1', () => res()));
  try {
    const port = (http.address() as import('node:net').AddressInfo).port;
    await load(nodes, flow(`ws://127.0.0.1:${port}/asr?token=t0ps3cret`, { backoffInitial: 0.05, backoffMax: 30 }));
    const o = getNode('o1');
    await until(() => o.warn.getCalls().some((c: any) => /keeps closing/.test(String(c.args[0]))), 10_000, 'the warning');
    const warned = o.warn.getCalls().map((c: any) => String(c.args[0])).filter((t: string) => /keeps closing/.test(t));
    assert.equal(warned.length, 1);
    assert.match(warned[0], /code 4001, reason "invalid token"/);
    assert.ok(!warned[0].includes('t0ps3cret'), warned[0]);
    const at = conns;
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(conns - at <= 2, `${conns - at} more connections in the next second`);
  } finally {
    for (const c of wss.clients) c.terminate();
    wss.close();
    await new Promise<void>((res) => http.close(() => res()));
  }
});
