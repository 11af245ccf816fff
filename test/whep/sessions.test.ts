/**
 * Every session a server made is released: streams started and stopped at random moments (before,
 * during and after the offer POST) against the werift source in its own process and against the
 * aiortc server. The servers count: offers = sessions made = sessions DELETEd, none left alive.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WhepIn } from '../../lib/whep';
import { speechPcm48k } from '../peers/whep-source';
import { missingPeer } from '../support/peers';
import { sleep, until } from '../support/processes';
import { sourceStats, startAiortc, startSourceProcess } from './support';

/**
 * `lanes` streams at a time, each started and stopped `cycles` times, stopped after a random
 * 0–`maxMs` ms: most stops land while the offer is being made, sent or answered.
 */
async function randomCycles(engine: WhepIn, url: string, lanes: number, cycles: number, maxMs: number): Promise<number> {
  let done = 0;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = 0; i < cycles; i++) {
        const stmId = `l${lane}-${i}`;
        engine.start({ url, stmId });
        await sleep(Math.random() * maxMs);
        await engine.stop(stmId);
        done++;
      }
    }),
  );
  return done;
}

const quiet = { chunk: () => undefined, event: () => undefined };

describe('every session a server made is DELETEd, whatever the timing of stop', () => {
  test('werift source in its own process: 120 random start/stop cycles, POSTs = sessions = DELETEs', { skip: missingPeer('espeak-ng', 'sox') }, async (t) => {
    const src = await startSourceProcess(['--loop', '--control']);
    t.after(src.kill);
    const engine = new WhepIn({ iceHostAddresses: ['127.0.0.1'], maxStreams: 10 }, quiet);
    t.after(() => engine.close());
    const cycles = await randomCycles(engine, src.url, 4, 30, 150);
    await engine.close();
    const s = await sourceStats(src.port);
    assert.equal(cycles, 120);
    assert.ok(s.posts > 20, `enough offers reached the source to mean something: ${JSON.stringify(s)}`);
    assert.equal(s.created, s.posts, `every offer was answered with a session: ${JSON.stringify(s)}`);
    assert.equal(s.deleted, s.created, `every session made was DELETEd: ${JSON.stringify(s)}`);
    assert.equal(s.live, 0, `no session left alive: ${JSON.stringify(s)}`);
  });

  test('aiortc server: 60 random start/stop cycles, every SESSION it made gets its DELETE', { skip: missingPeer('aiortc', 'espeak-ng', 'sox') }, async (t) => {
    const server = await startAiortc(speechPcm48k('one two three'), true);
    t.after(server.stop);
    const engine = new WhepIn({ iceHostAddresses: ['127.0.0.1'], maxStreams: 10 }, quiet);
    t.after(() => engine.close());
    await randomCycles(engine, server.url, 2, 30, 120);
    await engine.close();
    const ids = (kind: string) => server.lines().filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));
    // the DELETE lines are printed when the server handles them: give the last ones a moment
    await until(() => ids('SESSION').every((id) => ids('DELETE').includes(id)), 5000, 'a DELETE for every session').catch(() => undefined);
    const sessions = ids('SESSION');
    const deletes = ids('DELETE');
    assert.ok(sessions.length > 5, `enough sessions to mean something: ${sessions.length}`);
    assert.deepEqual(sessions.filter((id) => !deletes.includes(id)), [], `sessions never DELETEd (of ${sessions.length})`);
  });
});
