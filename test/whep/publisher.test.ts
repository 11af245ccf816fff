/**
 * A late publisher's speech is not lost: with the engine's default settings, audio from a
 * publisher that appears at a random moment reaches the flow within 2 s, both from a server that
 * keeps a silent session while nobody publishes (SRS) and from one that answers 404 (mediamtx).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WhepIn, type WhepEvent } from '../../lib/whep';
import { startWhepSource, type WhepSource } from '../peers/whep-source';
import { missingPeer } from '../support/peers';
import { sleep, until } from '../support/processes';
import { startSourceProcess } from './support';

/** An engine with default settings whose sink notes when each chunk arrived. */
function timedEngine() {
  const arrivals: number[] = [];
  const events: WhepEvent[] = [];
  const engine = new WhepIn({ iceHostAddresses: ['127.0.0.1'] }, { chunk: (m) => m.payload.length > 0 && arrivals.push(Date.now()), event: (e) => events.push(e) });
  const named = (name: string) => events.filter((e) => e.event === name);
  return { engine, arrivals, events, named };
}

/** Publishes on `src` and returns how long the first chunk after that took to reach the flow (ms). */
async function publishAndTime(src: WhepSource, arrivals: number[]): Promise<number> {
  const at = src.publish();
  await until(() => arrivals.some((t) => t >= at), 10_000, 'audio after the publisher appeared');
  return arrivals.find((t) => t >= at)! - at;
}

describe('a late publisher is heard within 2 s (engine defaults)', { skip: missingPeer('espeak-ng', 'sox') }, () => {
  test('SRS-like server (201 and a silent session): the session is kept however long nobody publishes, and each publisher is heard within 2 s', async (t) => {
    const src = await startWhepSource({ text: 'Counter five.', absent: 'silent' });
    t.after(() => src.stop());
    const c = timedEngine();
    t.after(() => c.engine.close());
    c.engine.start({ url: src.url, stmId: 'srs' });
    await until(() => c.named('connected').length > 0, 20_000, 'connected');
    assert.equal(c.engine.get('srs')!.state, 'waiting', 'connected, no audio yet: not "live"');
    // longer than the 30 s after which a quiet session used to be torn down; nothing must happen
    // meanwhile, so this is a plain wait, not a condition
    await sleep(33_000);
    assert.equal(src.posts, 1, 'still the first session');
    assert.equal(c.named('reconnecting').length, 0);
    assert.equal(c.arrivals.length, 0, 'no audio while nobody publishes (silence is off)');
    const latencies: number[] = [];
    for (let round = 0; round < 3; round++) {
      latencies.push(await publishAndTime(src, c.arrivals));
      assert.equal(c.engine.get('srs')!.state, 'live');
      src.unpublish();
      await until(() => c.engine.get('srs')!.state === 'idle', 15_000, 'idle after the publisher left');
      await sleep(500 + Math.random() * 3000); // the next publisher comes at a random moment
    }
    t.diagnostic(`publisher heard after ${latencies.join(', ')} ms`);
    assert.ok(latencies.every((ms) => ms <= 2000), `latencies ${latencies.join(', ')} ms`);
    assert.equal(src.posts, 1, 'one session throughout');
    assert.deepEqual(c.events.map((e) => e.event), ['connecting', 'connected', 'live', 'idle', 'resumed', 'idle', 'resumed', 'idle']);
  });

  test('mediamtx-like server (404 while nobody publishes): polled at a steady interval, one "reconnecting" event, counted as polls (not reconnects), the publisher heard within 2 s', async (t) => {
    const src = await startWhepSource({ text: 'Counter six.', absent: '404' });
    t.after(() => src.stop());
    const c = timedEngine();
    t.after(() => c.engine.close());
    c.engine.start({ url: src.url, stmId: 'mtx' });
    // long enough for a back-off to have grown well past 2 s (1, 2, 4, 8 s …)
    await sleep(7000 + Math.random() * 3000);
    assert.ok(src.posts >= 6, `polled steadily: ${src.posts} offers`);
    const ms = await publishAndTime(src, c.arrivals);
    t.diagnostic(`publisher heard after ${ms} ms (${src.posts} offers before)`);
    assert.ok(ms <= 2000, `heard ${ms} ms after the publisher appeared`);
    const r = c.named('reconnecting');
    assert.equal(r.length, 1, 'one event for the whole wait, not one per poll');
    assert.equal(r[0].error?.code, 'whep.notFound');
    assert.equal(r[0].retryInMs, 1000);
    // waiting for a publisher is no failure: every offer after the first was a poll, none a reconnect
    const { stats } = c.named('connected')[0];
    assert.equal(stats.reconnects, 0, 'no reconnects while the stream was absent');
    assert.equal(stats.polls, src.posts - 1, `one poll per repeated offer (${src.posts} offers)`);
  });

  test('a crashed server (engine defaults): noticed within 20 s, audio again within 7 s of its return however long it was down', async (t) => {
    let proc = await startSourceProcess(['--loop']);
    const c = timedEngine();
    t.after(() => c.engine.close());
    try {
      c.engine.start({ url: proc.url, stmId: 'crash' });
      await until(() => c.arrivals.length > 25, 20_000, 'audio');
      const killedAt = Date.now();
      proc.proc.kill('SIGKILL'); // no BYE, no DTLS alert, no DELETE answer: gone
      await until(() => c.named('reconnecting').length > 0, 40_000, 'the crash to be noticed');
      const noticedMs = Date.now() - killedAt;
      // down long enough for the back-off to reach its ceiling
      await until(() => c.named('reconnecting').length >= 6, 40_000, 'retries while the server is down');
      proc = await startSourceProcess(['--loop', '--port', String(proc.port)]);
      const backAt = Date.now();
      await until(() => c.arrivals.some((a) => a > backAt), 20_000, 'audio from the restarted server');
      const resumedMs = c.arrivals.find((a) => a > backAt)! - backAt;
      t.diagnostic(`crash noticed after ${noticedMs} ms; audio ${resumedMs} ms after the server was back`);
      assert.ok(noticedMs < 20_000, `noticed after ${noticedMs} ms`);
      assert.ok(resumedMs < 7000, `audio ${resumedMs} ms after the server was back`);
    } finally {
      await c.engine.close();
      await proc.kill();
    }
  });
});
