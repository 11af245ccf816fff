/**
 * The H.264 video track's parts: the RFC 6184 packetizer (single NAL units, FU-A fragments with
 * their start/end bits, the marker bit on an access unit's last packet, AUDs dropped), the SDP's
 * fmtp from the SPS/PPS, and the ffmpeg encoder child (each access unit stamped with the RTP time
 * asked for, an IDR with SPS/PPS in-band at least every `fps` frames, the child released on close;
 * a still board looped from the last two GOPs with the child fed no more, a player that starts
 * getting an IDR at once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RtspOutput } from '../../lib/rtsp';
import type { CodedError } from '../../lib/util/errors';
import { H264Coder, findH264Ffmpeg } from '../../lib/rtsp/h264';
import { H264_MAX_PAYLOAD, NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, depacketizeH264, h264Fmtp, h264Payloads, idrPicId, nalType, parseAvcC, parseSpsLayout, splitLengthPrefixed } from '../../lib/rtsp/h264-rtp';
import { VideoTrack, type VideoCoder, type VideoFrameOut } from '../../lib/rtsp/video-track';
import { parseRtp, rtpOf } from '../../lib/rtsp/rtp';
import { encodeJpeg } from '../../lib/video/jpeg';
import { missingPeer } from '../support/peers';
import { until } from '../support/processes';
import { RawRtsp } from '../rtsp/hostile-clients';

function nal(type: number, length: number, nri = 3): Buffer {
  const b = Buffer.alloc(length);
  b[0] = (nri << 5) | type;
  for (let i = 1; i < length; i++) b[i] = (i * 7) & 0xff;
  return b;
}

test('RFC 6184 packetizer: small NAL units go out whole, large ones as FU-A with S/E bits; AUDs are dropped; the receiver rebuilds every NAL unit', () => {
  const sps = nal(NAL_SPS, 20);
  const pps = nal(NAL_PPS, 6);
  const idr = nal(NAL_IDR, 5000);
  const payloads = h264Payloads([nal(NAL_AUD, 2, 0), sps, pps, idr]);
  assert.equal(payloads[0], sps, 'the SPS as a single NAL unit packet (the AUD dropped)');
  assert.equal(payloads[1], pps);
  const fus = payloads.slice(2);
  assert.equal(fus.length, Math.ceil((5000 - 1) / (H264_MAX_PAYLOAD - 2)));
  for (const [i, p] of fus.entries()) {
    assert.ok(p.length <= H264_MAX_PAYLOAD);
    assert.equal(p[0], (3 << 5) | 28, 'FU indicator: F=0, the NAL unit\'s NRI, type 28');
    assert.equal(p[1] & 0x1f, NAL_IDR, 'FU header: the original type');
    assert.equal((p[1] & 0x80) !== 0, i === 0, 'S bit on the first fragment only');
    assert.equal((p[1] & 0x40) !== 0, i === fus.length - 1, 'E bit on the last fragment only');
    assert.equal(p[1] & 0x20, 0, 'R bit zero');
  }
  assert.deepEqual(depacketizeH264(payloads), [sps, pps, idr]);
  // a NAL unit exactly at the limit is still sent whole; one byte more is fragmented
  assert.equal(h264Payloads([nal(NAL_IDR, H264_MAX_PAYLOAD)]).length, 1);
  assert.equal(h264Payloads([nal(NAL_IDR, H264_MAX_PAYLOAD + 1)]).length, 2);
  assert.deepEqual(depacketizeH264(h264Payloads([nal(1, H264_MAX_PAYLOAD + 1, 2)])), [nal(1, H264_MAX_PAYLOAD + 1, 2)]);
});

test('SDP fmtp from the SPS and PPS: packetization-mode=1, profile-level-id, sprop-parameter-sets; avcC and length-prefixed access units read back', () => {
  const sps = Buffer.from('6742c01fda014016ec0440000003004000000c83c60ca8', 'hex');
  const pps = Buffer.from('68ce0f2c80', 'hex');
  assert.equal(h264Fmtp(sps, pps), `packetization-mode=1;profile-level-id=42c01f;sprop-parameter-sets=${sps.toString('base64')},${pps.toString('base64')}`);
  const avcC = Buffer.concat([Buffer.from([1, 0x42, 0xc0, 0x1f, 0xff, 0xe1]), Buffer.from([0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps]);
  assert.deepEqual(parseAvcC(avcC), { sps, pps, lengthSize: 4 });
  const au = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from([0x65, 1, 2]), Buffer.from([0, 0, 0, 2]), Buffer.from([0x41, 9])]);
  assert.deepEqual(splitLengthPrefixed(au, 4), [Buffer.from([0x65, 1, 2]), Buffer.from([0x41, 9])]);
  assert.throws(() => splitLengthPrefixed(au.subarray(0, 12), 4), /longer than its access unit/);
});

test('VideoTrack with a coder that answers later: each frame goes out with the RTP time it was asked for, the marker bit on its last packet only', () => {
  const asked: number[] = [];
  let out: VideoFrameOut | undefined;
  const coder: VideoCoder = {
    payloadType: 96,
    rtpmap: 'H264/90000',
    followUps: 1,
    attach: (o) => void (out = o),
    setPicture: () => {},
    frame: (ts) => void asked.push(ts),
    close: async () => {},
  };
  const packets: { ts: number; marker: boolean; pt: number }[] = [];
  const track = new VideoTrack(2, 320, 240, (ps) => {
    for (const p of ps) {
      const r = parseRtp(rtpOf(p));
      packets.push({ ts: r.timestamp, marker: r.marker, pt: r.payloadType });
    }
  }, 'cname', coder);
  track.show(Buffer.alloc(0), 1000);
  track.tick(1020);
  assert.deepEqual(asked, [90000, 91800], 'a change, and again 20 ms later');
  assert.equal(packets.length, 0, 'nothing sent before the coder answers');
  out!(h264Payloads([nal(NAL_SPS, 10), nal(NAL_PPS, 4), nal(NAL_IDR, 3000)]), asked[0]);
  out!(h264Payloads([nal(1, 30)]), asked[1]);
  assert.deepEqual(packets.map((p) => p.marker), [false, false, false, false, true, true]);
  assert.ok(packets.slice(0, 5).every((p) => p.ts === 90000 && p.pt === 96));
  assert.equal(packets[5].ts, 91800);
  assert.equal(track.framesSent, 2);
});

function board(w: number, h: number, v: number): Buffer {
  const px = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) px.set([v, (i % w) & 255, (i / w) & 255, 255], i * 4);
  return encodeJpeg(px, w, h, 85).jpeg;
}

test('H264Coder (ffmpeg + libx264): SPS/PPS known at once, every frame back with its RTP time in order, an IDR with SPS/PPS in-band at least every fps frames; close ends the child', { skip: missingPeer('ffmpeg') }, async () => {
  const errors: Error[] = [];
  const coder = new H264Coder({ ffmpeg: findH264Ffmpeg({}), fps: 3, width: 320, height: 240, payloadType: 96, onLog: () => {}, onError: (e) => void errors.push(e) });
  const frames: { ts: number; nals: Buffer[] }[] = [];
  coder.attach((payloads, ts) => frames.push({ ts, nals: depacketizeH264(payloads) }));
  try {
    await Promise.race([coder.ready, new Promise((_, r) => setTimeout(() => r(new Error('no SPS/PPS in 20 s')), 20000))]);
    assert.match(coder.fmtp!, /^packetization-mode=1;profile-level-id=[0-9a-f]{6};sprop-parameter-sets=[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+$/);
    const pics = [board(320, 240, 20), board(320, 240, 220)];
    for (let i = 0; i < 12; i++) {
      if (i % 4 === 0) coder.setPicture(pics[(i / 4) % 2]);
      coder.frame(1000 + i * 3000);
      await new Promise((r) => setTimeout(r, 30));
    }
    await until(() => frames.length === 12, 20000, `12 access units back (${frames.length})`);
    assert.deepEqual(frames.map((f) => f.ts), Array.from({ length: 12 }, (_, i) => 1000 + i * 3000), 'each with the RTP time asked for, in order');
    const types = frames.map((f) => f.nals.map(nalType));
    // the child's first frame (an IDR) was the blank picture that told the SPS and PPS
    let sinceIdr = 0;
    for (const t of types) {
      assert.ok(!t.includes(NAL_AUD), 'no AUD');
      if (t.includes(NAL_IDR)) {
        assert.deepEqual(t.slice(0, 2), [NAL_SPS, NAL_PPS], 'SPS and PPS in front of every IDR');
        sinceIdr = 0;
      } else sinceIdr++;
      assert.ok(sinceIdr < 3, `an IDR at least every 3 frames: ${types.map((x) => (x.includes(NAL_IDR) ? 'I' : 'P')).join('')}`);
    }
    assert.ok(types.filter((t) => t.includes(NAL_IDR)).length >= 4, 'IDRs');
    assert.equal(errors.length, 0);
  } finally {
    const pid = coder.pid!;
    await coder.close();
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the ffmpeg child is gone');
  }
});

test('an ffmpeg that cannot encode H.264 (here: a stand-in that says "Unknown encoder \'libx264\'" and exits): start() fails at once with its words', { skip: process.platform === 'win32' && 'the stand-in ffmpeg is a shell script' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fake-ffmpeg-'));
  try {
    const fake = join(dir, 'ffmpeg');
    writeFileSync(fake, '#!/bin/sh\necho "Unknown encoder \'libx264\'" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const base = { mode: 'serve' as const, codec: 'opus' as const, rate: 48000, channels: 1 as const, frameMs: 20, serve: { host: '127.0.0.1', port: 0, path: 'a' }, video: { fps: 2, width: 320, height: 240, codec: 'h264' as const } };
    const out = new RtspOutput({ ...base, ffmpegPath: fake });
    const errors: CodedError[] = [];
    out.on('error', (e: CodedError) => void errors.push(e));
    const t0 = Date.now();
    await assert.rejects(out.start(), (e: CodedError) => e.code === 'video.h264Failed' && /Unknown encoder 'libx264'/.test(e.message));
    assert.ok(Date.now() - t0 < 10000, 'not after the whole start timeout');
    assert.equal(out.state, 'closed');
    assert.match(errors[0]?.message ?? '', /H\.264 encoder\) exited with code 1: Unknown encoder 'libx264'/);
    await out.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('H.264: a close while start() waits for the encoder\'s first picture ends both at once', { skip: missingPeer('ffmpeg') }, async () => {
  const out = new RtspOutput({ mode: 'serve', codec: 'opus', rate: 48000, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port: 0, path: 'a' }, video: { fps: 2, width: 320, height: 240, codec: 'h264' } });
  out.on('error', () => {});
  const started = out.start().then(() => 'started', (e: CodedError) => e.code);
  const t0 = Date.now();
  await out.close();
  assert.ok(['started', 'video.h264Failed'].includes(await started));
  assert.ok(Date.now() - t0 < 3000, `closed in ${Date.now() - t0} ms`);
  assert.equal(out.players, 0);
});

test('H.264 DESCRIBE: m=video with the first dynamic payload type the audio leaves free, H264/90000, packetization-mode=1, profile-level-id and sprop-parameter-sets from the encoder\'s SPS/PPS', { skip: missingPeer('ffmpeg') }, async () => {
  for (const [codec, rate, audioPt, videoPt] of [['opus', 48000, 96, 97], ['pcmu', 8000, 0, 96]] as const) {
    const out = new RtspOutput({ mode: 'serve', codec, rate, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port: 0, path: 'a' }, video: { fps: 2, width: 320, height: 240, codec: 'h264' } });
    out.on('error', () => {});
    await out.start();
    const c = new RawRtsp(Number(new URL(out.url).port));
    try {
      await c.opened;
      const d = await c.request('DESCRIBE', out.url, { Accept: 'application/sdp' });
      assert.equal(d.status, 200);
      assert.match(d.body, new RegExp(`m=audio 0 RTP/AVP ${audioPt}\\r\\n`));
      assert.match(d.body, new RegExp(`m=video 0 RTP/AVP ${videoPt}\\r\\na=rtpmap:${videoPt} H264/90000\\r\\na=fmtp:${videoPt} packetization-mode=1;profile-level-id=42c0[0-9a-f]{2};sprop-parameter-sets=Z[A-Za-z0-9+/=]+,a[A-Za-z0-9+/=]+\\r\\n`), d.body);
      assert.match(d.body, /a=control:trackID=1/);
    } finally {
      c.sock.destroy();
      await out.close();
    }
  }
});

test('VideoTrack between announcements (120 ms Opus packets): pictures at most a period apart, so an IDR every fps pictures is at most a second apart', () => {
  const sent: number[] = [];
  const coder: VideoCoder = { payloadType: 96, rtpmap: 'H264/90000', followUps: 1, attach: () => {}, setPicture: () => {}, frame: (ts) => void sent.push(ts / 90), close: async () => {} };
  const track = new VideoTrack(2, 320, 240, () => {}, 'cname', coder);
  track.show(Buffer.alloc(0), 0);
  for (let t = 0; t <= 6000; t += 120) track.tick(t, t + 120);
  const gaps = sent.slice(1).map((x, i) => x - sent[i]);
  assert.ok(Math.max(...gaps) <= 500, `pictures ${sent.join(' ')} ms`);
  assert.ok(sent.length >= 12, `${sent.length} pictures in 6 s at 2 fps`);
  // every fps (2) pictures span at most a second
  for (let i = 2; i < sent.length; i++) assert.ok(sent[i] - sent[i - 2] <= 1000, `pictures ${sent[i - 2]} and ${sent[i]}`);
});

test('VideoTrack: a new picture is followed by the coder\'s followUps frames one audio frame apart (H.264: 10, for frame-threaded decoders), then re-sent every period', () => {
  const sent: number[] = [];
  const coder: VideoCoder = { payloadType: 96, rtpmap: 'H264/90000', followUps: H264Coder.FOLLOW_UPS, attach: () => {}, setPicture: () => {}, frame: (ts) => void sent.push(ts / 90), close: async () => {} };
  const track = new VideoTrack(2, 320, 240, () => {}, 'cname', coder);
  track.show(Buffer.alloc(0), 1000);
  for (let t = 1020; t <= 2500; t += 20) track.tick(t, t + 20);
  assert.deepEqual(sent.slice(0, 12), [1000, 1020, 1040, 1060, 1080, 1100, 1120, 1140, 1160, 1180, 1200, 1700], `pictures at ${sent.join(' ')} ms`);
  assert.equal(sent[12], 2200);
});

for (const fps of [1, 2]) {
  test(`H264Coder, a still board at ${fps} fps: after two GOPs of a picture the child gets no more frames, the last two GOPs are looped; a change goes to the child again and out as an IDR; the stream decodes without errors, shows each board, and no two IDRs in a row share an idr_pic_id`, { skip: missingPeer('ffmpeg') }, async () => {
    const errors: Error[] = [];
    const logs: string[] = [];
    const coder = new H264Coder({ ffmpeg: findH264Ffmpeg({}), fps, width: 320, height: 240, payloadType: 96, onLog: (l) => void logs.push(l), onError: (e) => void errors.push(e) });
    const frames: { ts: number; nals: Buffer[] }[] = [];
    coder.attach((payloads, ts) => frames.push({ ts, nals: depacketizeH264(payloads) }));
    const dir = mkdtempSync(join(tmpdir(), 'h264-loop-'));
    try {
      await Promise.race([coder.ready, new Promise((_, r) => setTimeout(() => r(new Error('no SPS/PPS in 20 s')), 20000))]);
      const sps = parseSpsLayout(Buffer.from(coder.fmtp!.split('sprop-parameter-sets=')[1].split(',')[0], 'base64'));
      let ts = 0;
      // one frame at a time, each back before the next is asked for (as at fps: a period is far longer than an encoding)
      const step = async (): Promise<void> => {
        const n = frames.length;
        coder.frame((ts += 3000));
        await until(() => frames.length === n + 1, 20000, `frame ${n + 1} back`);
      };
      const segments: { start: number; encodedAtChange: number; idrAtChange: boolean }[] = [];
      const show = async (v: number, lastOut: 'loopFirst' | 'loopLast'): Promise<void> => {
        // a change right after the loop's first IDR (the child's next IDR would have its
        // idr_pic_id), or after its last frame
        const want = lastOut === 'loopFirst' ? 1 : 0;
        for (let i = 0; i < 2 * fps && coder.framesLooped % (2 * fps) !== want; i++) await step();
        assert.equal(coder.framesLooped % (2 * fps), want, 'the loop at the position wanted');
        coder.setPicture(board(320, 240, v));
        const encodedAtChange = coder.framesEncoded;
        await step();
        segments.push({ start: frames.length - 1, encodedAtChange, idrAtChange: frames.at(-1)!.nals.some((n) => nalType(n) === NAL_IDR) });
        for (let i = 0; i < 3 * fps + 1; i++) await step();
        // still: from here on the child is not fed
        const encoded = coder.framesEncoded;
        for (let i = 0; i < 4 * fps + 2; i++) await step();
        assert.equal(coder.framesEncoded, encoded, `no picture written to the child while the board is still (board ${v})`);
        assert.ok(encoded - encodedAtChange <= 3 * fps + 1, `at most two GOPs and the rest of the one the change fell in encoded (${encoded - encodedAtChange})`);
      };
      await show(20, 'loopLast');
      await show(220, 'loopFirst');
      await show(120, 'loopLast');
      // a player starts while the board loops (refresh): the next frame is one of the loop's IDRs,
      // from any position in the loop (the idr_pic_id and decoding checks below cover these too)
      for (let k = 0; k < 2 * fps + 1; k++) {
        coder.refresh();
        await step();
        assert.ok(frames.at(-1)!.nals.some((n) => nalType(n) === NAL_IDR), `an IDR right after a refresh (${k} frames after the one before)`);
        for (let i = 0; i < k; i++) await step();
      }
      assert.ok(coder.framesLooped >= 3 * (4 * fps + 2));
      assert.deepEqual(segments.slice(1).map((s) => s.idrAtChange), [true, true], 'a change after the loop started goes out as an IDR');
      assert.deepEqual(frames.map((f) => f.ts), Array.from({ length: frames.length }, (_, i) => 3000 * (i + 1)), 'every frame with its RTP time, in order');

      // no two IDR access units in a row with one idr_pic_id (H.264 7.4.3)
      const ids = frames.map((f) => {
        const idr = f.nals.find((n) => nalType(n) === NAL_IDR);
        return idr ? idrPicId(idr, sps) : undefined;
      });
      for (let i = 1; i < ids.length; i++) {
        if (ids[i] !== undefined && ids[i - 1] !== undefined) assert.notEqual(ids[i], ids[i - 1], `IDRs ${i - 1} and ${i} in a row: ${ids.map((x) => (x === undefined ? 'P' : `I${x}`)).join(' ')}`);
      }

      // the stream as a player gets it (Annex B from the depacketized RTP payloads) decodes cleanly
      // from its first IDR (the first board came in the GOP of the child's first, unsent, picture)
      const first = ids.findIndex((x) => x !== undefined);
      assert.ok(first >= 0 && first < fps, `an IDR within the first board's first GOP (${first})`);
      const file = join(dir, 'loop.h264');
      writeFileSync(file, Buffer.concat(frames.slice(first).flatMap((f) => f.nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]))));
      const r = spawnSync('ffmpeg', ['-v', 'error', '-threads', '1', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { timeout: 60000, maxBuffer: 256 * 1024 * 1024 });
      assert.equal(r.status, 0, String(r.stderr));
      assert.equal(String(r.stderr), '', 'ffmpeg decodes without an error');
      const size = 320 * 240;
      assert.equal(r.stdout.length, (frames.length - first) * size, 'every frame decoded');
      const mean = (i: number): number => {
        let sum = 0;
        for (let o = (i - first) * size; o < (i - first + 1) * size; o++) sum += r.stdout[o];
        return sum / size;
      };
      const boards: number[] = [];
      for (const [k, s] of segments.entries()) {
        const end = k + 1 < segments.length ? segments[k + 1].start : frames.length;
        const m = mean(s.start + 2 * fps);
        boards.push(m);
        for (let i = Math.max(s.start, first); i < end; i++) assert.ok(Math.abs(mean(i) - m) < 3, `frame ${i} shows board ${k} (mean luma ${mean(i).toFixed(1)} vs ${m.toFixed(1)})`);
      }
      assert.ok(Math.abs(boards[0] - boards[1]) > 20 && Math.abs(boards[1] - boards[2]) > 10, `the three boards differ: ${boards.map((b) => b.toFixed(1)).join(' ')}`);
      assert.equal(errors.length, 0);
      assert.ok(!logs.some((l) => /still board|loop/.test(l)), logs.join('\n'));
    } finally {
      await coder.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
