/**
 * serve mode facing hostile clients (raw `net` sockets) while real players (ffmpeg) listen: one
 * client must never break the stream for the others. Bad SETUP Transports are refused (461); a
 * player the server cannot send to is dropped alone with one warning; half requests (slowloris)
 * and interleaved frames before any request are closed within the request timeout; the number of
 * players has a ceiling (453). The stream here is a real announcement stream (pacer, Opus
 * silence packets between announcements), as the node runs it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStation, type AnnouncementEvent, type AnnouncementStream } from '../../lib/announce';
import { RtspOutput, type RtspOutputStats } from '../../lib/rtsp';
import { MAX_SEND_FAILURES, REQUEST_TIMEOUT_MS, SETUP_TIMEOUT_MS } from '../../lib/rtsp/server';
import type { CodedError } from '../../lib/util/errors';
import { missingPeer } from '../support/peers';
import { ffmpegPlayer, freePort, readWav, runs, scratch, sleep, tone, toneTrack, until } from '../announce/support';
import { BAD_TRANSPORTS, RawRtsp, interleavedRtcp, udpReceiver } from './hostile-clients';
import { rawClients } from './support';

const { dir, peers, cleanup } = scratch('rtsp-hostile-');
const raw = rawClients();

interface Served {
  station: AnnouncementStream;
  out: RtspOutput;
  port: number;
  url: string;
  events: AnnouncementEvent[];
  warnings: CodedError[];
  logs: string[];
  /** when each player (by remote address) started playing */
  playStarts: Map<string, number>;
}

async function serve(extra: { maxPlayers?: number } = {}): Promise<Served> {
  const port = await freePort();
  const station = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'announce', chime: 'none', ...extra });
  cleanup.push(() => station.close());
  const out = station.output as RtspOutput;
  const events: AnnouncementEvent[] = [];
  const warnings: CodedError[] = [];
  const logs: string[] = [];
  const playStarts = new Map<string, number>();
  station.on('event', (e: AnnouncementEvent) => events.push(e));
  station.on('log', (l: string) => logs.push(l));
  out.on('warning', (w: CodedError) => warnings.push(w));
  out.on('listener', (e: { remote: string }) => {
    if (!playStarts.has(e.remote)) playStarts.set(e.remote, performance.now());
  });
  await station.start();
  return { station, out, port, url: `rtsp://127.0.0.1:${port}/announce`, events, warnings, logs, playStarts };
}

/**
 * A real ffmpeg player decoding `seconds` of the stream; resolves with what it decoded against
 * the wall clock from its PLAY to its exit (1 = real time), and its audio.
 */
async function play(s: Served, name: string, seconds: number, transport: 'tcp' | 'udp'): Promise<() => Promise<{ ratio: number; decodedS: number; pcm: Buffer; rate: number; stderr: string }>> {
  const known = new Set(s.playStarts.keys());
  const file = join(dir, `${name}.wav`);
  const p = ffmpegPlayer(s.url, file, seconds, ['-rtsp_transport', transport]);
  peers.push(p);
  await until(() => [...s.playStarts.keys()].some((k) => !known.has(k)), 15000, `${name} to play (${p.stderr()})`);
  const remote = [...s.playStarts.keys()].find((k) => !known.has(k))!;
  return async () => {
    const code = await p.exited;
    const end = performance.now();
    const { pcm, rate } = readWav(file);
    const decodedS = pcm.length / 2 / rate;
    const ratio = decodedS / ((end - s.playStarts.get(remote)!) / 1000);
    assert.equal(code, 0, `${name} exited ${code}, decoded ${decodedS.toFixed(2)} s: ${p.stderr().slice(-1500)}`);
    return { ratio, decodedS, pcm, rate, stderr: p.stderr() };
  };
}

/** Windows of the 1 kHz announcement tone a player heard. */
function toneWindows(pcm: Buffer, rate: number): number {
  return toneTrack(pcm, rate, [1000, 300]).filter((f) => f === 1000).length;
}

function statsLine(st: RtspOutputStats): string {
  return JSON.stringify(st);
}

describe('serve: hostile clients', { skip: missingPeer('ffmpeg') }, () => {
  test('SETUP with a Transport it cannot honour gets 461 (bad ports, interleaved=abc…); valid ones are answered exactly', async () => {
    const s = await serve();
    const c = raw(s.port);
    await c.opened;
    const got: string[] = [];
    for (const t of BAD_TRANSPORTS) {
      const a = await c.request('SETUP', `${s.url}/trackID=0`, { Transport: t });
      if (a.status !== 461) got.push(`${t} → ${a.status} ${a.headers['transport'] ?? ''}`);
    }
    assert.deepEqual(got, [], 'each of these must be refused with 461');
    const ok: Array<[string, RegExp]> = [
      ['RTP/AVP;unicast;client_port=5000-5001', /^RTP\/AVP;unicast;client_port=5000-5001;server_port=\d+-\d+$/],
      ['RTP/AVP/UDP;unicast;client_port=65534', /client_port=65534-65535/],
      ['RTP/AVP/TCP;unicast;interleaved=4-5', /^RTP\/AVP\/TCP;unicast;interleaved=4-5$/],
      ['RTP/AVP/TCP;unicast', /interleaved=0-1$/],
      // offers in order of preference: a malformed one is skipped, not repaired
      ['RTP/AVP;unicast;client_port=99999-100000,RTP/AVP/TCP;unicast;interleaved=2-3', /interleaved=2-3$/],
    ];
    for (const [t, want] of ok) {
      const c2 = raw(s.port);
      const a = await c2.request('SETUP', `${s.url}/trackID=0`, { Transport: t });
      assert.equal(a.status, 200, t);
      assert.match(a.headers['transport'], want, t);
      c2.destroy();
    }
    assert.ok(s.out.stats().setupsRefused >= BAD_TRANSPORTS.length, statsLine(s.out.stats()));
  });

  test('a hostile SETUP+PLAY with client_port=99999-100000 and 0-1 harms no player: earlier and later ffmpeg players decode in real time and hear the announcement', async () => {
    const s = await serve();
    const early = await play(s, 'early', 7, 'tcp');
    await sleep(500);
    const statuses: number[] = [];
    for (const t of ['RTP/AVP;unicast;client_port=99999-100000', 'RTP/AVP;unicast;client_port=0-1', 'RTP/AVP/TCP;unicast;interleaved=abc']) {
      const h = raw(s.port);
      statuses.push(await h.setupAndPlay(s.url, t));
    }
    const late = await play(s, 'late', 5, 'udp');
    await sleep(1000);
    s.station.announce({ id: 'tone', audio: { pcm: tone(48000, 1000, 1000), rate: 48000, channels: 1 } });
    const [a, b] = [await early(), await late()];
    assert.deepEqual(statuses, [461, 461, 461], 'the hostile SETUPs are refused');
    for (const [name, r] of [['early', a], ['late', b]] as const) {
      assert.ok(r.ratio > 0.75 && r.ratio < 1.25, `${name} player decoded ${r.decodedS.toFixed(2)} s at ${r.ratio.toFixed(2)}× real time`);
      const heard = toneWindows(r.pcm, r.rate);
      assert.ok(heard >= 40, `${name} player heard ${heard * 20} ms of the 1000 ms announcement: ${JSON.stringify(runs(toneTrack(r.pcm, r.rate, [1000])))}`);
    }
    assert.ok(s.events.some((e) => e.event === 'finished' && e.id === 'tone'));
  });

  test('a player the server can no longer send to is dropped alone, with one warning; a TCP ffmpeg player keeps real time', async () => {
    const s = await serve();
    // a UDP player first (first in the fan-out), then a real ffmpeg player over TCP
    const rx = await udpReceiver();
    cleanup.push(async () => rx.close());
    const u = raw(s.port);
    assert.equal(await u.setupAndPlay(s.url, `RTP/AVP;unicast;client_port=${rx.ports[0]}-${rx.ports[1]}`), 200);
    await until(() => rx.packets() > 5, 5000, 'RTP at the UDP player');
    const tcp = await play(s, 'tcp-survivor', 8, 'tcp');
    await until(() => s.out.players === 2, 5000, 'two players');
    // the fault: the server's RTP socket fails under it (closed, as an OS error would leave it),
    // so every send to the UDP player throws; TCP players do not use it
    const server = (s.out as unknown as { server: { rtpSock: { close(): void } } }).server;
    server.rtpSock.close();
    s.station.announce({ id: 'tone', audio: { pcm: tone(48000, 1000, 1000), rate: 48000, channels: 1 } });
    await until(() => s.warnings.length > 0, 10000, 'the warning');
    await until(() => s.out.players === 1, 5000, 'the UDP player gone');
    const r = await tcp();
    assert.equal(s.warnings.length, 1, s.warnings.map((w) => w.message).join('\n'));
    assert.equal(s.warnings[0].code, 'rtsp.playerDropped');
    assert.match(s.warnings[0].message, new RegExp(`${MAX_SEND_FAILURES} packets in a row`));
    assert.equal(s.out.stats().playersDropped, 1);
    const failLogs = s.logs.filter((l) => /sending failed|frame output failed/.test(l));
    assert.ok(failLogs.length <= 1, `one log line for the failures, not one per packet: ${failLogs.length}`);
    assert.ok(r.ratio > 0.75 && r.ratio < 1.25, `the TCP player decoded ${r.decodedS.toFixed(2)} s at ${r.ratio.toFixed(2)}× real time`);
    assert.ok(toneWindows(r.pcm, r.rate) >= 40, 'the TCP player heard the announcement');
  });

  test(`200 slowloris connections (half a request, a trickle, a $ frame cut short) are closed within the request timeout; a real player plays on`, async () => {
    const s = await serve();
    const player = await play(s, 'under-slowloris', 8, 'tcp');
    const hostile: RawRtsp[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) {
      const h = raw(s.port);
      hostile.push(h);
      await h.opened;
      if (i % 4 === 0) h.write(`OPTIONS ${s.url} RTSP/1.0\r\nCSeq: 1\r\n`); // half a request
      else if (i % 4 === 1) h.write('DESCRIBE '); // a trickle: a byte every 300 ms below
      else if (i % 4 === 2) h.write(Buffer.from([0x24, 0x01, 0xff, 0xff, 1, 2, 3])); // a $ frame announcing 64 KiB, cut short
      // i % 4 === 3: connects and says nothing
    }
    const trickle = setInterval(() => hostile.forEach((h, i) => i % 4 === 1 && h.write('x')), 300);
    cleanup.push(async () => clearInterval(trickle));
    // a client that completed its request and waits is not slow: it stays
    const polite = raw(s.port);
    assert.equal((await polite.request('OPTIONS', s.url)).status, 200);
    await until(() => hostile.every((h) => h.closed), REQUEST_TIMEOUT_MS + 10000, `every slow connection closed (${hostile.filter((h) => !h.closed).length} open)`);
    const took = performance.now() - t0;
    clearInterval(trickle);
    assert.ok(took < REQUEST_TIMEOUT_MS + 10000, `closed after ${took.toFixed(0)} ms`);
    assert.equal(polite.closed, false, 'the connection that completed its request is still open');
    assert.equal((await polite.request('OPTIONS', s.url)).status, 200);
    assert.ok(s.out.stats().connectionsTimedOut >= 200, statsLine(s.out.stats()));
    const r = await player();
    assert.ok(r.ratio > 0.75 && r.ratio < 1.25, `the player decoded ${r.decodedS.toFixed(2)} s at ${r.ratio.toFixed(2)}× real time`);
  });

  test('interleaved $ frames before any request are read and dropped: a request after them is answered; frames alone never hold the connection', async () => {
    const s = await serve();
    const a = raw(s.port);
    await a.opened;
    a.write(Buffer.concat([interleavedRtcp(1), interleavedRtcp(0), Buffer.from([0x24, 0x05, 0x00, 0x00])]));
    const r = await a.request('OPTIONS', s.url);
    assert.equal(r.status, 200);
    assert.match(r.headers['public'], /DESCRIBE/);
    // then a whole session on that connection
    assert.equal(await a.setupAndPlay(s.url, 'RTP/AVP/TCP;unicast;interleaved=0-1'), 200);
    a.write(interleavedRtcp(1)); // a receiver report, as players send
    await until(() => (a.frames.get(0) ?? 0) > 10, 5000, 'RTP on channel 0');
    // a client that sends only whole $ frames, never a request
    const b = raw(s.port);
    await b.opened;
    const t0 = performance.now();
    const beat = setInterval(() => b.write(interleavedRtcp(1)), 200);
    cleanup.push(async () => clearInterval(beat));
    await until(() => b.closed, REQUEST_TIMEOUT_MS + 10000, 'the frames-only connection closed');
    clearInterval(beat);
    assert.ok(performance.now() - t0 >= REQUEST_TIMEOUT_MS - 500, 'not before the request timeout');
    assert.equal(a.closed, false, 'the playing connection stays');
  });

  test('more players than the maximum get 453 Not Enough Bandwidth (ffmpeg says so); a freed place is taken again', async () => {
    const s = await serve({ maxPlayers: 2 });
    const one = raw(s.port);
    const two = raw(s.port);
    assert.equal(await one.setupAndPlay(s.url, 'RTP/AVP/TCP;unicast;interleaved=0-1'), 200);
    assert.equal(await two.setupAndPlay(s.url, 'RTP/AVP/TCP;unicast;interleaved=0-1'), 200);
    const refused = ffmpegPlayer(s.url, join(dir, 'refused.wav'), 2, ['-rtsp_transport', 'tcp']);
    peers.push(refused);
    assert.notEqual(await refused.exited, 0);
    assert.match(refused.stderr(), /453 Not Enough Bandwidth/);
    const three = raw(s.port);
    assert.equal(await three.setupAndPlay(s.url, 'RTP/AVP/TCP;unicast;interleaved=0-1'), 453);
    one.destroy();
    await until(() => s.out.players === 1, 5000, 'a place freed');
    const later = await play(s, 'after-free', 2, 'tcp');
    const r = await later();
    assert.ok(r.decodedS > 1.5, `decoded ${r.decodedS} s`);
  });

  test('sessions set up but never played do not hold the places: they are dropped after the setup timeout', async () => {
    const s = await serve({ maxPlayers: 2 });
    const squatters = [raw(s.port), raw(s.port)];
    for (const q of squatters) assert.equal((await q.request('SETUP', `${s.url}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status, 200);
    const refused = raw(s.port);
    assert.equal(await refused.setupAndPlay(s.url, 'RTP/AVP/TCP;unicast;interleaved=0-1'), 453);
    // the squatters keep their connections open (a request now and then) but never PLAY
    const t0 = performance.now();
    const keep = setInterval(() => squatters.forEach((q) => q.request('OPTIONS', s.url).catch(() => undefined)), 1000);
    cleanup.push(async () => clearInterval(keep));
    await until(() => s.logs.filter((l) => /set up but not played/.test(l)).length === 2, SETUP_TIMEOUT_MS + 10000, 'the squatters dropped');
    clearInterval(keep);
    assert.ok(performance.now() - t0 >= SETUP_TIMEOUT_MS - 1000, 'not before the setup timeout');
    const later = await play(s, 'after-squatters', 2, 'tcp');
    assert.ok((await later()).decodedS > 1.5);
  });

  test('maximum players must be a whole number from 1', () => {
    for (const maxPlayers of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => new RtspOutput({ mode: 'serve', codec: 'pcmu', rate: 8000, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port: 0, path: 'a', maxPlayers } }),
        (e: CodedError) => e.code === 'rtsp.badConfig' && /maximum players/.test(e.message),
      );
    }
  });
});
