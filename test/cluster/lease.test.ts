/**
 * StreamLease (lib/cluster) against a real Mosquitto, several workers in this process: the rules
 * the Node-RED test cannot provoke at will — fencing on a conflicting claim, capacity, a worker
 * that comes back under its own id, a stop that overtakes its start — plus the pure rules.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import path from 'node:path';
import { missingPeer } from '../support/peers';
import { until, sleep, spawnPeer, type Peer } from '../support/processes';
import { StreamLease, assignOrphans, compareClaims, type LeaseOptions, type StartOrder } from '../../lib/cluster';
import { startBroker, type Broker } from './support';

interface Probe {
  lease: StreamLease;
  started: StartOrder[];
  stopped: Array<{ stmId: string; reason: string }>;
  running: Set<string>;
  events: string[];
}

describe('cluster rules', () => {
  test('the higher epoch wins, then the higher worker id', () => {
    assert.ok(compareClaims({ epoch: 2, workerId: 'a' }, { epoch: 1, workerId: 'z' }) > 0);
    assert.ok(compareClaims({ epoch: 1, workerId: 'b' }, { epoch: 1, workerId: 'a' }) > 0);
    assert.equal(compareClaims({ epoch: 1, workerId: 'a' }, { epoch: 1, workerId: 'a' }), 0);
  });

  test('orphans go to live workers with room, the same way whatever the order they are listed in', () => {
    const orphans = Array.from({ length: 12 }, (_, i) => `s${i}`);
    const free = new Map([['w2', 10], ['w3', 3]]);
    const a = assignOrphans(orphans, free);
    const b = assignOrphans([...orphans].reverse(), new Map([...free].reverse()));
    assert.deepEqual([...a].sort(), [...b].sort());
    assert.equal([...a.values()].filter((w) => w === 'w3').length <= 3, true);
    assert.equal(a.size, 12);
    assert.equal(assignOrphans(orphans, new Map([['w2', 0]])).size, 0);
  });
});

describe('StreamLease on Mosquitto', { skip: missingPeer('mosquitto') }, () => {
  let broker: Broker;
  let client: MqttClient;
  const probes: Probe[] = [];
  let prefix = 'p0';
  let n = 0;

  const make = (o: Partial<LeaseOptions> & { workerId: string }): Probe => {
    const p: Probe = { started: [], stopped: [], running: new Set(), events: [], lease: undefined as never };
    p.lease = new StreamLease(
      { brokerUrl: broker.url, prefix, takeoverDelayMs: 500, leaseMs: 6000, ...o },
      {
        start: (s) => {
          p.started.push(s);
          p.running.add(s.stmId);
        },
        stop: (stmId, reason) => {
          p.stopped.push({ stmId, reason });
          p.running.delete(stmId);
        },
        event: (e) => p.events.push(e.event),
      },
    );
    p.lease.open();
    probes.push(p);
    return p;
  };
  const start = (stmId: string) => client.publishAsync(`${prefix}/request`, JSON.stringify({ action: 'start', stmId, url: 'http://127.0.0.1:9/whep' }), { qos: 1 });
  const connected = (...ps: Probe[]) => until(() => ps.every((p) => p.lease.summary().connected && p.lease.summary().liveWorkers === ps.length), 10_000, 'workers connected');
  /** a retained record as a fresh subscriber reads it */
  const read = async (topic: string): Promise<any> => {
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    let got: any;
    c.on('message', (_t, p) => (got = p.length ? JSON.parse(String(p)) : undefined));
    await c.subscribeAsync(topic, { qos: 1 });
    await sleep(300);
    await c.endAsync();
    return got;
  };

  before(async () => {
    broker = await startBroker(120_000);
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  });
  after(async () => {
    await Promise.all(probes.map((p) => p.lease.close()));
    await client?.endAsync(true);
    await broker?.stop();
  });
  const fresh = () => (prefix = `p${++n}`);

  test('a claim that beats ours stops our copy; a weaker one is answered with ours', async () => {
    fresh();
    const a = make({ workerId: 'a' });
    await connected(a);
    await start('s1');
    await until(() => a.running.has('s1'), 5000, 'a runs s1');
    // a weaker claim (another worker that had not seen ours): ours goes back on the broker
    await client.publishAsync(`${prefix}/stream/s1`, JSON.stringify({ stmId: 's1', workerId: '0-low', epoch: 1, since: '', url: 'http://x/' }), { qos: 1, retain: true });
    await sleep(500);
    assert.ok(a.running.has('s1'));
    assert.equal((await read(`${prefix}/stream/s1`)).workerId, 'a');
    // a newer claim: a stops its copy at once and leaves the record alone
    await client.publishAsync(`${prefix}/stream/s1`, JSON.stringify({ stmId: 's1', workerId: 'z', epoch: 5, since: '', url: 'http://x/' }), { qos: 1, retain: true });
    await until(() => !a.running.has('s1'), 5000, 'a fenced');
    assert.deepEqual(a.stopped, [{ stmId: 's1', reason: 'fenced' }]);
    await sleep(300);
    assert.equal((await read(`${prefix}/stream/s1`)).workerId, 'z');
  });

  test('a worker at its maximum takes no more while another has room', async () => {
    fresh();
    const small = make({ workerId: 'small', maxStreams: 1 });
    const big = make({ workerId: 'big', maxStreams: 10 });
    await connected(small, big);
    for (let i = 0; i < 6; i++) await start(`c${i}`);
    await until(() => small.running.size + big.running.size === 6, 10_000, '6 streams running');
    assert.equal(small.running.size, 1);
    assert.equal(big.running.size, 5);
    assert.ok(small.events.includes('full'));
  });

  test('when every worker is full a start is refused where the dispatcher sees it, not dropped', async () => {
    fresh();
    const a = make({ workerId: 'a', maxStreams: 1 });
    const b = make({ workerId: 'b', maxStreams: 1 });
    await connected(a, b);
    const refusals: string[] = [];
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    watcher.on('message', (t, p) => p.length && JSON.parse(String(p)).state === 'refused' && refusals.push(t));
    await watcher.subscribeAsync(`${prefix}/stream/+/state`, { qos: 1 });
    for (let i = 0; i < 3; i++) await start(`f${i}`);
    await until(() => a.running.size + b.running.size === 2 && refusals.length === 1, 10_000, '2 running, 1 refused');
    await watcher.endAsync();
    assert.equal(a.running.size, 1);
    assert.equal(b.running.size, 1);
    assert.ok(a.events.includes('refused') || b.events.includes('refused'));
  });

  test('a worker back under its own id before the takeover resumes its streams; nobody else starts them', async () => {
    fresh();
    const other = make({ workerId: 'other', takeoverDelayMs: 8000 });
    const first = make({ workerId: 'same', maxStreams: 1 });
    await connected(other, first);
    await start('r1');
    await until(() => first.running.has('r1') || other.running.has('r1'), 5000);
    await start('r2');
    await until(() => first.running.size + other.running.size === 2, 5000);
    const mine = [...first.running];
    await first.lease.close();
    const again = make({ workerId: 'same', maxStreams: 1 });
    await until(() => mine.every((s) => again.running.has(s)), 15_000, 'the restarted worker resumes its streams');
    assert.ok(again.started.every((s) => s.takeover));
    await sleep(1000);
    assert.ok(mine.every((s) => !other.started.some((o) => o.stmId === s)), 'the other worker started a stream of the restarted one');
  });

  test('a frozen worker (no renewal, connection still open) loses its streams after the lease, and stops its copies when it thaws', async () => {
    fresh();
    const lines = new Map<string, Array<Record<string, any>>>();
    const peers: Peer[] = [];
    const spawnWorker = (workerId: string) => {
      lines.set(workerId, []);
      // keepalive far above the lease: the broker sees nothing wrong, only the missing renewals tell
      const opts = { brokerUrl: broker.url, prefix, workerId, leaseMs: 3000, takeoverDelayMs: 500, keepaliveS: 120 };
      const p = spawnPeer(process.execPath, [path.join(__dirname, 'lease-worker-cli.js'), JSON.stringify(opts)], 60_000, { onLine: (l) => lines.get(workerId)!.push(JSON.parse(l)) });
      peers.push(p);
      return p;
    };
    const running = (id: string) => {
      const r = new Set<string>();
      for (const l of lines.get(id)!) {
        if (l.ev === 'start') r.add(l.stmId);
        if (l.ev === 'stop') r.delete(l.stmId);
      }
      return r;
    };
    try {
      const a = spawnWorker('frozen');
      spawnWorker('alive');
      await until(() => ['frozen', 'alive'].every((id) => lines.get(id)!.some((l) => l.event === 'connected')), 15_000, 'both connected');
      await sleep(500);
      for (let i = 0; i < 6; i++) await start(`z${i}`);
      await until(() => running('frozen').size + running('alive').size === 6, 10_000, '6 running');
      const theirs = [...running('frozen')];
      assert.ok(theirs.length > 0, 'the shared subscription gave the frozen-to-be worker nothing');
      a.child.kill('SIGSTOP');
      const t0 = Date.now();
      await until(() => theirs.every((s) => running('alive').has(s)), 15_000, 'the live worker takes the frozen one\'s streams');
      const took = Date.now() - t0;
      assert.ok(took >= 3000 - 600, `taken over after ${took} ms, before the lease ran out`);
      a.child.kill('SIGCONT');
      await until(() => running('frozen').size === 0, 10_000, 'the thawed worker stops its copies');
      assert.ok(lines.get('frozen')!.filter((l) => l.ev === 'stop').every((l) => l.reason === 'fenced'));
      assert.equal(running('alive').size, 6);
    } finally {
      for (const p of peers) {
        p.kill('SIGCONT');
        p.kill('SIGKILL');
      }
    }
  });

  test('a stop that overtakes its start still stops the stream', async () => {
    fresh();
    const a = make({ workerId: 'a' });
    const b = make({ workerId: 'b' });
    await connected(a, b);
    // the shared subscription hands the start to one worker and the stop to the other, which
    // empties the claim before the first worker has published it
    for (let i = 0; i < 4; i++) {
      await Promise.all([start(`x${i}`), client.publishAsync(`${prefix}/request`, JSON.stringify({ action: 'stop', stmId: `x${i}` }), { qos: 1 })]);
    }
    await sleep(1500);
    for (let i = 0; i < 4; i++) assert.equal(a.running.has(`x${i}`) || b.running.has(`x${i}`), false, `x${i} still runs`);
    assert.equal(await read(`${prefix}/stream/+`), undefined);
  });
});
