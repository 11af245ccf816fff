/**
 * whep-in's messages and statuses in a Node-RED runtime (node-red-node-test-helper) against the
 * werift source: a start message that cannot work fails at that message, a stream's status says
 * what is true (connected without audio, why it retries, no secrets), plural texts, and flows
 * from before the renamed settings keep their values.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { getNode, load, startServer, stopServer, unload, until } from '../support/node-red';
import { missingPeer } from '../support/peers';
import { startWhepSource, type WhepSource } from '../peers/whep-source';
import { root } from './support';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const whepIn = require('../../nodes/whep-in/whep-in');

const base = { type: 'whep-in', iceHostAddresses: '127.0.0.1', rate: '16000', channels: '1', chunkMs: 20, maxStreams: 5 };

interface Status {
  fill?: string;
  shape?: string;
  text?: string;
}

/** Errors with the message they were reported for (done(err) → node.error(err, msg)), and statuses. */
function watch(id: string) {
  const errors: Array<{ text: string; msg: Record<string, unknown> | undefined; at: number }> = [];
  const statuses: Status[] = [];
  const n = getNode(id);
  n.on('call:error', (call: { args: unknown[] }) => {
    const e = call.args[0];
    errors.push({ text: e instanceof Error ? e.message : String(e), msg: call.args[1] as Record<string, unknown> | undefined, at: Date.now() });
  });
  n.on('call:status', (call: { args: Status[] }) => statuses.push(call.args[0] ?? {}));
  return { errors, statuses };
}

describe('whep-in: errors at their message, truthful statuses, renamed settings', { skip: missingPeer('espeak-ng', 'sox') }, () => {
  let src: WhepSource;
  before(async () => {
    src = await startWhepSource({ text: 'Counter 3, please.', loop: true });
    await startServer();
  });
  afterEach(async () => {
    await unload();
  });
  after(async () => {
    await stopServer();
    await src.stop();
  });

  const badUrls: Array<[string, string]> = [
    ['notaurl', 'notaurl'],
    ['ftp', 'ftp://127.0.0.1/whep'],
    ['file', 'file:///etc/passwd'],
    ['javascript', 'javascript:alert(1)'],
    ['data', 'data:text/plain,hello'],
    ['1 MB', `http://127.0.0.1/${'a'.repeat(1 << 20)}`],
    ['unclosed IPv6', 'http://[::1'],
    ['bad port', 'http://127.0.0.1:99999/whep'],
  ];

  test('dynamic mode: a start message with a URL that cannot work fails at once, at that message; nothing is sent', async () => {
    await load(whepIn, [{ id: 'w', ...base, mode: 'dynamic', url: '', wires: [[], ['ev']] }, { id: 'ev', type: 'helper' }]);
    const { errors } = watch('w');
    const posts = src.posts;
    const sentAt = Date.now();
    for (const [name, url] of badUrls) getNode('w').receive({ action: 'start', stmId: name, url, marker: name });
    await until(() => errors.length >= badUrls.length, 5000, 'one error per bad start message').catch((e: Error) => {
      throw new Error(`${e.message}; got: ${errors.map((x) => `${String(x.msg?.marker)}: ${x.text.slice(0, 100)}`).join(' | ')}`);
    });
    for (const [name] of badUrls) {
      const e = errors.find((x) => x.msg?.marker === name);
      assert.ok(e, `an error at the message "${name}"`);
      assert.match(e.text, /whep\.badUrl|not a usable WHEP URL/, `${name}: ${e.text}`);
      assert.ok(e.at - sentAt < 1000, `${name}: at once (${e.at - sentAt} ms)`);
      assert.ok(e.text.length < 1000, `${name}: the error does not carry a 1 MB URL`);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(src.posts, posts, 'no offer was sent');
  });

  test('static mode: a URL that cannot work is a red status and an error at deploy, nothing is sent', async () => {
    const posts = src.posts;
    await load(whepIn, [{ id: 'w', ...base, mode: 'static', url: 'ftp://127.0.0.1/whep', stmId: 's', wires: [[], []] }]);
    const w = getNode('w') as unknown as { status: { args: Array<[Status]> }; error: { args: unknown[][] } };
    // set while the node was created, before a listener could be attached: read the spies
    const status = w.status.args.at(-1)![0];
    assert.equal(status.fill, 'red');
    assert.match(String(status.text), /badUrl/);
    assert.ok(w.error.args.some(([e]) => /badUrl|not a usable WHEP URL/.test(e instanceof Error ? e.message : String(e))), 'an error at deploy');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(src.posts, posts, 'no offer was sent');
  });

  test('an stmId that is no string or number is an error at its message; two objects do not collide; a number works', async () => {
    await load(whepIn, [{ id: 'w', ...base, mode: 'dynamic', url: src.url, wires: [['pcm'], []] }, { id: 'pcm', type: 'helper' }]);
    const { errors } = watch('w');
    const pcm: Array<Record<string, unknown>> = [];
    getNode('pcm').on('input', (m: Record<string, unknown>) => pcm.push(m));
    const w = getNode('w');
    w.receive({ action: 'start', stmId: { cam: 1 }, marker: 'o1' });
    w.receive({ action: 'start', stmId: { cam: 2 }, marker: 'o2' });
    w.receive({ action: 'start', stmId: ['a'], marker: 'arr' });
    w.receive({ action: 'start', stmId: true, marker: 'bool' });
    w.receive({ action: 'start', stmId: 7, marker: 'num' });
    await until(() => errors.length >= 4, 5000, 'four errors');
    for (const m of ['o1', 'o2', 'arr', 'bool']) {
      const e = errors.find((x) => x.msg?.marker === m);
      assert.ok(e, `an error at the message ${m}`);
      assert.match(e.text, /badStmId|stmId must be/);
    }
    assert.ok(!errors.some((x) => x.msg?.marker === 'num'), 'a number is a valid stmId');
    await until(() => pcm.some((m) => m.stmId === '7'), 20_000, 'audio of stream "7"');
    assert.ok(!errors.some((x) => /already running/.test(x.text)), 'no collision');
  });

  test('status: "connected, no audio yet" until RTP, then live', async () => {
    const silent = await startWhepSource({ text: 'Counter 4.', absent: 'silent' });
    try {
      await load(whepIn, [{ id: 'w', ...base, mode: 'static', url: silent.url, stmId: 'srs', wires: [[], []] }]);
      const { statuses } = watch('w');
      // (the test runtime has no catalogs: texts are the keys)
      await until(() => statuses.some((s) => /whep-in\.status\.waiting/.test(String(s.text))), 20_000, 'a waiting status');
      const waiting = statuses.find((s) => /waiting/.test(String(s.text)))!;
      assert.notEqual(waiting.fill, 'green', 'not green before audio');
      assert.ok(!statuses.some((s) => /status\.live/.test(String(s.text))), 'not live before audio');
      silent.publish();
      await until(() => statuses.some((s) => /whep-in\.status\.live/.test(String(s.text)) && s.fill === 'green'), 10_000, 'live once audio arrives');
    } finally {
      await unload();
      await silent.stop();
    }
  });

  test('status of one retrying stream: the reason first; no token from the URL in statuses, events or errors', async () => {
    const absent = await startWhepSource({ text: 'Counter 4.', absent: '404' });
    try {
      const url = `${absent.url}?app=live&stream=cam&token=SECRET-TOKEN-123&sign=SIGNED-456`;
      await load(whepIn, [
        { id: 'w', ...base, mode: 'static', url, stmId: 'mtx', wires: [[], ['ev']] },
        { id: 'ev', type: 'helper' },
      ]);
      const { statuses, errors } = watch('w');
      const events: Array<Record<string, unknown>> = [];
      getNode('ev').on('input', (m: Record<string, unknown>) => events.push(m));
      await until(() => statuses.some((s) => /^whep-in\.why\.notFound/.test(String(s.text))), 20_000, 'a status that starts with the reason');
      const texts = JSON.stringify({ statuses, events, errors });
      assert.ok(!/SECRET-TOKEN-123|SIGNED-456/.test(texts), 'no secret in what the user sees');
      const ev = events.find((e) => e.topic === 'whep/reconnecting')!;
      const p = ev.payload as { url: string; error: { message: string } };
      assert.match(p.url, /token=\*\*\*/);
      assert.match(p.url, /stream=cam/, 'other parameters stay readable');
    } finally {
      await unload();
      await absent.stop();
    }
  });

  test('a flow from before the rename (idleMs, retryMaxMs in seconds) keeps its values; the new names win', async () => {
    const short = await startWhepSource({ text: 'Go.' });
    try {
      // idleMs: 1 (second) → idle one second after the audio ends (the default would be five)
      await load(whepIn, [
        { id: 'w-old', ...base, mode: 'static', url: short.url, stmId: 'old', idleMs: 1, retryMaxMs: 2, wires: [['pcm'], ['ev']] },
        { id: 'w-new', ...base, mode: 'static', url: short.url, stmId: 'new', idleS: 1, idleMs: 9, wires: [['pcm'], ['ev']] },
        { id: 'pcm', type: 'helper' },
        { id: 'ev', type: 'helper' },
      ]);
      const pcm: Array<{ stmId: string; at: number }> = [];
      const idle: Array<{ stmId: string; at: number }> = [];
      getNode('pcm').on('input', (m: { stmId: string }) => pcm.push({ stmId: m.stmId, at: Date.now() }));
      getNode('ev').on('input', (m: { topic: string; stmId: string }) => m.topic === 'whep/idle' && idle.push({ stmId: m.stmId, at: Date.now() }));
      await until(() => idle.length >= 2, 20_000, 'both streams idle');
      for (const id of ['old', 'new']) {
        const lastAudio = pcm.filter((m) => m.stmId === id).at(-1)!.at;
        const gap = idle.find((m) => m.stmId === id)!.at - lastAudio;
        assert.ok(gap < 2500, `${id}: idle ${gap} ms after the audio ended (setting 1 s)`);
      }
    } finally {
      await unload();
      await short.stop();
    }
  });
});

test('status texts have plural forms in both languages (Node-RED 4.1 i18next: _one/_other with count)', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { i18n } = require('@node-red/util') as { i18n: { init(s: object): Promise<void>; registerMessageCatalog(ns: string, dir: string, file: string): Promise<void>; i: { changeLanguage(l: string): Promise<unknown> }; _(k: string, o?: object): string } };
  await i18n.init({});
  await i18n.registerMessageCatalog('whep-in', path.join(root, 'dist', 'nodes', 'whep-in', 'locales'), 'whep-in.json');
  await i18n.i.changeLanguage('en-US');
  assert.equal(i18n._('whep-in:whep-in.status.live', { count: 1 }), '1 stream live');
  assert.equal(i18n._('whep-in:whep-in.status.live', { count: 2 }), '2 streams live');
  assert.equal(i18n._('whep-in:whep-in.status.reconnecting', { count: 1 }), '1 stream retrying');
  assert.equal(i18n._('whep-in:whep-in.status.waiting', { count: 3 }), '3 connected, no audio yet');
  await i18n.i.changeLanguage('zh-CN');
  assert.equal(i18n._('whep-in:whep-in.status.live', { count: 1 }), '1 路在线');
  assert.equal(i18n._('whep-in:whep-in.status.live', { count: 2 }), '2 路在线');
  await i18n.i.changeLanguage('en-US');
});
