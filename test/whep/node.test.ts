/**
 * The whep-in node in a Node-RED runtime (node-red-node-test-helper) against the werift source:
 * static and dynamic modes, the events output, errors Catch nodes see, and a redeploy that
 * releases everything and DELETEs every session.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { collect, collectErrors, coreNodesDir, getNode, load, unload, until } from '../support/node-red';
import { startWhepSource } from '../peers/whep-source';
import { startSourceProcess } from './support';
import { deployReport, loopbackNode, nodeSuite, watch, whepIn } from './node-suite';

// the settings under their current names (flows from before the rename: input.test.ts)
const base = { ...loopbackNode, idleS: 5, pollS: 1, retryMaxS: 2, maxStreams: 3 };

describe('whep-in node', () => {
  const src = nodeSuite(() => startWhepSource({ text: 'Counter 3, please.', loop: true }), (s) => s.stop());

  test('static mode: one stream from the URL on deploy, PCM on output 1, events on output 2, DELETE on redeploy', async () => {
    await load(whepIn, [
      { id: 'w', ...base, mode: 'static', url: src().url, stmId: 'lobby', traceId: 'tr-1', wires: [['pcm'], ['ev']] },
      { id: 'pcm', type: 'helper' },
      { id: 'ev', type: 'helper' },
    ], { w: { token: 'secret-token' } });
    const pcm = collect('pcm');
    const ev = collect('ev');
    await until(() => pcm.length >= 25, 20_000, 'half a second of audio');
    const m = pcm[0];
    assert.ok(Buffer.isBuffer(m.payload) && m.payload.length === 640);
    assert.deepEqual([m.rate, m.channels, m.bits, m.encoding, m.endianness, m.stmId, m.traceId, m.seq], [16000, 1, 16, 'signed-integer', 'little', 'lobby', 'tr-1', 0]);
    assert.equal(typeof m.timestamp, 'number');
    assert.equal(src().authorizations.at(-1), 'Bearer secret-token');
    const connected = ev.find((e) => e.topic === 'whep/connected')!;
    assert.equal(connected.stmId, 'lobby');
    assert.equal(connected.traceId, 'tr-1');
    assert.equal(typeof connected.payload.stats.packetsReceived, 'number');
    const deletes = src().deletes.length;
    await unload();
    assert.equal(src().deletes.length, deletes + 1, 'redeploy DELETEs the session');
    // (messages sent while the flow stops are not delivered by Node-RED: `complete` is checked in the dynamic test)
  });

  test('dynamic mode: start and stop streams by message; the cap and bad requests are errors Catch sees', async () => {
    await load(whepIn, [
      { id: 'w', ...base, mode: 'dynamic', url: '', wires: [['pcm'], ['ev']] },
      { id: 'pcm', type: 'helper' },
      { id: 'ev', type: 'helper' },
    ]);
    const pcm = collect('pcm');
    const ev = collect('ev');
    const errors = collectErrors('w');
    const w = getNode('w');
    w.receive({ action: 'start', url: src().url, stmId: 'a', traceId: 'ta' });
    w.receive({ payload: { action: 'start', url: src().url, stmId: 'b' } });
    w.receive({ topic: 'c', url: src().url }); // action defaults to start, topic names the stream
    w.receive({ action: 'start', url: src().url, stmId: 'd' });
    w.receive({ action: 'start', url: src().url }); // no stmId
    w.receive({ action: 'pause', stmId: 'a' });
    await until(() => ['a', 'b', 'c'].every((id) => pcm.filter((m) => m.stmId === id).length >= 10), 20_000, 'audio on a, b and c');
    await until(() => errors.length >= 3, 5000, 'three errors');
    assert.ok(errors.some((e) => /3 streams are already running/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /needs msg.stmId/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /unknown action "pause"/.test(e)), errors.join('\n'));
    assert.ok(pcm.filter((m) => m.stmId === 'a').every((m) => m.traceId === 'ta'));
    w.receive({ action: 'stop', stmId: 'b' });
    await until(() => pcm.some((m) => m.stmId === 'b' && m.complete), 10_000, 'b to complete');
    await until(() => ev.some((e) => e.topic === 'whep/stopped' && e.stmId === 'b'), 5000, 'stopped event of b');
    w.receive({ action: 'stop', stmId: 'nope' });
    await until(() => errors.some((e) => /no stream "nope"/.test(e)), 5000, 'error for an unknown stream');
    w.receive({ action: 'stop' }); // every stream
    await until(() => pcm.some((m) => m.stmId === 'a' && m.complete) && pcm.some((m) => m.stmId === 'c' && m.complete), 10_000, 'a and c to complete');
  });

  test('status: a summary of the streams, and the reason while a single stream waits to retry', async () => {
    src().faults.notFound = 1;
    await load(whepIn, [{ id: 'w', ...base, mode: 'static', url: src().url, stmId: 'st', wires: [[], []] }]);
    const { statuses } = watch('w');
    const texts = () => statuses.map((s) => String(s.text));
    // (the test runtime has no catalogs: texts are the keys, e.g. whep-in.status.live)
    await until(() => texts().some((t) => /live/.test(t)), 20_000, 'a live status');
    assert.ok(texts().some((t) => /^whep-in\.why\.notFound/.test(t)), `a status naming the 404 first: ${texts().join(' | ')}`);
  });

  // settings no stream can run with: refused at deploy as any bad configuration is
  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an output rate Opus cannot decode to', { rate: '44100' }, /44100 Hz is not possible/],
    ['a setting that is no number', { chunkMs: '2O' }, /chunkMs is "2O"/],
    ['a setting out of its range', { retryMaxS: '0.5' }, /retryMaxS is "0\.5"/],
  ];
  for (const [what, setting, named] of refused) {
    test(`${what} is a config error at deploy (red status, an error naming it); every start is refused with it, nothing is sent`, async () => {
      const posts = src().posts;
      await load(whepIn, [{ id: 'w', ...base, ...setting, mode: 'static', url: src().url, stmId: 'r', wires: [[], []] }]);
      const deployed = deployReport('w');
      assert.equal(deployed.status.fill, 'red');
      assert.match(String(deployed.status.text), /shared\.badConfig/);
      assert.ok(deployed.errors.some((e) => named.test(e)), `an error at deploy naming it: ${deployed.errors.join(' | ')}`);
      const errors = collectErrors('w');
      getNode('w').receive({ action: 'start', url: src().url, stmId: 'r2' });
      await until(() => errors.length >= 1, 5000, 'the start refused');
      assert.match(errors[0], named);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(src().posts, posts, 'no offer was sent');
    });
  }

  for (const file of ['whep-in-static.json', 'whep-in-dynamic.json']) {
    test(`example ${file} deploys without errors and uses only core nodes and ours`, async () => {
      // the example's own tab is left out: the helper runs the nodes in its global flow (below)
      const flow = (JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'examples', file), 'utf8')) as Array<Record<string, unknown>>).filter((n) => n.type !== 'tab');
      const core: Record<string, string> = { inject: '20-inject', debug: '21-debug', comment: '90-comment', catch: '25-catch' };
      assert.ok(flow.every((n) => n.type === 'whep-in' || String(n.type) in core), 'only core nodes and whep-in');
      // this test talks to loopback only: the example's server (127.0.0.1:1985) is absent, so the node retries
      for (const n of flow) {
        // the helper runs them in the global flow, where Node-RED ignores nodes that have a
        // position but no tab
        delete n.z;
        delete n.x;
        delete n.y;
        if (n.type === 'whep-in') n.iceHostAddresses = '127.0.0.1';
      }
      const red = coreNodesDir;
      const mods = [whepIn, ...[...new Set(flow.map((n) => n.type as string))].filter((t) => t in core).map((t) => require(path.join(red, 'core', 'common', `${core[t]}.js`)))];
      await load(mods, flow);
      const w = flow.find((n) => n.type === 'whep-in')!;
      const errors = collectErrors(w.id as string);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(errors, []);
    });
  }
});

// Its own describe, after the one above has stopped its in-process source: what is left in this
// process is the test runtime and whep-in alone (the source runs in a process of its own).
describe('whep-in node: redeploy', () => {
  const src = nodeSuite(() => startSourceProcess(['--loop']), (s) => s.kill());

  test('redeploy with streams running releases every socket and timer', async () => {
    // what keeps the event loop alive, by type (sockets, timers, immediates…), counted
    const resources = () => {
      const n = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) n.set(r, (n.get(r) ?? 0) + 1);
      return n;
    };
    const before = resources();
    const leftOver = () => [...resources()].filter(([type, n]) => n > (before.get(type) ?? 0)).map(([type, n]) => `${type} ${before.get(type) ?? 0} → ${n}`);
    await load(whepIn, [
      { id: 'w', ...base, mode: 'dynamic', url: '', wires: [['pcm'], []] },
      { id: 'pcm', type: 'helper' },
    ]);
    const pcm = collect('pcm');
    const w = getNode('w');
    for (const id of ['x', 'y', 'z']) w.receive({ action: 'start', url: src().url, stmId: id });
    await until(() => ['x', 'y', 'z'].every((id) => pcm.filter((m) => m.stmId === id).length >= 5), 20_000, 'three streams live');
    const during = resources();
    assert.ok((during.get('UDPWrap') ?? 0) >= (before.get('UDPWrap') ?? 0) + 3, `a UDP socket per stream: ${[...during].join(', ')}`);
    assert.ok((during.get('Timeout') ?? 0) > (before.get('Timeout') ?? 0), 'timers while streaming');
    const t = Date.now();
    await unload();
    assert.ok(Date.now() - t < 15_000, 'closed within the close timeout');
    // transient ones (a closing socket's last callback) may take a moment; anything left is a leak
    await until(() => leftOver().length === 0, 10_000, 'every resource released').catch(() => assert.fail(`left after redeploy: ${leftOver().join(', ')}`));
  });
});
