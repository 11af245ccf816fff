/**
 * The stream-lease node in a Node-RED runtime (node-red-node-test-helper) with a real Mosquitto:
 * requests from the broker become whep-in start/stop messages, whep-in's events become retained
 * state, bad input and bad settings are errors a user can act on, a redeploy leaves the cluster.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { collect, collectErrors, getNode, helper, load, startServer, stopServer, unload, until } from '../support/node-red';
import { missingPeer } from '../support/peers';
import { startBroker, type Broker } from './support';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const streamLease = require('../../nodes/stream-lease/stream-lease');

describe('stream-lease node', { skip: missingPeer('mosquitto') }, () => {
  let broker: Broker;
  let client: MqttClient;
  const seen = new Map<string, string>();
  before(async () => {
    broker = await startBroker(120_000);
    await startServer();
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    client.on('message', (t, p) => seen.set(t, p.toString()));
    await client.subscribeAsync('#', { qos: 1 });
  });
  afterEach(async () => {
    await unload();
  });
  after(async () => {
    await client?.endAsync(true);
    await stopServer();
    await broker?.stop();
  });

  test('a start request becomes a whep-in start; its events become retained state; a stop request stops it', async () => {
    await load(streamLease, [
      { id: 'l', type: 'stream-lease', broker: broker.url, prefix: 'n', workerId: 'node-w', maxStreams: 5, leaseS: 15, takeoverS: 2, wires: [['whep'], ['ev']] },
      { id: 'whep', type: 'helper' },
      { id: 'ev', type: 'helper' },
    ]);
    const toWhep = collect('whep');
    await until(() => seen.get('n/worker/node-w') !== undefined && seen.get('n/worker/node-w') !== '', 10_000, 'the worker record');
    await client.publishAsync('n/request', JSON.stringify({ action: 'start', stmId: 'a/b#1', url: 'http://127.0.0.1:9/whep', traceId: 't1', token: 'tk' }), { qos: 1 });
    await until(() => toWhep.length === 1, 5000, 'a start for whep-in');
    assert.deepEqual({ ...toWhep[0], _msgid: undefined }, { _msgid: undefined, action: 'start', stmId: 'a/b#1', url: 'http://127.0.0.1:9/whep', traceId: 't1', token: 'tk', topic: 'a/b#1', workerId: 'node-w', epoch: 1, takeover: false });
    // an stmId with / and # is one topic level
    await until(() => !!seen.get('n/stream/a%2Fb%231'), 5000, 'the claim');
    getNode('l').receive({ topic: 'whep/connected', stmId: 'a/b#1', payload: { event: 'connected', stmId: 'a/b#1', state: 'live', stats: { chunks: 3 } } });
    await until(() => /"live"/.test(seen.get('n/stream/a%2Fb%231/state') ?? ''), 5000, 'the state');
    assert.deepEqual(JSON.parse(seen.get('n/stream/a%2Fb%231/state')!).stats, { chunks: 3 });
    await client.publishAsync('n/request', JSON.stringify({ action: 'stop', stmId: 'a/b#1' }), { qos: 1 });
    await until(() => toWhep.length === 2, 5000, 'a stop for whep-in');
    assert.equal(toWhep[1].action, 'stop');
    assert.equal(toWhep[1].reason, 'request');
    await until(() => seen.get('n/stream/a%2Fb%231') === '' && seen.get('n/stream/a%2Fb%231/state') === '', 5000, 'the records emptied');
  });

  test('input that is not a whep-in event is an error at that message; the node keeps working', async () => {
    await load(streamLease, [{ id: 'l', type: 'stream-lease', broker: broker.url, prefix: 'n2', workerId: 'w', wires: [[], []] }]);
    const errors = collectErrors('l');
    getNode('l').receive({ payload: 'hello' });
    await until(() => errors.length === 1, 3000, 'the error');
    assert.match(errors[0], /whep-in's events/);
  });

  test('a number in the config that is not one is refused at deploy: red status, done(err) for every message, no broker connection', async () => {
    // before, "lots" became the default 100 without a word
    await load(streamLease, [{ id: 'bad', type: 'stream-lease', broker: broker.url, prefix: 'n6', maxStreams: 'lots', wires: [[], []] }]);
    const n = getNode('bad');
    const own = (m: 'error' | 'status') => n[m].getCalls().filter((c: any) => c.thisValue === n).map((c: any) => c.args[0]);
    await until(() => own('error').length === 1, 3000, 'the error at deploy');
    // the helper's RED._ gives keys: the code and its parameters are what is checked here
    assert.equal(own('error')[0].code, 'config.badInteger');
    assert.equal(own('error')[0].message, 'maxStreams is "lots": expected a whole number from 1 to 10000');
    assert.deepEqual(own('status').at(-1), { fill: 'red', shape: 'ring', text: 'shared.badConfig' });
    n.receive({ topic: 'whep/started', payload: { event: 'started', stmId: 'a' } });
    await until(() => own('error').length === 2, 3000, 'message refused (done(err) reaches Catch as node.error)');
    assert.equal(own('error')[1].code, 'config.badInteger');
  });

  test('a broker URL that is none is reported at deploy; a start no worker can take is refused with its reason', async () => {
    await load(streamLease, [{ id: 'bad', type: 'stream-lease', broker: 'http://nope', prefix: 'n3', wires: [[], []] }]);
    const logged = () => (helper.log().args as Array<[{ level: number; msg: unknown; id?: string }]>).filter(([e]) => e.id === 'bad' && e.level === helper.log().ERROR).map(([e]) => String(e.msg));
    await until(() => logged().length > 0, 3000, 'the error logged');
    assert.match(logged()[0], /not a broker URL/);
    await unload();
    await load(streamLease, [{ id: 'l', type: 'stream-lease', broker: broker.url, prefix: 'n4', workerId: 'w', wires: [[], ['ev']] }, { id: 'ev', type: 'helper' }]);
    const ev = collect('ev');
    await until(() => ev.some((m) => m.topic === 'cluster/connected'), 10_000, 'connected');
    await client.publishAsync('n4/request', JSON.stringify({ action: 'start', stmId: 'x' }), { qos: 1 });
    await until(() => ev.some((m) => m.topic === 'cluster/refused'), 5000, 'refused');
    assert.equal(ev.find((m) => m.topic === 'cluster/refused')!.payload.error.code, 'cluster.noUrl');
  });

  test('a redeploy leaves the cluster: the worker record is emptied, within the close timeout', async () => {
    await load(streamLease, [{ id: 'l', type: 'stream-lease', broker: broker.url, prefix: 'n5', workerId: 'gone', wires: [[], []] }]);
    await until(() => !!seen.get('n5/worker/gone'), 10_000, 'the worker record');
    const t0 = Date.now();
    await unload();
    assert.ok(Date.now() - t0 < 5000);
    await until(() => seen.get('n5/worker/gone') === '', 5000, 'the record emptied');
  });
});
