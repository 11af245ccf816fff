/**
 * Unit tests of lib/rtsp pieces that need no peer: G.711 tables, RTP/RTCP layout, SDP, message
 * framing, auth, configuration errors, and the behaviour of RtspOutput without listeners.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPeer } from '../support/peers';
import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw, parseRtp, RtspOutput } from '../../lib/rtsp';
import { AuthAnswerer, AuthChecker, parseAuthParams } from '../../lib/rtsp/auth';
import { aacConfigHex, ffmpegMissing, findExecutable } from '../../lib/rtsp/aac';
import { G711PayloadEncoder, L16PayloadEncoder, OpusPayloadEncoder, type EncodedUnit } from '../../lib/rtsp/codecs';
import { RtspReader, formatMessage, interleave, interleavedFor, parseTransport, type RtspMessage } from '../../lib/rtsp/message';
import { parseRtspUrl } from '../../lib/rtsp/publisher';
import { RtpStream, TCP_HEADROOM, ntpTime, rtpOf } from '../../lib/rtsp/rtp';
import { buildSdp } from '../../lib/rtsp/sdp';
import { CodedError } from '../../lib/util/errors';
import OpusScript from 'opusscript';
import { freePort, sleep, until } from './support';

test('G.711: reference code points; ffmpeg decodes our codes of all 65536 inputs within one step and encodes alike', { skip: missingPeer('ffmpeg') }, () => {
  // ITU-T G.711 code points: zero, full scale positive/negative
  assert.deepEqual([...encodeUlaw(Buffer.from(new Int16Array([0, 32767, -32768]).buffer))], [0xff, 0x80, 0x00]);
  assert.deepEqual([...encodeAlaw(Buffer.from(new Int16Array([0, 32767, -32768]).buffer))], [0xd5, 0xaa, 0x2a]);
  const all = Buffer.alloc(65536 * 2);
  for (let i = 0; i < 65536; i++) all.writeInt16LE(i - 32768, i * 2);
  const ffmpeg = (args: string[], input: Buffer) => {
    const r = spawnSync('ffmpeg', ['-v', 'error', ...args], { input, timeout: 20000, maxBuffer: 1 << 20 });
    assert.equal(r.status, 0, String(r.stderr));
    return r.stdout;
  };
  for (const [law, encode, decode, unfold] of [
    ['mulaw', encodeUlaw, decodeUlaw, (c: number) => ~c & 0xff],
    ['alaw', encodeAlaw, decodeAlaw, (c: number) => (c ^ 0x55) & 0xff],
  ] as const) {
    const ours = encode(all);
    // an independent decoder (ffmpeg's) reads our codes back within the law's quantisation step
    const back = ffmpeg(['-f', law, '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-f', 's16le', 'pipe:1'], ours);
    assert.equal(back.length, all.length);
    for (let i = 0; i < 65536; i++) {
      const v = i - 32768;
      const d = back.readInt16LE(i * 2);
      assert.ok(Math.abs(d - v) <= Math.abs(v) / 16 + 16, `${law} ${v} -> ${d}`);
      assert.equal(decode(ours[i]), d, `${law} decode of code ${ours[i]}`);
    }
    // ffmpeg's encoder rounds to the nearest level, G.711's reference truncates: they may pick the
    // neighbouring code at a decision boundary, never more
    const theirs = ffmpeg(['-f', 's16le', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-f', law, 'pipe:1'], all);
    let same = 0;
    for (let i = 0; i < 65536; i++) {
      if (ours[i] === theirs[i]) same++;
      else assert.equal(Math.abs(unfold(ours[i]) - unfold(theirs[i])), 1, `${law} ${i - 32768}: ${ours[i]} vs ffmpeg ${theirs[i]}`);
    }
    assert.ok(same / 65536 > 0.98, `${law}: ${same} of 65536 codes equal to ffmpeg's`);
  }
});

test('RTP packets carry V=2, PT, marker, sequence, timestamp and SSRC; RTCP SR maps NTP to RTP time', () => {
  const s = new RtpStream(96, 48000);
  const seq0 = s.nextSeq;
  const f1 = s.packet(Buffer.from([1, 2, 3]), 0xfffffff0 + 0x20, true); // wraps at 2^32
  assert.equal(s.senderReportDue, true, 'the first packet is followed by a sender report');
  const p1 = parseRtp(rtpOf(f1));
  const p2 = parseRtp(rtpOf(s.packet(Buffer.from([4]), 960)));
  assert.equal(s.senderReportDue, false);
  assert.equal(p1.payloadType, 96);
  assert.equal(p1.marker, true);
  assert.equal(p2.marker, false);
  assert.equal(p1.seq, seq0);
  assert.equal(p2.seq, (seq0 + 1) & 0xffff);
  assert.equal(p1.timestamp, 0x10);
  assert.equal(p1.ssrc, s.ssrc);
  assert.deepEqual([...p1.payload], [1, 2, 3]);
  const now = performance.timeOrigin + performance.now();
  const sr = s.senderReport(now + 100);
  assert.equal(sr[0] >> 6, 2);
  assert.equal(sr[1], 200);
  assert.equal(sr.readUInt32BE(4), s.ssrc);
  const ntp = ntpTime(now + 100);
  assert.equal(sr.readUInt32BE(8), ntp.sec);
  // mapped from the report's anchor, the first packet (RTP 0x10): 100 ms later is RTP 0x10 + 4800
  // (± scheduling of this test)
  assert.ok(Math.abs(sr.readUInt32BE(16) - (0x10 + 4800)) < 48 * 20, `SR rtp time ${sr.readUInt32BE(16)}`);
  assert.equal(sr.readUInt32BE(20), 2); // packets
  assert.equal(sr.readUInt32BE(24), 4); // payload octets
  assert.equal(sr[28 + 1], 202); // SDES follows
  assert.equal((sr.length - 28) % 4, 0);
  // the next report: after 5 s of RTP time (no timer, no clock read per packet), or on request
  s.packet(Buffer.from([5]), 0x10 + 5 * 48000 - 960);
  assert.equal(s.senderReportDue, false);
  s.packet(Buffer.from([6]), 0x10 + 5 * 48000);
  assert.equal(s.senderReportDue, true);
  assert.equal(s.senderReport().readUInt32BE(16), 0x10 + 5 * 48000, 'by default the report maps the packet just built');
  s.packet(Buffer.from([7]), 0x10 + 5 * 48000 + 960);
  assert.equal(s.senderReportDue, false);
  s.requestSenderReport();
  s.packet(Buffer.from([8]), 0x10 + 5 * 48000 + 1920);
  assert.equal(s.senderReportDue, true);
});

test('RTP packets are built once with the interleaved header in front: channel 0 sent as is, others framed apart', () => {
  const s = new RtpStream(0, 8000);
  const framed = s.packet(Buffer.from([9, 8, 7]), 160);
  assert.equal(framed.length, TCP_HEADROOM + 12 + 3);
  assert.deepEqual([...framed.subarray(0, 4)], [0x24, 0, 0, 15]);
  assert.equal(interleavedFor(0, framed), framed, 'channel 0: the very buffer');
  const ch4 = interleavedFor(4, framed);
  assert.notEqual(ch4, framed);
  assert.equal(framed[1], 0, 'the shared buffer is never rewritten');
  const got: { channel: number; data: Buffer }[] = [];
  const r = new RtspReader(() => {}, (f) => got.push({ channel: f.channel, data: Buffer.from(f.data) }));
  r.push(Buffer.concat([framed, ch4]));
  assert.deepEqual(got.map((f) => f.channel), [0, 4]);
  for (const f of got) {
    assert.deepEqual(f.data, rtpOf(framed));
    assert.deepEqual([...parseRtp(f.data).payload], [9, 8, 7]);
    assert.equal(parseRtp(f.data).timestamp, 160);
  }
});

test('payload encoders: SDP lines per codec (RFC 7587, RFC 3551, RFC 3640) and L16 in network byte order', () => {
  const units: EncodedUnit[] = [];
  const opus = new OpusPayloadEncoder(48000, 20, (u) => units.push(u));
  const sdp = buildSdp(opus, { sessionId: 1, address: '127.0.0.1' });
  assert.match(sdp, /m=audio 0 RTP\/AVP 96\r\n/);
  assert.match(sdp, /a=rtpmap:96 opus\/48000\/2\r\n/);
  assert.match(sdp, /a=fmtp:96 .*sprop-stereo=0/);
  assert.match(sdp, /a=control:trackID=0\r\n/);
  opus.encode(Buffer.alloc(1920), 960);
  assert.equal(units.length, 1);
  assert.equal(units[0].timestamp, 960);
  assert.ok(units[0].payload.length > 0 && units[0].payload.length < 200);
  opus.close();

  units.length = 0;
  const l16 = new L16PayloadEncoder(48000, (u) => units.push(u));
  assert.equal(l16.rtpmap, 'L16/48000/1');
  assert.equal(l16.payloadType, 97);
  assert.equal(new L16PayloadEncoder(44100, () => {}).payloadType, 11);
  const pcm = Buffer.alloc(1920);
  pcm.writeInt16LE(0x1234, 0);
  pcm.writeInt16LE(-2, 1918);
  l16.encode(pcm, 100);
  // 1920 bytes do not fit one packet: split on sample boundaries with advancing timestamps
  assert.deepEqual(units.map((u) => [u.payload.length, u.timestamp]), [[1400, 100], [520, 800]]);
  assert.deepEqual([...units[0].payload.subarray(0, 2)], [0x12, 0x34]);
  assert.deepEqual([...units[1].payload.subarray(-2)], [0xff, 0xfe]);

  const pcmu = new G711PayloadEncoder('pcmu', 8000, () => {});
  assert.deepEqual([pcmu.payloadType, pcmu.rtpmap], [0, 'PCMU/8000']);
  assert.doesNotMatch(buildSdp(pcmu, { sessionId: 1, address: '::1' }), /a=fmtp/);
  assert.match(buildSdp(pcmu, { sessionId: 1, address: '::1' }), /IN IP6 ::1/);
  const pcma = new G711PayloadEncoder('pcma', 8000, () => {});
  assert.deepEqual([pcma.payloadType, pcma.rtpmap], [8, 'PCMA/8000']);
  // AudioSpecificConfig: AAC-LC, 48 kHz (index 3) / 44.1 kHz (index 4), mono
  assert.equal(aacConfigHex(48000), '1188');
  assert.equal(aacConfigHex(44100), '1208');
});

test('Opus: reusing the settled silent packet gives the very bitstream the encoder gives for every frame', () => {
  const raw = new OpusScript(48000, 1, OpusScript.Application.AUDIO);
  raw.setBitrate(32000);
  const got: Buffer[] = [];
  const ours = new OpusPayloadEncoder(48000, 20, (u) => got.push(u.payload));
  const frames = Array.from({ length: 80 }, (_, i) => {
    const b = Buffer.alloc(1920);
    if (i >= 50 && i < 70) for (let k = 0; k < 960; k++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 1000 * (i * 960 + k)) / 48000)), k * 2);
    return b;
  });
  const expected = frames.map((f) => Buffer.from(raw.encode(f, 960)));
  frames.forEach((f, i) => ours.encode(f, i * 960));
  assert.equal(got.length, 80);
  got.forEach((p, i) => assert.ok(p.equals(expected[i]), `frame ${i}`));
  raw.delete();
  ours.close();
});

test('Opus: k silent frames in one code-3 packet decode to the very samples of k single silent packets; none before the encoder settles', () => {
  const got: Array<{ payload: Buffer; timestamp: number }> = [];
  const enc = new OpusPayloadEncoder(48000, 20, (u) => got.push(u));
  const zero = Buffer.alloc(1920);
  assert.equal(enc.encodeSilence(6, 0), 0, 'nothing to repeat yet');
  for (let i = 0; i < 30; i++) enc.encode(zero, i * 960);
  const single = got[got.length - 1].payload;
  assert.equal(single[0] & 3, 0, 'a single-frame packet');
  assert.equal(enc.encodeSilence(100, 30 * 960), 6, 'at most 120 ms in one packet (RFC 6716)');
  assert.equal(enc.encodeSilence(3, 36 * 960), 3);
  const multi = got[got.length - 1];
  assert.equal(multi.timestamp, 36 * 960);
  assert.equal(multi.payload[0], (single[0] & 0xfc) | 3, 'same configuration, code 3');
  assert.equal(multi.payload[1], 3, 'CBR, no padding, 3 frames');
  assert.equal(multi.payload.length, 2 + 3 * (single.length - 1));
  // (opusscript's decoder takes at most 60 ms per packet; ffmpeg and libopus take 120 ms, the
  // default: test/announce/silence-packets.test.ts)
  const a = new OpusScript(48000, 1);
  const b = new OpusScript(48000, 1);
  const one = Buffer.concat(Array.from({ length: 3 }, () => Buffer.from(a.decode(single))));
  const three = Buffer.from(b.decode(multi.payload));
  assert.equal(three.length, 3 * 960 * 2);
  assert.ok(three.equals(one), 'same samples');
  a.delete();
  b.delete();
  enc.close();
});

test('RtspOutput.writeSilence: G.711 sends single frames; Opus several frames per packet once settled, RTP time counting every frame', async () => {
  for (const codec of ['pcmu', 'opus'] as const) {
    const rate = codec === 'opus' ? 48000 : 8000;
    const port = await freePort();
    const out = new RtspOutput({ mode: 'serve', codec, rate, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port, path: 'x' } });
    await out.start();
    try {
      const counts: number[] = [];
      for (let i = 0; i < 20; i++) counts.push(out.writeSilence(3));
      if (codec === 'pcmu') assert.deepEqual(counts, Array(20).fill(1));
      else {
        assert.ok(counts.slice(0, 10).every((c) => c === 1), `single frames until the encoder settles: ${counts}`);
        assert.ok(counts.slice(-5).every((c) => c === 3), `then 3 per packet: ${counts}`);
      }
      const frames = counts.reduce((x, y) => x + y, 0);
      assert.equal((out as unknown as { nextTimestamp(): number }).nextTimestamp(), (frames * (codec === 'opus' ? 960 : 160)) >>> 0);
    } finally {
      await out.close();
    }
  }
});

test('RTSP framing: messages and interleaved frames split anywhere across reads', () => {
  const got: (RtspMessage | number)[] = [];
  const r = new RtspReader((m) => got.push(m), (f) => got.push(f.channel * 1000 + f.data.length));
  const bytes = Buffer.concat([
    formatMessage('RTSP/1.0 200 OK', { CSeq: 1, Session: 'abc;timeout=60' }, 'v=0\r\n'),
    interleave(1, Buffer.alloc(28)),
    formatMessage('GET_PARAMETER rtsp://h/p RTSP/1.0', { CSeq: 2 }),
  ]);
  for (let i = 0; i < bytes.length; i += 7) r.push(bytes.subarray(i, i + 7));
  assert.equal(got.length, 3);
  const res = got[0] as RtspMessage;
  assert.equal(res.status, 200);
  assert.equal(res.headers['session'], 'abc;timeout=60');
  assert.equal(res.body.toString(), 'v=0\r\n');
  assert.equal(got[1], 1028);
  assert.equal((got[2] as RtspMessage).method, 'GET_PARAMETER');
  assert.throws(() => new RtspReader(() => {}, () => {}).push(Buffer.from('HELLO\r\n\r\n')), /not an RTSP message/);
  assert.deepEqual(parseTransport('RTP/AVP/TCP;unicast;interleaved=2-3, RTP/AVP;unicast;client_port=5000-5001'), [
    { profile: 'RTP/AVP/TCP', params: { unicast: '', interleaved: '2-3' } },
    { profile: 'RTP/AVP', params: { unicast: '', client_port: '5000-5001' } },
  ]);
});

test('Digest and Basic auth: the right password passes, a wrong one and a replayed stale nonce do not', () => {
  const creds = { username: 'caller', password: 's3cret' };
  for (const scheme of ['digest', 'basic'] as const) {
    const server = new AuthChecker(creds, scheme);
    const good = new AuthAnswerer(creds);
    const bad = new AuthAnswerer({ ...creds, password: 'nope' });
    assert.ok(good.accept(server.challenge()));
    assert.ok(bad.accept(server.challenge()));
    assert.ok(server.check('DESCRIBE', good.header('DESCRIBE', 'rtsp://127.0.0.1/a')));
    assert.ok(!server.check('DESCRIBE', bad.header('DESCRIBE', 'rtsp://127.0.0.1/a')));
    assert.ok(!server.check('DESCRIBE', undefined));
  }
  const digest = new AuthChecker(creds, 'digest', 'live-audio', 1);
  const a = new AuthAnswerer(creds);
  a.accept(digest.challenge());
  const h = a.header('PLAY', 'rtsp://x/a')!;
  const until = Date.now() + 5;
  while (Date.now() < until) { /* let the 1 ms nonce expire */ }
  assert.ok(!digest.check('PLAY', h), 'an expired nonce is refused');
  // qop=auth challenges (as some servers send) are answered with nc/cnonce
  const q = new AuthAnswerer(creds);
  q.accept('Basic realm="r", Digest realm="r", nonce="n", qop="auth,auth-int", opaque="o"');
  const p = parseAuthParams(q.header('ANNOUNCE', 'rtsp://x/a')!.slice(7));
  assert.equal(p.qop, 'auth');
  assert.equal(p.nc, '00000001');
  assert.equal(p.opaque, 'o');
});

test('configuration errors are CodedErrors a user can act on', async () => {
  const base = { mode: 'serve' as const, channels: 1 as const, frameMs: 20, serve: { host: '127.0.0.1', port: 0, path: 'a' } };
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof CodedError, String(e));
      return `${e.code}: ${e.message}`;
    }
    return 'no error';
  };
  assert.match(code(() => new RtspOutput({ ...base, codec: 'pcmu', rate: 16000 })), /^rtsp\.badConfig: .*8000 Hz only/);
  assert.match(code(() => new RtspOutput({ ...base, codec: 'xyz' as 'opus', rate: 48000 })), /^rtsp\.badConfig: .*codec xyz/);
  assert.match(code(() => new RtspOutput({ ...base, mode: 'push', serve: undefined, codec: 'opus', rate: 48000, push: { url: 'http://x/y' } })), /^rtsp\.badUrl/);
  assert.deepEqual(parseRtspUrl('rtsp://u%40x:p%3Aw@[::1]:8554/live/a').auth, { username: 'u@x', password: 'p:w' });
  assert.equal(parseRtspUrl('rtsp://u:p@host/a').cleanUrl, 'rtsp://host/a');
  const opus16 = new RtspOutput({ ...base, codec: 'opus', rate: 16000 });
  await opus16.start();
  assert.match(code(() => opus16.writeFrame(Buffer.alloc(100))), /^rtsp\.badFrame: .*640 bytes/);
  await opus16.close();
  // AAC without ffmpeg: a clear error at start
  const aac = new RtspOutput({ ...base, codec: 'aac', rate: 48000, ffmpegPath: '/nonexistent/ffmpeg' });
  await assert.rejects(aac.start(), (e: CodedError) => e.code === 'rtsp.ffmpegMissing' && /install ffmpeg/.test(e.message) && !/apt-get/.test(e.message));
  assert.equal(findExecutable(process.execPath), process.execPath);
  assert.equal(ffmpegMissing('x').code, 'rtsp.ffmpegMissing');
});

test('serve: a taken port rejects start() with rtsp.portInUse; frames without listeners are fine', async () => {
  const port = await freePort();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
  try {
    const out = new RtspOutput({ mode: 'serve', codec: 'pcmu', rate: 8000, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port, path: 'a' } });
    await assert.rejects(out.start(), (e: CodedError) => e.code === 'rtsp.portInUse' && e.message.includes(String(port)));
    assert.equal(out.state, 'closed');
    await out.close();
  } finally {
    blocker.close();
  }
  const out = new RtspOutput({ mode: 'serve', codec: 'pcmu', rate: 8000, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port, path: '/a/' } });
  await out.start();
  assert.equal(out.url, `rtsp://127.0.0.1:${port}/a`);
  assert.equal(out.state, 'listening');
  for (let i = 0; i < 10; i++) out.writeFrame(Buffer.alloc(320));
  assert.deepEqual(out.stats(), { packetsSent: 0, bytesSent: 0, listeners: 0, reconnects: 0, framesDropped: 0, setupsRefused: 0, playersDropped: 0, connectionsTimedOut: 0 });
  await out.close();
  assert.equal(out.state, 'closed');
  out.writeFrame(Buffer.alloc(320)); // after close: ignored, no throw
});

test('push: an unreachable server never rejects start(); it retries with growing back-off and drops frames meanwhile', async () => {
  const port = await freePort(); // nothing listens there
  const out = new RtspOutput({ mode: 'push', codec: 'opus', rate: 48000, channels: 1, frameMs: 20, push: { url: `rtsp://127.0.0.1:${port}/x`, backoff: { initialMs: 50, maxMs: 400 } } });
  const states: string[] = [];
  const errors: CodedError[] = [];
  out.on('state', (s: string) => states.push(s));
  out.on('error', (e: CodedError) => errors.push(e));
  await out.start();
  for (let i = 0; i < 5; i++) out.writeFrame(Buffer.alloc(1920));
  await until(() => out.stats().reconnects >= 3, 10000, 'three reconnect attempts');
  await out.close();
  assert.equal(states[0], 'connecting');
  assert.ok(states.includes('reconnecting'));
  assert.equal(states.at(-1), 'closed');
  assert.equal(errors[0].code, 'rtsp.pushFailed');
  assert.match(errors[0].message, /ECONNREFUSED/);
  assert.match(out.stats().lastError ?? '', /ECONNREFUSED/);
  assert.equal(out.stats().framesDropped, 5);
  const n = out.stats().reconnects;
  await sleep(600);
  assert.equal(out.stats().reconnects, n, 'no attempts after close');
});

test('serve answers what it does not do with the right RTSP status', async () => {
  const out = new RtspOutput({ mode: 'serve', codec: 'pcmu', rate: 8000, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port: 0, path: 'announce', sessionTimeoutSec: 30 } });
  await out.start();
  const { connect } = await import('node:net');
  const sock = connect(Number(new URL(out.url).port), '127.0.0.1');
  try {
    await new Promise((r) => sock.once('connect', r));
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    let cseq = 0;
    const ask = async (method: string, url: string, extra = ''): Promise<string> => {
      const n = ++cseq;
      const from = text.length;
      sock.write(`${method} ${url} RTSP/1.0\r\nCSeq: ${n}\r\n${extra}\r\n`);
      await until(() => new RegExp(`CSeq: ${n}\r\n`).test(text.slice(from)), 5000, `${method} answer`);
      return text.slice(from).split('\r\n')[0];
    };
    const url = out.url;
    assert.match(await ask('OPTIONS', url), /200 OK/);
    assert.match(text, /Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER/);
    assert.match(await ask('DESCRIBE', url.replace('/announce', '/other')), /404 Not Found/);
    assert.match(await ask('PLAY', url, 'Session: NOPE\r\n'), /454 Session Not Found/);
    assert.match(await ask('SETUP', `${url}/trackID=0`, 'Transport: RTP/AVP;multicast;port=5000-5001\r\n'), /461 Unsupported Transport/);
    assert.match(await ask('ANNOUNCE', url), /405 Method Not Allowed/);
    assert.match(await ask('DESCRIBE', url, 'Require: com.example.feature\r\n'), /551 Option not supported/);
    assert.match(await ask('RECORD2', url), /501 Not Implemented/);
    assert.match(await ask('SETUP', `${url}/trackID=0`, 'Transport: RTP/AVP/TCP;unicast;interleaved=4-5\r\n'), /200 OK/);
    assert.match(text, /Transport: RTP\/AVP\/TCP;unicast;interleaved=4-5\r\nSession: \w+;timeout=30/);
  } finally {
    sock.destroy();
    await out.close();
  }
});

test('serve, TCP: an idle connection times out; a playing one does not while it reads; one that stops reading is closed after the timeout', async () => {
  const out = new RtspOutput({ mode: 'serve', codec: 'l16', rate: 48000, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port: 0, path: 'announce', sessionTimeoutSec: 1 } });
  await out.start();
  const { connect } = await import('node:net');
  const port = Number(new URL(out.url).port);
  const open = async () => {
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now())));
    return { sock, closed };
  };
  const idle = await open();
  const player = await open();
  const writer = setInterval(() => out.writeFrame(Buffer.alloc(1920)), 20);
  try {
    let text = '';
    player.sock.on('data', (d) => {
      if (text.length < 4096) text += d.toString('latin1');
    });
    player.sock.write(`SETUP ${out.url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
    await until(() => /Session: (\w+)/.test(text), 5000, 'SETUP answer');
    const session = /Session: (\w+)/.exec(text)![1];
    player.sock.write(`PLAY ${out.url} RTSP/1.0\r\nCSeq: 2\r\nSession: ${session}\r\n\r\n`);
    await until(() => out.players === 1, 5000, 'playing');
    // the connection that never asked for anything is dropped after the timeout (1 s)
    const t0 = Date.now();
    await Promise.race([idle.closed, sleep(5000)]);
    assert.ok(idle.sock.destroyed && Date.now() - t0 < 4000, 'the idle connection was closed');
    // the player reads: still playing after three timeouts
    await sleep(3000);
    assert.equal(out.players, 1, 'a reading player stays');
    // it stops reading: its bytes pile up (frames written faster than real time fill the kernel
    // buffers) until the server drops packets for it, and the sweep closes it after the timeout
    player.sock.pause();
    clearInterval(writer);
    const frame = Buffer.alloc(1920, 1);
    for (let i = 0; i < 12000 && out.players === 1; i++) {
      out.writeFrame(frame);
      if (i % 500 === 0) await sleep(10);
    }
    await until(() => out.players === 0, 10000, 'the stalled player closed');
  } finally {
    clearInterval(writer);
    idle.sock.destroy();
    player.sock.destroy();
    await out.close();
  }
});

test('AAC: a relative ffmpeg path is taken from the user directory (baseDir), not the working directory; the error names every platform\'s install', { skip: missingPeer('ffmpeg') || (process.platform === 'win32' && 'links the ffmpeg program with a symlink') }, async () => {
  const userDir = mkdtempSync(join(tmpdir(), 'aac-userdir-'));
  try {
    mkdirSync(join(userDir, 'tools'));
    symlinkSync(findExecutable('ffmpeg')!, join(userDir, 'tools', 'ffmpeg'));
    const base = { mode: 'serve' as const, channels: 1 as const, frameMs: 20, serve: { host: '127.0.0.1', port: 0, path: 'a' } };
    const aac = new RtspOutput({ ...base, codec: 'aac', rate: 48000, ffmpegPath: 'tools/ffmpeg', baseDir: userDir });
    await aac.start();
    await aac.close();
    // the same relative name from a directory that lacks it: a clear error, on every platform
    const missing = new RtspOutput({ ...base, codec: 'aac', rate: 48000, ffmpegPath: 'tools/ffmpeg', baseDir: tmpdir() });
    await assert.rejects(missing.start(), (e: CodedError) => e.code === 'rtsp.ffmpegMissing' && /winget install ffmpeg/.test(e.message) && /brew install ffmpeg/.test(e.message));
    await missing.close();
  } finally {
    rmSync(userDir, { recursive: true, force: true });
  }
});
