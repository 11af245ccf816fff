/**
 * The serve-mode hardening of rtsp-hostile.test.ts on the video track: a stream with the queue
 * board on (audio track 0, RTP/JPEG track 1), raw `net`/`dgram` clients beside real ffmpeg
 * players that decode both tracks.
 * - SETUP of track 1 with a Transport it cannot honour: 461, alone or added to a session (channels
 *   of the audio track, another lower transport);
 * - a player that sets up only the video track and plays gets RTP/JPEG and its sender reports on
 *   the channels it asked for, and no audio; ffmpeg decodes such a stream;
 * - the player ceiling counts a player with two tracks once;
 * - a player whose sends keep failing (both tracks, or the video track alone) is dropped alone,
 *   with one warning, while an ffmpeg player keeps decoding both tracks.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createStation, type AnnouncementStream } from '../../lib/announce';
import { RtspOutput } from '../../lib/rtsp';
import { parseRtp } from '../../lib/rtsp/rtp';
import type { CodedError } from '../../lib/util/errors';
import { missingPeer } from '../support/peers';
import { freePort, scratch, spawnPeer, until, type Peer } from '../announce/support';
import { CJK_FONT } from '../video/support';
import { BAD_TRANSPORTS, RawRtsp, udpReceiver } from './hostile-clients';
import { rawClients } from './support';

const { dir, peers, cleanup } = scratch('rtsp-hostile-video-');
const raw = rawClients();

interface Served {
  station: AnnouncementStream;
  out: RtspOutput;
  port: number;
  url: string;
  warnings: CodedError[];
}

async function serve(extra: { maxPlayers?: number } = {}): Promise<Served> {
  const port = await freePort();
  const station = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'board', chime: 'none', video: 'mjpeg', fps: 2, videoWidth: 320, videoHeight: 240, fontFile: CJK_FONT, ...extra });
  cleanup.push(() => station.close());
  station.on('log', () => {});
  const out = station.output as RtspOutput;
  const warnings: CodedError[] = [];
  out.on('warning', (w: CodedError) => warnings.push(w));
  await station.start();
  return { station, out, port, url: `rtsp://127.0.0.1:${port}/board`, warnings };
}

/** ffmpeg recording `seconds` of both tracks (or those allowed) to a Matroska file. */
function recorder(s: Served, name: string, seconds: number, extra: string[] = []): { p: Peer; file: string } {
  const file = join(dir, `${name}.mkv`);
  const p = spawnPeer('ffmpeg', ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-rtsp_transport', 'tcp', ...extra, '-i', s.url, '-t', String(seconds), '-map', '0', '-c:v', 'copy', '-c:a', 'pcm_s16le', '-y', file], (seconds + 30) * 1000);
  peers.push(p);
  return { p, file };
}

/** Streams in a recording and the length of each (s), by ffprobe. */
function streamsOf(file: string): Record<string, number> {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,duration:stream_tags=DURATION', '-of', 'json', file], { encoding: 'utf8', timeout: 30000 });
  const j = JSON.parse(r.stdout) as { streams: Array<{ codec_type: string; duration?: string; tags?: { DURATION?: string } }> };
  const secs = (d?: string) => (d ? d.split(':').reduce((a, x) => a * 60 + Number(x), 0) : 0);
  return Object.fromEntries(j.streams.map((x) => [x.codec_type, Number(x.duration ?? 0) || secs(x.tags?.DURATION)]));
}

/** Video frames decoded from a recording (ffprobe counts them by decoding). */
function videoFrames(file: string): number {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file], { encoding: 'utf8', timeout: 30000 });
  return Number(r.stdout.trim());
}

describe('serve with video: hostile clients on the video track', { skip: missingPeer('ffmpeg', 'ffprobe', 'fonts-noto-cjk') }, () => {
  test('SETUP of the video track with a Transport it cannot honour gets 461, alone or added to a session; ffmpeg beside it gets both tracks', async () => {
    const s = await serve();
    const player = recorder(s, 'beside-461', 6);
    const c = raw(s.port);
    await c.opened;
    const got: string[] = [];
    for (const t of BAD_TRANSPORTS) {
      const a = await c.request('SETUP', `${s.url}/trackID=1`, { Transport: t });
      if (a.status !== 461) got.push(`${t} → ${a.status}`);
    }
    assert.deepEqual(got, [], 'each of these must be refused with 461 on the video track');
    // added to a TCP session on channels 0-1: each overlap with the audio track's channels, or UDP, is refused
    const audio = await c.request('SETUP', `${s.url}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    assert.equal(audio.status, 200);
    const session = audio.headers['session'].split(';')[0];
    for (const t of ['RTP/AVP/TCP;unicast;interleaved=0-1', 'RTP/AVP/TCP;unicast;interleaved=1-2', 'RTP/AVP;unicast;client_port=40000-40001', ...BAD_TRANSPORTS.slice(10, 13)]) {
      const a = await c.request('SETUP', `${s.url}/trackID=1`, { Transport: t, Session: session });
      assert.equal(a.status, 461, t);
    }
    // a UDP session: the video track over TCP is refused, over UDP accepted
    const u = raw(s.port);
    const ua = await u.request('SETUP', `${s.url}/trackID=0`, { Transport: 'RTP/AVP;unicast;client_port=40010-40011' });
    const us = ua.headers['session'].split(';')[0];
    assert.equal((await u.request('SETUP', `${s.url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=2-3', Session: us })).status, 461);
    assert.equal((await u.request('SETUP', `${s.url}/trackID=1`, { Transport: 'RTP/AVP;unicast;client_port=40012-40013', Session: us })).status, 200);
    // channels left to the server: the video track takes a pair the session leaves free
    const f = raw(s.port);
    const fa = await f.request('SETUP', `${s.url}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=2-3' });
    const fs = fa.headers['session'].split(';')[0];
    const fv = await f.request('SETUP', `${s.url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast', Session: fs });
    assert.equal(fv.status, 200);
    assert.match(fv.headers['transport'], /interleaved=0-1$/);
    assert.equal((await f.request('PLAY', s.url, { Session: fs })).status, 200);
    // a track the stream does not have
    assert.equal((await c.request('SETUP', `${s.url}/trackID=2`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=4-5', Session: session })).status, 404);
    // and the session still takes its video track on free channels
    const v = await c.request('SETUP', `${s.url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=2-3', Session: session });
    assert.equal(v.status, 200);
    assert.equal((await c.request('PLAY', s.url, { Session: session })).status, 200);
    await until(() => (c.frames.get(2) ?? 0) > 3 && (c.frames.get(0) ?? 0) > 10, 5000, 'audio on 0 and video on 2');
    await until(() => (f.frames.get(0) ?? 0) > 3 && (f.frames.get(2) ?? 0) > 10, 5000, 'video on 0 and audio on 2');
    assert.equal(await player.p.exited, 0, player.p.stderr().slice(-1500));
    const st = streamsOf(player.file);
    assert.ok(st.audio > 5 && st.video > 4, `the ffmpeg player beside got both tracks: ${JSON.stringify(st)}`);
    assert.ok(videoFrames(player.file) >= 10, 'and decodes the board');
  });

  test('a player that sets up only the video track and plays gets RTP/JPEG and its reports on its channels, no audio; ffmpeg decodes it', async () => {
    const s = await serve();
    // TCP on channels 0-1 (the audio track's usual ones): the video packets are re-framed for them
    const c = raw(s.port);
    const a = await c.request('SETUP', `${s.url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    assert.equal(a.status, 200);
    assert.match(a.headers['transport'], /interleaved=0-1/);
    const session = a.headers['session'].split(';')[0];
    const p = await c.request('PLAY', s.url, { Session: session });
    assert.equal(p.status, 200);
    assert.match(p.headers['rtp-info'], /trackID=1;seq=/);
    assert.doesNotMatch(p.headers['rtp-info'], /trackID=0/);
    // UDP, the video track alone
    const rx = await udpReceiver();
    cleanup.push(async () => rx.close());
    const u = raw(s.port);
    const ua = await u.request('SETUP', `${s.url}/trackID=1`, { Transport: `RTP/AVP;unicast;client_port=${rx.ports[0]}-${rx.ports[1]}` });
    assert.equal(ua.status, 200);
    assert.equal((await u.request('PLAY', s.url, { Session: ua.headers['session'].split(';')[0] })).status, 200);
    await until(() => (c.frames.get(0) ?? 0) >= 4 && (c.frames.get(1) ?? 0) >= 1 && rx.packets() >= 4, 10000, 'video packets and a sender report');
    assert.deepEqual([...c.frames.keys()].sort(), [0, 1]);
    assert.equal(s.out.players, 2);
    // what arrives on channel 0 is the video track (payload type 26), never audio
    const c2 = raw(s.port);
    const got: number[] = [];
    c2.sock.on('data', (d: Buffer) => {
      for (let i = 0; i + 5 < d.length; i++) if (d[i] === 0x24 && d[i + 1] === 0 && d[i + 4] === 0x80) got.push(parseRtp(d.subarray(i + 4)).payloadType);
    });
    const s2 = await c2.request('SETUP', `${s.url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    await c2.request('PLAY', s.url, { Session: s2.headers['session'].split(';')[0] });
    await until(() => got.length >= 3, 10000, 'packets on channel 0');
    assert.ok(got.every((pt) => pt === 26), `payload types on channel 0: ${got.join(',')}`);
    const player = recorder(s, 'video-only', 3, ['-allowed_media_types', 'video']);
    assert.equal(await player.p.exited, 0, player.p.stderr().slice(-1500));
    assert.deepEqual(Object.keys(streamsOf(player.file)), ['video']);
    assert.ok(videoFrames(player.file) >= 4, `${videoFrames(player.file)} frames decoded from the video-only session`);
  });

  test('the player ceiling counts a player with two tracks once: at 2, two two-track players play, a third gets 453 (ffmpeg says so); a freed place is taken again', async () => {
    const s = await serve({ maxPlayers: 2 });
    const both = async (r: RawRtsp) => {
      const a = await r.request('SETUP', `${s.url}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
      assert.equal(a.status, 200);
      const session = a.headers['session'].split(';')[0];
      assert.equal((await r.request('SETUP', `${s.url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=2-3', Session: session })).status, 200);
      assert.equal((await r.request('PLAY', s.url, { Session: session })).status, 200);
    };
    const one = raw(s.port);
    const two = raw(s.port);
    await both(one);
    await both(two);
    assert.equal(s.out.players, 2);
    const refused = recorder(s, 'refused', 2);
    assert.notEqual(await refused.p.exited, 0);
    assert.match(refused.p.stderr(), /453 Not Enough Bandwidth/);
    // the video track alone is a player too
    const three = raw(s.port);
    assert.equal((await three.request('SETUP', `${s.url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status, 453);
    one.destroy();
    await until(() => s.out.players === 1, 5000, 'a place freed');
    const later = recorder(s, 'after-free', 3);
    assert.equal(await later.p.exited, 0, later.p.stderr().slice(-1500));
    const st = streamsOf(later.file);
    assert.ok(st.audio > 2 && st.video > 1.5, JSON.stringify(st));
  });

  test('a player the server can no longer send to (both tracks, or the video track alone) is dropped alone with one warning; ffmpeg keeps both tracks', async () => {
    const s = await serve();
    const rxA = await udpReceiver();
    const rxV = await udpReceiver();
    const rxO = await udpReceiver();
    cleanup.push(async () => (rxA.close(), rxV.close(), rxO.close()));
    // a UDP player with both tracks, and one with the video track only
    const u = raw(s.port);
    const a = await u.request('SETUP', `${s.url}/trackID=0`, { Transport: `RTP/AVP;unicast;client_port=${rxA.ports[0]}-${rxA.ports[1]}` });
    const us = a.headers['session'].split(';')[0];
    assert.equal((await u.request('SETUP', `${s.url}/trackID=1`, { Transport: `RTP/AVP;unicast;client_port=${rxV.ports[0]}-${rxV.ports[1]}`, Session: us })).status, 200);
    assert.equal((await u.request('PLAY', s.url, { Session: us })).status, 200);
    const o = raw(s.port);
    const ov = await o.request('SETUP', `${s.url}/trackID=1`, { Transport: `RTP/AVP;unicast;client_port=${rxO.ports[0]}-${rxO.ports[1]}` });
    assert.equal((await o.request('PLAY', s.url, { Session: ov.headers['session'].split(';')[0] })).status, 200);
    await until(() => rxA.packets() > 5 && rxV.packets() > 2 && rxO.packets() > 2, 10000, 'RTP at the UDP players');
    const player = recorder(s, 'survivor', 8);
    await until(() => s.out.players === 3, 15000, 'three players');
    const t0 = performance.now();
    // the fault: the server's RTP socket fails under it, so every UDP send throws; TCP players do not use it
    const server = (s.out as unknown as { server: { rtpSock: { close(): void } } }).server;
    server.rtpSock.close();
    // failures count per datagram: a video-only player, which gets a picture's packets only `fps`
    // times a second, is dropped as soon as one with both tracks
    await until(() => s.warnings.length === 2, 15000, `both UDP players dropped (${s.warnings.map((w) => w.message).join(' | ')})`);
    const droppedMs = performance.now() - t0;
    // (the ffmpeg player may have finished its 8 s meanwhile)
    await until(() => s.out.players <= 1, 5000, 'the ffmpeg player left alone');
    assert.equal(await player.p.exited, 0, player.p.stderr().slice(-1500));
    assert.ok(s.warnings.every((w) => w.code === 'rtsp.playerDropped'));
    assert.equal(s.out.stats().playersDropped, 2);
    // eslint-disable-next-line no-console
    console.log(`both UDP players (two tracks, video only) dropped within ${droppedMs.toFixed(0)} ms of the fault`);
    const st = streamsOf(player.file);
    assert.ok(st.audio > 7 && st.video > 6, `the TCP ffmpeg player kept both tracks: ${JSON.stringify(st)}`);
    assert.ok(videoFrames(player.file) >= 14, `${videoFrames(player.file)} frames decoded`);
  });
});
