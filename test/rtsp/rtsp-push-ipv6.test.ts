/**
 * push over UDP to a host name that resolves to ::1 first, which is how `localhost` resolves on
 * macOS and Windows: the UDP sockets must be of the family of the address the RTSP connection
 * reached, not of the URL's text (a udp4 socket cannot send to ::1: every packet failed and the
 * node showed "publishing" while the server heard nothing). Also: a datagram the operating system
 * refuses is counted and reported, and a publication where nothing goes out is retried.
 * The target is `ffmpeg -rtsp_flags listen` on [::1]. Where `localhost` resolves to 127.0.0.1
 * first (Debian), the test names its own host and maps it to ::1 through the connection's lookup.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup as dnsLookup } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type LookupFunction } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RtspOutput } from '../../lib/rtsp';
import type { RtspPublisher } from '../../lib/rtsp/publisher';
import type { CodedError } from '../../lib/util/errors';
import { missingPeer } from '../support/peers';
import { assertTimeline, readRaw, sleep, spawnPeer, startFeeder, until, type Peer } from './support';

const dir = mkdtempSync(join(tmpdir(), 'rtsp-push-v6-'));
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** A free TCP port on ::1, or undefined when this machine has no IPv6 loopback. */
function freeV6Port(): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(undefined));
    s.listen(0, '::1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** `localhost` when it resolves to ::1 first here; else a name of our own, mapped to ::1. */
async function v6Name(): Promise<{ host: string; lookup?: LookupFunction }> {
  const first = await dnsLookup('localhost').catch(() => undefined);
  if (first?.address === '::1') return { host: 'localhost' };
  const host = 'announce-v6.localtest';
  const lookup = ((name: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
    if (name !== host) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
    if (opts.all) cb(null, [{ address: '::1', family: 6 }]);
    else cb(null, '::1', 6);
  }) as unknown as LookupFunction;
  return { host, lookup };
}

const hasV6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === '::1'));
const noV6 = !hasV6Loopback && 'this machine has no IPv6 loopback (::1)';

test('push over UDP to a name resolving to ::1: UDP sockets of the connection\'s family, the server decodes every burst; a refused datagram is counted and reported', { skip: missingPeer('ffmpeg') || noV6 }, async () => {
  const port = (await freeV6Port())!;
  const file = join(dir, 'v6.raw');
  const target: Peer = spawnPeer('ffmpeg', ['-hide_banner', '-nostdin', '-rtsp_flags', 'listen', '-timeout', '30', '-i', `rtsp://[::1]:${port}/x`, '-t', '3.4', '-f', 's16le', '-ar', '16000', '-ac', '1', '-y', file], 40000);
  cleanups.push(() => target.kill());
  await sleep(300); // ffmpeg opens its listening socket
  const { host, lookup } = await v6Name();
  const out = new RtspOutput({ mode: 'push', codec: 'pcma', rate: 8000, channels: 1, frameMs: 20, push: { url: `rtsp://${host}:${port}/x`, transport: 'udp', backoff: { initialMs: 200, maxMs: 1000 }, lookup } });
  const errors: CodedError[] = [];
  out.on('error', (e: CodedError) => errors.push(e));
  cleanups.push(() => out.close());
  await out.start();
  const feeder = startFeeder((f) => out.writeFrame(f), 8000);
  await until(() => out.state === 'publishing', 10000, 'publishing');
  // ffmpeg stops after 3.4 s of audio; one that heard nothing would wait: bounded
  const code = await Promise.race([target.exited, sleep(20000).then(() => 'still waiting for audio after 20 s')]);
  feeder.stop();
  const stats = out.stats();
  assert.equal(code, 0, target.stderr().slice(-2000));
  assert.equal(stats.sendErrors, 0, JSON.stringify({ stats, errors: errors.map((e) => e.message) }));
  assert.ok(stats.packetsSent > 100, JSON.stringify(stats));
  const pcm = readRaw(file);
  assert.ok(pcm.length / 32000 > 3.3, `decoded ${pcm.length / 32000} s of 3.4 s`);
  assertTimeline(pcm, 16000, 2);
  await out.close();
});

test('push over UDP: datagrams the system refuses are counted, reported once, and a publication where nothing goes out is retried', { skip: missingPeer('ffmpeg') || noV6 }, async () => {
  const port = (await freeV6Port())!;
  const target: Peer = spawnPeer('ffmpeg', ['-hide_banner', '-nostdin', '-rtsp_flags', 'listen', '-timeout', '20000000', '-i', `rtsp://[::1]:${port}/x`, '-t', '20', '-f', 'null', '-'], 40000);
  cleanups.push(() => target.kill());
  await sleep(300);
  const { host, lookup } = await v6Name();
  const out = new RtspOutput({ mode: 'push', codec: 'pcma', rate: 8000, channels: 1, frameMs: 20, push: { url: `rtsp://${host}:${port}/x`, transport: 'udp', backoff: { initialMs: 5000, maxMs: 5000 }, lookup } });
  const errors: CodedError[] = [];
  out.on('error', (e: CodedError) => errors.push(e));
  const states: string[] = [];
  out.on('state', (s: string) => states.push(s));
  cleanups.push(() => out.close());
  await out.start();
  const feeder = startFeeder((f) => out.writeFrame(f), 8000);
  await until(() => out.state === 'publishing', 10000, 'publishing');
  await until(() => out.stats().packetsSent > 20, 5000, 'packets flowing');
  // (ffmpeg waits 20 s for data: its socket timeout is in microseconds)
  // a datagram larger than UDP allows: the system refuses it (EMSGSIZE), nothing leaves the machine
  const pub = (out as unknown as { publisher: RtspPublisher }).publisher;
  const before = out.stats().packetsSent;
  const huge = Buffer.alloc(70000);
  assert.equal(pub.sendRtp(huge), true, 'handed to the socket');
  await until(() => out.stats().sendErrors === 1, 5000, 'the refused datagram counted');
  await until(() => errors.some((e) => e.code === 'rtsp.udpSendFailed'), 5000, 'reported');
  const reported = errors.find((e) => e.code === 'rtsp.udpSendFailed')!;
  assert.match(reported.message, /sending RTP over UDP to ::1 failed: .*EMSGSIZE.*\(1 packets not sent so far\)/);
  assert.equal(out.state, 'publishing', 'one refused datagram among good ones does not drop the publication');
  assert.ok(out.stats().packetsSent >= before, 'the refused datagram is not counted as sent');
  // nothing but refusals for over a second: not publishing, whatever the RTSP session says
  feeder.stop();
  const t0 = Date.now();
  while (out.state === 'publishing' && Date.now() - t0 < 3000) {
    pub.sendRtp(huge);
    await sleep(20);
  }
  assert.equal(out.state, 'reconnecting', states.join(' → '));
  assert.ok(errors.some((e) => e.code === 'rtsp.pushFailed' && /EMSGSIZE/.test(e.message)), errors.map((e) => e.message).join('\n'));
  assert.equal(errors.filter((e) => e.code === 'rtsp.udpSendFailed').length, 1, 'one report per publication, not one per packet (good datagrams in between do not re-arm it)');
  await out.close();
});
