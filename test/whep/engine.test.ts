/**
 * The whep engine (lib/whep) against the werift WHEP source of test/peers over 127.0.0.1: real
 * Opus of espeak-ng speech, real ICE/DTLS/SRTP, the source's fault switches for the behaviour of
 * real servers (mediamtx 404, SRS's silent close and 302, no Location, publisher pause, death).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { until } from '../support/node-red';
import { startWhepSource, type WhepSource } from '../peers/whep-source';
import { bestCorrelation, collectingEngine, resampleWithSox, samples, startSourceProcess } from './support';
import { missingPeer } from '../support/peers';

const TEXT = 'Number A 0 1 2, please go to counter 3.';

describe('whep engine with the werift source', () => {
  let src: WhepSource;
  const engines: Array<{ close(): Promise<void> }> = [];
  const track = <T extends ReturnType<typeof collectingEngine>>(c: T) => (engines.push(c.engine), c);

  before(async () => {
    src = await startWhepSource({ text: TEXT });
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await src.stop();
  });

  test('16 kHz mono: the speech arrives whole, in order, and equals what was sent', { skip: missingPeer('sox') }, async () => {
    const c = track(collectingEngine({ rate: 16000, channels: 1, idleMs: 1500, idleReconnectMs: 0 }));
    c.engine.start({ url: src.url, stmId: 's16', traceId: 't16' });
    await until(() => c.named('idle', 's16').length > 0, 30_000, 'the stream to go idle after the speech');
    const got = c.audio('s16');
    const ms = got.length / 32;
    // the whole utterance: never more than was sent; packets lost before DTLS settles on a loaded
    // machine may shorten it (the correlation below shows it is the speech)
    assert.ok(ms >= src.durationMs - 300 && ms <= src.durationMs + 60, `got ${ms} ms of ${src.durationMs} ms`);
    const ref = samples(resampleWithSox(src.pcm, 16000));
    const { corr } = bestCorrelation(samples(got), ref, 16000);
    assert.ok(corr > 0.8, `correlation with the source speech ${corr.toFixed(3)}`);
    const msgs = c.of('s16');
    msgs.forEach((m, i) => {
      assert.equal(m.seq, i);
      assert.equal(m.traceId, 't16');
      assert.equal(m.rate, 16000);
      assert.equal(m.channels, 1);
      assert.equal(m.payload.length, 640); // 20 ms
    });
    for (let i = 1; i < msgs.length; i++) assert.ok(Math.abs(msgs[i].timestamp! - msgs[i - 1].timestamp! - 20) < 0.01);
    const deletesBefore = src.deletes.length;
    await c.engine.stop('s16');
    const last = c.of('s16').at(-1)!;
    assert.equal(last.complete, true);
    assert.equal(last.seq, msgs.length);
    assert.equal(src.deletes.length, deletesBefore + 1, 'the session resource was DELETEd');
    assert.deepEqual(c.events.filter((e) => e.stmId === 's16').map((e) => e.event), ['connecting', 'connected', 'live', 'idle', 'stopped']);
  });

  test('48 kHz stereo, 100 ms chunks: duration and correlation of both channels', async () => {
    const c = track(collectingEngine({ chunkMs: 100, idleMs: 1500, idleReconnectMs: 0 }));
    c.engine.start({ url: src.url, stmId: 's48' });
    await until(() => c.named('idle', 's48').length > 0, 30_000, 'idle after the speech');
    const got = c.audio('s48');
    const ms = got.length / 192;
    assert.ok(ms >= src.durationMs - 300 && ms <= src.durationMs + 100, `got ${ms} ms of ${src.durationMs} ms`);
    assert.ok(c.of('s48').every((m) => m.payload.length === 19200 && m.rate === 48000 && m.channels === 2));
    const ref = samples(src.pcm);
    for (const ch of [0, 1]) {
      const { corr } = bestCorrelation(samples(got, 2, ch), ref, 48000);
      assert.ok(corr > 0.8, `channel ${ch}: correlation ${corr.toFixed(3)}`);
    }
    await c.engine.close();
  });

  test('"try later" answers: errors (silent close, 503 + Retry-After) back off, 404s are polled steadily in one episode', async () => {
    src.faults.notFound = 2;
    src.faults.closeWithoutReply = 1;
    src.faults.unavailable = 1;
    const c = track(collectingEngine({ retryInitialMs: 200, retryMaxMs: 5000 }));
    c.engine.start({ url: src.url, stmId: 'retry' });
    await until(() => c.named('connected', 'retry').length > 0, 40_000, 'connected after the refusals');
    const r = c.named('reconnecting', 'retry');
    // the source refuses in this order: silent close, 404, 404, 503; the two 404s are one episode
    assert.deepEqual(r.map((e) => e.error?.code), ['whep.noReply', 'whep.notFound', 'whep.tryLater']);
    assert.match(r[1].reason!, /404/);
    assert.match(r[2].reason!, /503/);
    assert.ok(r[0].retryInMs! <= 240, `first error retried quickly: ${r[0].retryInMs}`);
    assert.equal(r[1].retryInMs, 1000, 'a 404 is polled at the poll interval');
    // the back-off went on from the silent close (200 ms, then 400 ms ±20 %), and a Retry-After of 1 s is a floor
    assert.ok(r[2].retryInMs! >= 1000, 'Retry-After honoured');
    await until(() => c.of('retry').length > 10, 20_000, 'audio after reconnecting');
    // the silent close and the 503 were failures; the two 404s were polls for an absent stream
    const stats = c.named('connected', 'retry').at(-1)!.stats;
    assert.deepEqual([stats.reconnects, stats.polls], [2, 2], 'reconnects, polls');
    await c.engine.close();
  });

  test('a 302 is an error naming the target; 307 is followed with the offer kept', async () => {
    const c = track(collectingEngine());
    src.faults.redirect302 = true;
    const noSlash = src.url.replace(/\/$/, '') + '?app=live&stream=x';
    c.engine.start({ url: noSlash, stmId: 'r302' });
    await until(() => c.named('stopped', 'r302').length > 0, 20_000, 'the 302 to end the stream');
    const err = c.named('error', 'r302')[0];
    assert.equal(err.error?.code, 'whep.redirect');
    assert.ok(err.reason!.includes(src.url + '?app=live&stream=x'), err.reason);
    assert.equal(c.of('r302').at(-1)!.complete, true);
    src.faults.redirect302 = false;

    src.faults.redirect307 = 1;
    c.engine.start({ url: src.url, stmId: 'r307' });
    await until(() => c.of('r307').length > 5, 20_000, 'audio through a 307');
    await c.engine.close();
  });

  test('200 without Location, SRS-style answer, bearer token: plays, and no DELETE is attempted', async () => {
    Object.assign(src.faults, { omitLocation: true, answer200: true, srsStyleAnswer: true });
    const c = track(collectingEngine({ token: 'node-token' }));
    try {
      const deletes = src.deletes.length;
      c.engine.start({ url: src.url, stmId: 'old', token: 'stream-token' });
      await until(() => c.of('old').length > 5, 20_000, 'audio');
      assert.equal(src.authorizations.at(-1), 'Bearer stream-token');
      await c.engine.close();
      assert.equal(src.deletes.length, deletes);
    } finally {
      Object.assign(src.faults, { omitLocation: false, answer200: false, srsStyleAnswer: false });
    }
  });

  test('HTTPS with a self-signed certificate: refused by default, accepted when told to', { skip: missingPeer('openssl') }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whep-tls-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { timeout: 30_000 });
    assert.equal(r.status, 0, String(r.stderr));
    const tlsSrc = await startWhepSource({ pcm: src.pcm, loop: true, tls: { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } });
    fs.rmSync(dir, { recursive: true, force: true });
    const strict = track(collectingEngine());
    const lax = track(collectingEngine({ insecureTls: true }));
    try {
      strict.engine.start({ url: tlsSrc.url, stmId: 'strict' });
      await until(() => strict.named('stopped', 'strict').length > 0, 20_000, 'the certificate error to end the stream');
      assert.equal(strict.named('error', 'strict')[0].error?.code, 'whep.tls');
      lax.engine.start({ url: tlsSrc.url, stmId: 'lax' });
      await until(() => lax.of('lax').length > 5, 20_000, 'audio over HTTPS signalling');
      await lax.engine.close();
      assert.equal(tlsSrc.deletes.length, 1, 'DELETE over HTTPS too');
    } finally {
      await lax.engine.close();
      await tlsSrc.stop();
    }
  });

  test('a malformed answer is an error for that stream, not a crash', async () => {
    src.faults.badAnswer = 1;
    const c = track(collectingEngine());
    c.engine.start({ url: src.url, stmId: 'bad' });
    await until(() => c.named('stopped', 'bad').length > 0, 20_000, 'the stream to end');
    assert.equal(c.named('error', 'bad')[0].error?.code, 'whep.badAnswer');
    assert.ok(src.deletes.some((d) => d.includes('broken')), 'the half-made session is DELETEd');
  });

  test('source idle → event (and silence), resumed on the same session; long idle reconnects', async () => {
    const loopSrc = await startWhepSource({ pcm: src.pcm, loop: true });
    const c = track(collectingEngine({ rate: 16000, channels: 1, idleMs: 1000, idleSilence: true, idleReconnectMs: 4000 }));
    try {
      c.engine.start({ url: loopSrc.url, stmId: 'idle' });
      await until(() => c.of('idle').length > 25, 20_000, 'audio');
      loopSrc.pauseRtp();
      await until(() => c.named('idle', 'idle').length > 0, 10_000, 'idle');
      const atIdle = c.of('idle').length;
      await until(() => c.of('idle').length > atIdle + 20, 5000, 'silence to keep downstream timing while idle');
      const posts = loopSrc.posts;
      loopSrc.resumeRtp();
      await until(() => c.named('resumed', 'idle').length > 0, 10_000, 'resumed');
      assert.equal(loopSrc.posts, posts, 'resumed on the same session');
      // emitted audio follows wall-clock time (timestamps never go back)
      const ts = c.of('idle').map((m) => m.timestamp!);
      for (let i = 1; i < ts.length; i++) assert.ok(ts[i] >= ts[i - 1], `timestamp ${i} goes back`);
      loopSrc.pauseRtp();
      await until(() => c.named('reconnecting', 'idle').length > 0, 15_000, 'reconnect after the long idle');
      await until(() => loopSrc.deletes.length > 0, 5000, 'DELETE of the idle session');
      loopSrc.resumeRtp();
      await until(() => c.named('connected', 'idle').length > 1, 15_000, 'a new session');
    } finally {
      await c.engine.close();
      await loopSrc.stop();
    }
  });

  test('server killed mid-stream → reconnects with back-off once it is back', async () => {
    let proc = await startSourceProcess(['--loop']);
    const c = track(collectingEngine({ rate: 16000, channels: 1, idleMs: 1000, idleReconnectMs: 2000, retryInitialMs: 300, retryMaxMs: 2000 }));
    try {
      c.engine.start({ url: proc.url, stmId: 'kill' });
      await until(() => c.of('kill').length > 25, 20_000, 'audio');
      await proc.kill();
      await until(() => c.named('reconnecting', 'kill').length >= 2, 30_000, 'failed reconnection attempts while the server is down');
      assert.ok(c.named('reconnecting', 'kill').some((e) => e.error?.code === 'whep.unreachable'));
      proc = await startSourceProcess(['--loop', '--port', String(proc.port)]);
      const before = c.of('kill').length;
      await until(() => c.of('kill').length > before + 25, 30_000, 'audio from the restarted server');
      assert.equal(c.named('connected', 'kill').length, 2);
    } finally {
      await c.engine.close();
      await proc.kill();
    }
  });

  test('the source dies mid-stream: unanswered ICE consent checks end the session within 20 s (werift alone: 30 s)', async () => {
    let dying = await startWhepSource({ pcm: src.pcm, loop: true });
    const port = dying.port;
    // idle detection far away: only the ICE/DTLS state can trigger this reconnection
    const c = track(collectingEngine({ rate: 16000, channels: 1, idleMs: 60_000, idleReconnectMs: 0, retryInitialMs: 300, retryMaxMs: 1000 }));
    try {
      c.engine.start({ url: dying.url, stmId: 'die' });
      await until(() => c.of('die').length > 25, 20_000, 'audio');
      const diedAt = Date.now();
      await dying.die();
      // no RTCP BYE, no DTLS alert reaches us: only consent checks (every 4–6 s) going unanswered tell
      await until(() => c.named('reconnecting', 'die').length > 0, 60_000, 'the dead server to be noticed');
      const noticedMs = Date.now() - diedAt;
      assert.equal(c.named('reconnecting', 'die')[0].error?.code, 'whep.serverGone');
      assert.ok(noticedMs < 20_000, `noticed after ${noticedMs} ms`);
      dying = await startWhepSource({ pcm: src.pcm, loop: true, port });
      const before = c.of('die').length;
      await until(() => c.of('die').length > before + 25, 30_000, 'audio from the new server');
    } finally {
      await c.engine.close();
      await dying.stop();
    }
  });

  test('20 concurrent streams: every message carries its own stmId, in sequence', async () => {
    const loopSrc = await startWhepSource({ pcm: src.pcm, loop: true });
    const c = track(collectingEngine({ rate: 16000, channels: 1, maxStreams: 20 }));
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `cam-${i}`);
      for (const id of ids) c.engine.start({ url: loopSrc.url, stmId: id, traceId: `trace-${id}` });
      assert.throws(() => c.engine.start({ url: loopSrc.url, stmId: 'one-too-many' }), { code: 'whep.tooMany' });
      await until(() => ids.every((id) => c.of(id).length >= 50), 60_000, '1 s of audio on every stream');
      assert.equal(c.engine.summary().live, 20);
      for (const id of ids) {
        const m = c.of(id);
        m.forEach((x, i) => {
          assert.equal(x.seq, i, `${id} seq`);
          assert.equal(x.traceId, `trace-${id}`);
        });
      }
      assert.ok(c.chunks.every((m) => ids.includes(m.stmId!)));
      await c.engine.close();
      assert.equal(loopSrc.deletes.length, 20, 'every session DELETEd on close');
      for (const id of ids) assert.equal(c.of(id).at(-1)!.complete, true);
    } finally {
      await c.engine.close();
      await loopSrc.stop();
    }
  });
});
