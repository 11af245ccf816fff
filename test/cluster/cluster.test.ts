/**
 * Stream workers coordinated by a real Mosquitto (MQTT 5) on 127.0.0.1: 3 worker Node-RED
 * processes (stream-lease → whep-in → base64-ws-out), the werift WHEP source in a process of its
 * own, and a ws receiver that sees which worker every frame came from. The test plays the
 * dispatcher with an MQTT client and reads the cluster's retained state as any dashboard would.
 * One scenario, in order: spread, broker restart, failover (kill -9), rejoin, stop all.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { missingPeer } from '../support/peers';
import { spawnPeer, until, sleep, type Peer } from '../support/processes';
import { startBroker, startFrameReceiver, startWorker, type Broker, type Frame, type Worker } from './support';

const STREAMS = Number(process.env.LIVE_AUDIO_CLUSTER_STREAMS || 30);
const PREFIX = 'la-test';
const MAX_PER_WORKER = 20;

/** per stream, the runs of consecutive frames from one worker, in arrival order */
function runs(frames: Frame[], stmId: string): Array<{ worker: string; first: number; last: number; n: number }> {
  const out: Array<{ worker: string; first: number; last: number; n: number }> = [];
  for (const f of frames) {
    if (f.stmId !== stmId) continue;
    const r = out[out.length - 1];
    if (r && r.worker === f.worker) {
      r.last = f.at;
      r.n++;
    } else out.push({ worker: f.worker, first: f.at, last: f.at, n: 1 });
  }
  return out;
}

/** every retained message under a topic filter, read by a fresh subscriber */
async function retained(brokerUrl: string, filter: string): Promise<Map<string, string>> {
  const c = await mqtt.connectAsync(brokerUrl, { protocolVersion: 5, reconnectPeriod: 0 });
  const got = new Map<string, string>();
  c.on('message', (t, p, packet) => {
    if (packet.retain && p.length) got.set(t, p.toString());
  });
  await c.subscribeAsync(filter, { qos: 1 });
  await sleep(700);
  await c.endAsync();
  return got;
}

describe('cluster: stream workers over MQTT', { skip: missingPeer('mosquitto') }, () => {
  let broker: Broker;
  let source: Peer;
  let whepUrl = '';
  const counts = { posts: 0, deletes: 0, sessions: 0 };
  let receiver: Awaited<ReturnType<typeof startFrameReceiver>>;
  const workers = new Map<string, Worker>();
  let dispatcher: MqttClient;
  const userDirs: string[] = [];

  const request = (r: Record<string, unknown>) => dispatcher.publishAsync(`${PREFIX}/request`, JSON.stringify(r), { qos: 1 });
  const opts = (id: string) => ({ workerId: id, brokerUrl: broker.url, receiverUrl: receiver.url, prefix: PREFIX, maxStreams: MAX_PER_WORKER });
  const workerOf = (stmId: string, after = 0) => {
    const f = receiver.frames.filter((x) => x.stmId === stmId && x.at >= after);
    return new Set(f.map((x) => x.worker));
  };

  before(async () => {
    broker = await startBroker(300_000);
    source = spawnPeer(process.execPath, [path.join(__dirname, '..', 'peers', 'whep-source-cli.js'), '--loop', '--report'], 300_000, {
      onLine: (l) => {
        const j = JSON.parse(l);
        if (j.url) whepUrl = j.url;
        if (j.posts !== undefined) Object.assign(counts, j);
      },
    });
    await until(() => !!whepUrl || source.child.exitCode !== null, 30_000, 'the WHEP source');
    assert.ok(whepUrl, source.stderr());
    receiver = await startFrameReceiver();
    const started = await Promise.all(['w1', 'w2', 'w3'].map((id) => startWorker(opts(id))));
    for (const w of started) {
      workers.set(w.id, w);
      userDirs.push(w.userDir);
    }
    dispatcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  });

  after(async () => {
    await dispatcher?.endAsync(true).catch(() => undefined);
    await Promise.all([...workers.values()].map((w) => w.red.stop()));
    await receiver?.close();
    source?.kill('SIGKILL');
    await broker?.stop();
    for (const d of userDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('spread, broker restart, failover, rejoin, stop all', { timeout: 240_000 }, async () => {
    // every worker is present on the broker before the first request
    const present = async () => (await retained(broker.url, `${PREFIX}/worker/+`)).size;
    for (const end = Date.now() + 20_000; (await present()) < 3; ) if (Date.now() > end) assert.fail('3 workers never appeared on the broker');

    // --- spread: each stream from exactly one worker, every worker used ---
    const ids = Array.from({ length: STREAMS }, (_, i) => `s${i}`);
    for (const stmId of ids) await request({ action: 'start', url: whepUrl, stmId, traceId: `t-${stmId}` });
    await until(() => ids.every((id) => workerOf(id).size > 0), 90_000, `all ${STREAMS} streams at the receiver`);
    await sleep(2000);
    const owner = new Map<string, string>();
    for (const id of ids) {
      const ws = workerOf(id);
      assert.equal(ws.size, 1, `${id} came from ${[...ws].join(' and ')}`);
      owner.set(id, [...ws][0]);
    }
    const perWorker = (w: string) => ids.filter((id) => owner.get(id) === w).length;
    for (const w of ['w1', 'w2', 'w3']) assert.ok(perWorker(w) >= 1, `worker ${w} got no stream: ${JSON.stringify([...owner])}`);
    // the broker tells the same story: one retained claim per stream, naming the worker
    const claims = await retained(broker.url, `${PREFIX}/stream/+`);
    assert.equal(claims.size, STREAMS);
    for (const [t, body] of claims) {
      const c = JSON.parse(body);
      assert.equal(c.workerId, owner.get(c.stmId), `claim ${t}`);
    }
    const states = await retained(broker.url, `${PREFIX}/stream/+/state`);
    assert.equal(states.size, STREAMS, 'a retained state per stream');
    assert.ok([...states.values()].every((s) => JSON.parse(s).state === 'live'), [...states.values()].join('\n'));
    console.log(`spread: ${['w1', 'w2', 'w3'].map((w) => `${w}=${perWorker(w)}`).join(' ')}`);

    // --- broker restart with every stream running: they keep running, no duplicates ---
    const tb = Date.now();
    await broker.restart();
    for (const end = Date.now() + 30_000; (await retained(broker.url, `${PREFIX}/stream/+`)).size < STREAMS; ) {
      if (Date.now() > end) assert.fail('the claims did not come back after the broker restart');
    }
    await sleep(8000); // longer than the settle time and the takeover delay: nobody takes anything over
    for (const id of ids) {
      assert.deepEqual([...workerOf(id, tb)], [owner.get(id)], `${id} after the broker restart`);
      const r = runs(receiver.frames, id);
      assert.equal(r.length, 1, `${id} changed worker`);
    }
    console.log(`broker restart: ${STREAMS} streams kept their workers`);

    // --- failover: kill -9 one worker ---
    const victim = 'w1';
    const lost = ids.filter((id) => owner.get(id) === victim);
    const tk = Date.now();
    workers.get(victim)!.red.child.kill('SIGKILL');
    await until(() => lost.every((id) => [...workerOf(id, tk)].some((w) => w !== victim)), 30_000, 'the killed worker\'s streams on the others');
    let worstBack = 0;
    let worstGap = 0;
    for (const id of lost) {
      const r = runs(receiver.frames, id);
      const i = r.findIndex((x) => x.worker !== victim && x.first >= tk);
      worstBack = Math.max(worstBack, r[i].first - tk);
      worstGap = Math.max(worstGap, r[i].first - r[i - 1].last);
    }
    console.log(`failover: ${lost.length} streams back after at most ${worstBack} ms, worst audio gap ${worstGap} ms`);
    assert.ok(worstBack <= 10_000, `back after ${worstBack} ms`);
    assert.ok(worstGap <= 10_000, `gap ${worstGap} ms`);
    await sleep(2000);
    for (const id of lost) owner.set(id, [...workerOf(id, Date.now() - 1500)][0]);

    // --- rejoin: the killed worker comes back, takes new streams, steals none ---
    fs.rmSync(workers.get(victim)!.userDir, { recursive: true, force: true });
    const back = await startWorker(opts(victim));
    workers.set(victim, back);
    userDirs.push(back.userDir);
    await sleep(3000);
    const fresh = Array.from({ length: 6 }, (_, i) => `n${i}`);
    const tr = Date.now();
    for (const stmId of fresh) await request({ action: 'start', url: whepUrl, stmId });
    await until(() => fresh.every((id) => workerOf(id).size > 0), 60_000, 'the new streams at the receiver');
    await sleep(3000);
    for (const id of fresh) assert.equal(workerOf(id).size, 1, `${id} from ${[...workerOf(id)]}`);
    assert.ok(fresh.some((id) => workerOf(id).has(victim)), `the rejoined worker took no new stream: ${fresh.map((id) => [...workerOf(id)])}`);
    for (const id of ids) assert.deepEqual([...workerOf(id, tr)], [owner.get(id)], `${id} moved after the rejoin`);
    console.log(`rejoin: ${victim} took ${fresh.filter((id) => workerOf(id).has(victim)).length} of ${fresh.length} new streams, moved none`);

    // never two workers at once for a stream: its frames form one run per worker
    for (const id of [...ids, ...fresh]) {
      const r = runs(receiver.frames, id);
      assert.equal(r.length, new Set(r.map((x) => x.worker)).size, `${id} interleaved: ${r.map((x) => `${x.worker}×${x.n}`).join(' ')}`);
    }

    // --- stop all: every session DELETEd, the retained stream state empty ---
    const all = ids.length + fresh.length;
    const deletes0 = counts.deletes;
    await request({ action: 'stop' });
    await until(() => counts.deletes - deletes0 >= all, 30_000, `${all} DELETEs (saw ${counts.deletes - deletes0})`);
    await sleep(1500);
    assert.equal(counts.deletes - deletes0, all);
    assert.deepEqual([...(await retained(broker.url, `${PREFIX}/stream/#`)).keys()], []);
    const n = receiver.frames.length;
    await sleep(1500);
    assert.equal(receiver.frames.length, n, 'frames after stop all');
  });
});
