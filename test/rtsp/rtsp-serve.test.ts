/**
 * serve mode with independent players on 127.0.0.1: ffmpeg/ffprobe and GStreamer `rtspsrc`
 * connect to the embedded server, two at once, over TCP (interleaved) and UDP; Digest/Basic
 * auth; session timeout and keep-alive; the RTP clock against the wall clock; AAC's ffmpeg
 * encoder restarted when it dies. Frames come from a real-time feeder (tone bursts + silence).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RtspOutput, parseRtp, type RtspCodec, type RtspOutputOptions } from '../../lib/rtsp';
import type { CodedError } from '../../lib/util/errors';
import { freePort, readRaw, sleep, spawnPeer, startFeeder, assertTimeline, until, type Peer } from './support';
import { missingPeer } from '../support/peers';

const dir = mkdtempSync(join(tmpdir(), 'rtsp-serve-'));
const RATES: Record<RtspCodec, number> = { opus: 48000, pcmu: 8000, pcma: 8000, l16: 16000, aac: 48000 };
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function served(codec: RtspCodec, serve: Partial<NonNullable<RtspOutputOptions['serve']>> = {}): Promise<{ out: RtspOutput; counts: number[]; stopFeeder: () => void }> {
  const port = await freePort();
  const out = new RtspOutput({ mode: 'serve', codec, rate: RATES[codec], channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port, path: 'announce', ...serve } });
  const counts: number[] = [];
  out.on('listener', (e: { count: number }) => counts.push(e.count));
  out.on('error', () => {});
  await out.start();
  const feeder = startFeeder((f) => out.writeFrame(f), RATES[codec]);
  cleanups.push(() => out.close(), () => feeder.stop());
  return { out, counts, stopFeeder: feeder.stop };
}

/** ffmpeg playing `seconds` of the stream into raw 16 kHz mono. */
function ffmpegPlayer(url: string, transport: 'tcp' | 'udp', file: string, seconds: number): Peer {
  const p = spawnPeer('ffmpeg', ['-hide_banner', '-nostdin', '-rtsp_transport', transport, '-i', url, '-t', String(seconds), '-f', 's16le', '-ar', '16000', '-ac', '1', '-y', file], 30000);
  cleanups.push(() => p.kill());
  return p;
}

/** GStreamer rtspsrc playing into raw 16 kHz mono until killed. */
function gstPlayer(url: string, protocols: 'tcp' | 'udp', file: string, creds?: [string, string]): Peer {
  const auth = creds ? [`user-id=${creds[0]}`, `user-pw=${creds[1]}`] : [];
  const p = spawnPeer(
    'gst-launch-1.0',
    ['-q', 'rtspsrc', `location=${url}`, `protocols=${protocols}`, 'latency=200', ...auth, '!', 'decodebin', '!', 'audioconvert', '!', 'audioresample', '!', 'audio/x-raw,format=S16LE,rate=16000,channels=1', '!', 'filesink', `location=${file}`],
    30000,
  );
  cleanups.push(() => p.kill());
  return p;
}

for (const [codec, transport] of [['opus', 'tcp'], ['pcma', 'udp'], ['l16', 'udp']] as const) {
  test(`serve ${codec}: ffmpeg and GStreamer play at once over ${transport}, each hears every burst on time`, { skip: missingPeer('ffmpeg', 'gstreamer') }, async () => {
    const { out, counts } = await served(codec);
    const ff = join(dir, `ff-${codec}-${transport}.raw`);
    const gs = join(dir, `gst-${codec}-${transport}.raw`);
    const p1 = ffmpegPlayer(out.url, transport, ff, 4);
    const p2 = gstPlayer(out.url, transport, gs);
    await until(() => out.players === 2, 15000, 'two players');
    const code = await p1.exited;
    assert.equal(code, 0, p1.stderr().slice(-2000));
    p2.kill('SIGINT');
    await p2.exited;
    await until(() => out.players === 0, 10000, 'players gone after TEARDOWN');
    assert.ok(counts.includes(2), `listener counts ${counts}`);
    assert.ok(out.stats().packetsSent > 300, JSON.stringify(out.stats()));
    assertTimeline(readRaw(ff), 16000, 2, 'ffmpeg player');
    assertTimeline(readRaw(gs), 16000, 2, 'GStreamer player');
  });
}

test('serve with Digest auth: ffprobe/ffmpeg with the password play, without it get 401, GStreamer with a wrong one too', { skip: missingPeer('ffmpeg', 'ffprobe', 'gstreamer') }, async () => {
  const { out } = await served('opus', { auth: { username: 'desk', password: 'pass word', scheme: 'digest' } });
  const withCreds = out.url.replace('rtsp://', 'rtsp://desk:pass%20word@');
  const probe = spawnPeer('ffprobe', ['-hide_banner', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name,sample_rate', '-of', 'compact', withCreds], 20000);
  const noCreds = spawnPeer('ffprobe', ['-hide_banner', '-rtsp_transport', 'tcp', out.url], 20000);
  const wrong = gstPlayer(out.url, 'tcp', join(dir, 'wrong.raw'), ['desk', 'nope']);
  assert.equal(await probe.exited, 0, probe.stderr());
  assert.match(probe.stdout(), /codec_name=opus\|sample_rate=48000/);
  assert.notEqual(await noCreds.exited, 0);
  assert.match(noCreds.stderr(), /401 Unauthorized/);
  assert.notEqual(await wrong.exited, 0);
  assert.match(wrong.stderr(), /Unauthorized/);
  const file = join(dir, 'digest.raw');
  const play = ffmpegPlayer(withCreds, 'udp', file, 3);
  assert.equal(await play.exited, 0, play.stderr().slice(-2000));
  assertTimeline(readRaw(file), 16000, 2);
});

test('serve with Basic auth: ffmpeg with the password plays', { skip: missingPeer('ffmpeg') }, async () => {
  const { out } = await served('pcmu', { auth: { username: 'desk', password: 'pw', scheme: 'basic' } });
  const file = join(dir, 'basic.raw');
  const play = ffmpegPlayer(out.url.replace('rtsp://', 'rtsp://desk:pw@'), 'tcp', file, 2.5);
  assert.equal(await play.exited, 0, play.stderr().slice(-2000));
  assertTimeline(readRaw(file), 16000, 1);
});

test('serve: keep-alive holds a UDP session past its timeout; a player that vanishes is timed out', { skip: missingPeer('ffmpeg') }, async () => {
  // ffmpeg sends a keep-alive every timeout/2 (1 s here) and RTCP receiver reports: a 3 s timeout
  // leaves 2 s for a loaded machine to delay them, and the player plays 2 s past it
  const { out, counts } = await served('pcmu', { sessionTimeoutSec: 3 });
  const logs: string[] = [];
  out.on('log', (l: string) => logs.push(l));
  const file = join(dir, 'keepalive.raw');
  const p = ffmpegPlayer(out.url, 'udp', file, 5);
  assert.equal(await p.exited, 0, p.stderr().slice(-2000));
  assert.deepEqual(counts, [1, 0], `one session from PLAY to TEARDOWN, never timed out in between: ${logs.join(' | ')}`);
  assertTimeline(readRaw(file), 16000, 4);
  // a UDP player killed without TEARDOWN: its session ends by timeout (TCP ones end with the socket)
  const gone = ffmpegPlayer(out.url, 'udp', join(dir, 'gone.raw'), 20);
  await until(() => out.players === 1, 10000, 'the player');
  gone.kill('SIGKILL');
  await until(() => out.players === 0, 15000, 'the session timeout');
  // what ended it is the timeout rule (no keep-alive for 3 s), not anything else
  assert.equal(logs.filter((l) => /timed out after 3 s without keep-alive/.test(l)).length, 1, logs.join(' | '));
});

test('serve: RTP time follows the wall clock (no gap or jump > 40 ms), RTCP sender reports map it to NTP', async () => {
  // a minimal RTSP exchange written out in the test, to read raw packet timestamps on arrival
  const { out } = await served('opus');
  const sock = connect(Number(new URL(out.url).port), '127.0.0.1');
  cleanups.push(() => sock.destroy());
  const rtp: { at: number; ts: number; seq: number }[] = [];
  const srs: { at: number; ntpMs: number; ts: number }[] = [];
  let text = '';
  let buf = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length) {
      if (buf[0] === 0x24) {
        if (buf.length < 4 || buf.length < 4 + buf.readUInt16BE(2)) return;
        const data = buf.subarray(4, 4 + buf.readUInt16BE(2));
        const at = performance.timeOrigin + performance.now();
        if (buf[1] === 0) {
          const p = parseRtp(data);
          rtp.push({ at, ts: p.timestamp, seq: p.seq });
        } else if (data[1] === 200) {
          srs.push({ at, ntpMs: (data.readUInt32BE(8) - 2208988800) * 1000 + (data.readUInt32BE(12) / 2 ** 32) * 1000, ts: data.readUInt32BE(16) });
        }
        buf = buf.subarray(4 + data.length);
      } else {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('utf8', 0, end);
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        text += buf.toString('utf8', 0, end + 4 + len);
        buf = buf.subarray(end + 4 + len);
      }
    }
  });
  await new Promise((r) => sock.once('connect', r));
  sock.write(`DESCRIBE ${out.url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n`);
  await until(() => text.includes('a=control:trackID=0'), 5000, 'DESCRIBE');
  sock.write(`SETUP ${out.url}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
  await until(() => /Session: *\w+/.test(text), 5000, 'SETUP');
  const session = /Session: *(\w+)/.exec(text)![1];
  sock.write(`PLAY ${out.url} RTSP/1.0\r\nCSeq: 3\r\nSession: ${session}\r\n\r\n`);
  await until(() => srs.length >= 2, 15000, 'two sender reports');
  sock.write(`TEARDOWN ${out.url} RTSP/1.0\r\nCSeq: 4\r\nSession: ${session}\r\n\r\n`);
  await until(() => out.players === 0, 5000, 'TEARDOWN');
  sock.destroy();
  assert.match(text, /RTP-Info: url=.*;seq=\d+;rtptime=\d+/);
  assert.ok(rtp.length > 200);
  for (let i = 1; i < rtp.length; i++) {
    assert.equal(rtp[i].seq, (rtp[i - 1].seq + 1) & 0xffff, 'no sequence gap');
    assert.equal((rtp[i].ts - rtp[i - 1].ts) >>> 0, 960, 'every packet is the next 20 ms: no gap, no jump');
  }
  // Wall clock minus RTP time of each packet. A stall of this (loaded, shared) process only
  // delays arrivals, never advances them, so the minimum per second is the true offset; it must
  // not move by more than 40 ms over the run (the RTP clock neither drifts nor jumps).
  const offset = (at: number, ts: number) => at - ((ts - rtp[0].ts) | 0) / 48;
  const minima: number[] = [];
  for (let i = 0; i + 50 <= rtp.length; i += 50) minima.push(Math.min(...rtp.slice(i, i + 50).map((p) => offset(p.at, p.ts))));
  const spread = Math.max(...minima) - Math.min(...minima);
  assert.ok(spread < 40, `RTP time moves ${spread.toFixed(1)} ms against the wall clock: ${minima.map((m) => m.toFixed(1))}`);
  const base = Math.min(...minima);
  for (const sr of srs) {
    // the SR's NTP time is "now" at sending; its RTP time is the stream position at that moment
    assert.ok(Math.abs(sr.at - sr.ntpMs) < 200, `SR NTP ${sr.ntpMs} vs arrival ${sr.at}`);
    const diff = offset(sr.ntpMs, sr.ts) - base;
    assert.ok(Math.abs(diff) < 40, `SR maps NTP to RTP time ${diff.toFixed(1)} ms away from the packets`);
  }
});

/**
 * pids of our AAC encoder children: ffmpeg processes whose parent is this test process, read
 * from /proc (Linux). Without /proc (macOS, Windows) the output's own encoder child is asked and
 * checked alive, which proves less (a leaked child it forgot would not show).
 */
function encoderPids(out?: RtspOutput): number[] {
  if (!existsSync('/proc/self/stat')) {
    const pid = (out as unknown as { encoder?: { pid?: number } } | undefined)?.encoder?.pid;
    try {
      return pid && process.kill(pid, 0) ? [pid] : [];
    } catch {
      return [];
    }
  }
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('adts')) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}

test('serve aac: GStreamer plays; the ffmpeg encoder killed mid-stream is restarted and reported; close leaves no child', { skip: missingPeer('ffmpeg', 'gstreamer') }, async () => {
  const { out } = await served('aac');
  const errors: CodedError[] = [];
  out.on('error', (e: CodedError) => errors.push(e));
  const logs: string[] = [];
  out.on('log', (l: string) => logs.push(l));
  const [pid] = encoderPids(out);
  assert.ok(pid, 'an ffmpeg encoder runs');
  process.kill(pid, 'SIGKILL');
  await until(() => errors.some((e) => e.code === 'rtsp.ffmpegExited'), 10000, 'the exit to be reported');
  assert.match(errors[0].message, /signal SIGKILL; restarting in \d+ ms/);
  await until(() => encoderPids(out).length === 1 && encoderPids(out)[0] !== pid, 10000, 'a new encoder');
  const file = join(dir, 'aac.raw');
  const p = gstPlayer(out.url, 'tcp', file);
  await until(() => out.players === 1, 10000, 'the player');
  await sleep(3500);
  p.kill('SIGINT');
  await p.exited;
  assertTimeline(readRaw(file), 16000, 2);
  await out.close();
  assert.deepEqual(encoderPids(out), []);
});
