/**
 * whep-in's messages and statuses in a Node-RED runtime (node-red-node-test-helper) against the
 * werift source: a start message that cannot work fails at that message, a stream's status says
 * what is true (connected without audio, why it retries, no secrets), plural texts, and flows
 * from before the renamed settings keep their values.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { getNode, load, until } from '../support/node-red';
import { missingPeer } from '../support/peers';
import { freePort } from '../support/processes';
import { startWhepSource } from '../peers/whep-source';
import { root } from './support';
import { deployReport, loopbackNode, nodeSuite, watch, whepIn, withSource } from './node-suite';

const base = { ...loopbackNode, maxStreams: 5 };

describe('whep-in: errors at their message, truthful statuses, renamed settings', { skip: missingPeer('espeak-ng', 'sox') }, () => {
  const src = nodeSuite(() => startWhepSource({ text: 'Counter 3, please.', loop: true }), (s) => s.stop());

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
    const posts = src().posts;
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
    assert.equal(src().posts, posts, 'no offer was sent');
  });

  test('static mode: a URL that cannot work is a red status and an error at deploy, nothing is sent', async () => {
    const posts = src().posts;
    await load(whepIn, [{ id: 'w', ...base, mode: 'static', url: 'ftp://127.0.0.1/whep', stmId: 's', wires: [[], []] }]);
    const { status, errors } = deployReport('w');
    assert.equal(status.fill, 'red');
    assert.match(String(status.text), /badUrl/);
    assert.ok(errors.some((e) => /badUrl|not a usable WHEP URL/.test(e)), 'an error at deploy');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(src().posts, posts, 'no offer was sent');
  });

  test('an stmId that is no string or number is an error at its message; two objects do not collide; a number works', async () => {
    await load(whepIn, [{ id: 'w', ...base, mode: 'dynamic', url: src().url, wires: [['pcm'], []] }, { id: 'pcm', type: 'helper' }]);
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
    await withSource({ text: 'Counter 4.', absent: 'silent' }, async (silent) => {
      await load(whepIn, [{ id: 'w', ...base, mode: 'static', url: silent.url, stmId: 'srs', wires: [[], []] }]);
      const { statuses } = watch('w');
      // (the test runtime has no catalogs: texts are the keys)
      await until(() => statuses.some((s) => /whep-in\.status\.waiting/.test(String(s.text))), 20_000, 'a waiting status');
      const waiting = statuses.find((s) => /waiting/.test(String(s.text)))!;
      assert.notEqual(waiting.fill, 'green', 'not green before audio');
      assert.ok(!statuses.some((s) => /status\.live/.test(String(s.text))), 'not live before audio');
      silent.publish();
      await until(() => statuses.some((s) => /whep-in\.status\.live/.test(String(s.text)) && s.fill === 'green'), 10_000, 'live once audio arrives');
    });
  });

  test('status of one retrying stream: the reason first; no token from the URL in statuses, events or errors', async () => {
    await withSource({ text: 'Counter 4.', absent: '404' }, async (absent) => {
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
    });
  });

  test('a flow from before the rename (idleMs, retryMaxMs, in seconds) keeps its values; the new names (idleS, retryMaxS) win', async () => {
    // nothing listens on this loopback port: the retry nodes fail at once, again and again
    const closedPort = await freePort();
    const refused = `http://127.0.0.1:${closedPort}/whep`;
    await withSource({ text: 'Go.' }, async (short) => {
      // 1 s idle and a 2 s largest retry delay (defaults 5 and 5), set under the old names, and
      // under the new names with an old one that says otherwise
      await load(whepIn, [
        { id: 'w-idle-old', ...base, mode: 'static', url: short.url, stmId: 'idle-old', idleMs: 1, wires: [['pcm'], ['ev']] },
        { id: 'w-idle-new', ...base, mode: 'static', url: short.url, stmId: 'idle-new', idleS: 1, idleMs: 9, wires: [['pcm'], ['ev']] },
        { id: 'w-retry-old', ...base, mode: 'static', url: refused, stmId: 'retry-old', retryMaxMs: 2, wires: [[], ['ev']] },
        { id: 'w-retry-new', ...base, mode: 'static', url: refused, stmId: 'retry-new', retryMaxS: 2, retryMaxMs: 9, wires: [[], ['ev']] },
        { id: 'pcm', type: 'helper' },
        { id: 'ev', type: 'helper' },
      ]);
      const pcm: Array<{ stmId: string; at: number }> = [];
      const idle: Array<{ stmId: string; at: number }> = [];
      const retries: Record<string, number[]> = { 'retry-old': [], 'retry-new': [] };
      getNode('pcm').on('input', (m: { stmId: string }) => pcm.push({ stmId: m.stmId, at: Date.now() }));
      getNode('ev').on('input', (m: { topic: string; stmId: string; payload: { retryInMs?: number } }) => {
        if (m.topic === 'whep/idle') idle.push({ stmId: m.stmId, at: Date.now() });
        if (m.topic === 'whep/reconnecting') retries[m.stmId].push(m.payload.retryInMs!);
      });
      await until(() => idle.length >= 2, 20_000, 'both streams idle');
      for (const id of ['idle-old', 'idle-new']) {
        const lastAudio = pcm.filter((m) => m.stmId === id).at(-1)!.at;
        const gap = idle.find((m) => m.stmId === id)!.at - lastAudio;
        assert.ok(gap < 2500, `${id}: idle ${gap} ms after the audio ended (setting 1 s)`);
      }
      // back-off 0.5, 1, 2 s, then 4 s (±20 %) unless the largest delay is 2 s
      await until(() => Object.values(retries).every((r) => r.length >= 4), 20_000, 'four retries of each stream');
      for (const [id, delays] of Object.entries(retries)) {
        assert.ok(delays.every((ms) => ms <= 2000), `${id}: no retry delay over the 2 s setting: ${delays.join(', ')} ms`);
      }
    });
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
