/**
 * The video board's parts without a player: the JPEG encoder (decoded by jpeg-js, compared by
 * PSNR), the RTP/JPEG packetizer (RFC 2435 headers, reassembly, refusals), msg.image decoding and
 * letterboxing, the built-in board with a CJK .ttc font (and the README's screenshot of it), the
 * SDP with both tracks, and the server's per-track SETUP over a raw socket.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Socket, connect } from 'node:net';
import { join } from 'node:path';
import * as jpegJs from 'jpeg-js';
import { encodeJpeg } from '../../lib/video/jpeg';
import { jpegPayloads, parseJpeg } from '../../lib/rtsp/jpeg-rtp';
import { decodeImage, fitImage } from '../../lib/video/image';
import { BoardRenderer, DEFAULT_TEMPLATE, NUMBER_REGION, boardSvg } from '../../lib/video/board';
import { buildSdp } from '../../lib/rtsp/sdp';
import { RtspOutput, parseRtp } from '../../lib/rtsp';
import type { CodedError } from '../../lib/util/errors';
import { missingPeer } from '../support/peers';
import { repoRoot } from '../support/node-red-process';
import { freePort, until } from '../support/processes';
import { CJK_FONT, decodeJpeg, decodePng, encodePng, psnr, scaled, type Rgba } from './support';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A picture with gradients, hard edges and colours: what a board has. */
function testPicture(width: number, height: number): Rgba {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const box = x > width / 4 && x < (3 * width) / 4 && y > height / 3 && y < (2 * height) / 3;
      data[o] = box ? 255 : (x * 255) / width;
      data[o + 1] = box ? 213 : (y * 255) / height;
      data[o + 2] = box ? 74 : 120;
      data[o + 3] = 255;
    }
  }
  return { data, width, height };
}

test('encodeJpeg: baseline 4:2:0 JPEG that jpeg-js decodes close to the source, any size', () => {
  // a tiny picture is mostly hard colour edges, where 4:2:0 chroma costs most: a lower bound there
  for (const [w, h, minDb] of [[320, 240, 35], [1280, 720, 35], [100, 37, 25]]) {
    const src = testPicture(w, h);
    const { jpeg, qtables } = encodeJpeg(src.data, w, h, 90);
    assert.equal(qtables.length, 128);
    const back = decodeJpeg(jpeg);
    assert.equal(back.width, w);
    assert.equal(back.height, h);
    const db = psnr(src, back);
    assert.ok(db >= minDb, `${w}×${h}: PSNR ${db.toFixed(1)} dB`);
    if (w % 8 === 0 && h % 8 === 0) assert.equal(parseJpeg(jpeg).type, 1, '4:2:0 is RTP/JPEG type 1');
  }
});

test('jpegPayloads: RFC 2435 headers (type 1, Q 255, size/8, offsets), tables in the first packet only, the scan reassembles', () => {
  const src = testPicture(640, 368);
  const { jpeg, qtables } = encodeJpeg(src.data, 640, 368, 85);
  const f = parseJpeg(jpeg);
  assert.deepEqual([f.width, f.height, f.type], [640, 368, 1]);
  assert.deepEqual(f.qtables, qtables);
  const ps = jpegPayloads(f, 1000);
  assert.ok(ps.length > 3);
  const scan: Buffer[] = [];
  let expect = 0;
  ps.forEach((p, i) => {
    assert.ok(p.length <= 1000);
    assert.equal(p.readUIntBE(1, 3), expect, `fragment offset of packet ${i}`);
    assert.deepEqual([p[4], p[5], p[6], p[7]], [1, 255, 80, 46]);
    let off = 8;
    if (i === 0) {
      assert.deepEqual([p[8], p[9], p.readUInt16BE(10)], [0, 0, 128]);
      assert.deepEqual(p.subarray(12, 140), qtables);
      off = 140;
    }
    scan.push(p.subarray(off));
    expect += p.length - off;
  });
  assert.deepEqual(Buffer.concat(scan), f.scan);
  assert.equal(jpeg.subarray(jpeg.length - 2).toString('hex'), 'ffd9');
});

test('parseJpeg refuses what RTP/JPEG cannot carry: 4:4:4 (jpeg-js), odd sizes, not a JPEG', () => {
  const src = testPicture(64, 64);
  const j444 = jpegJs.encode({ data: Buffer.from(src.data), width: 64, height: 64 }, 80).data;
  assert.throws(() => parseJpeg(j444), (e: CodedError) => e.code === 'video.badJpeg' && /sampling/.test(e.message));
  const odd = encodeJpeg(testPicture(100, 37).data, 100, 37).jpeg;
  assert.throws(() => parseJpeg(odd), (e: CodedError) => e.code === 'video.badJpeg' && /multiples of 8/.test(e.message));
  assert.throws(() => parseJpeg(Buffer.from('hello')), (e: CodedError) => e.code === 'video.badJpeg');
});

test('decodeImage + fitImage: a PNG (with alpha) and a JPEG are letterboxed onto the board; broken files are video.badImage', () => {
  const wide = testPicture(400, 100);
  const png = encodePng(wide);
  const img = decodeImage(png);
  assert.deepEqual([img.width, img.height], [400, 100]);
  const fitted = fitImage(img, 320, 240);
  // 400×100 → 320×80 in the middle: black bars above and below, the picture in between
  const at = (x: number, y: number) => [...fitted.subarray((y * 320 + x) * 4, (y * 320 + x) * 4 + 4)];
  assert.deepEqual(at(160, 10), [0, 0, 0, 255]);
  assert.deepEqual(at(160, 230), [0, 0, 0, 255]);
  assert.deepEqual(at(160, 120).slice(0, 3), [255, 213, 74]);
  const jpg = encodeJpeg(testPicture(200, 200).data, 200, 200, 95).jpeg;
  const j = decodeImage(jpg);
  assert.ok(psnr(testPicture(200, 200), { data: fitImage(j, 200, 200), width: 200, height: 200 }) > 30);
  // half-transparent PNG pixels are composed over black
  const alpha = testPicture(16, 16);
  for (let i = 3; i < alpha.data.length; i += 4) alpha.data[i] = 128;
  const a = fitImage(decodeImage(encodePng(alpha)), 16, 16);
  assert.ok(Math.abs(a[0] - Math.round(alpha.data[0] / 2)) <= 1, `${a[0]} vs ${alpha.data[0]}/2`);
  for (const bad of [png.subarray(0, 60), Buffer.concat([jpg.subarray(0, 200), Buffer.alloc(50)]), Buffer.from('GIF89a'), 'text', undefined]) {
    assert.throws(() => decodeImage(bad), (e: CodedError) => e.code === 'video.badImage', String(bad));
  }
});

test('buildSdp with video: an audio and a video track (RTP/JPEG 26), each with its control', () => {
  const sdp = buildSdp({ payloadType: 96, rtpmap: 'opus/48000/2', fmtp: 'sprop-stereo=0' }, { sessionId: 1, address: '127.0.0.1', video: { payloadType: 26, rtpmap: 'JPEG/90000', fps: 2, width: 1280, height: 720 } });
  const lines = sdp.trim().split('\r\n');
  const audio = lines.indexOf('m=audio 0 RTP/AVP 96');
  const video = lines.indexOf('m=video 0 RTP/AVP 26');
  assert.ok(audio > 0 && video > audio, sdp);
  assert.ok(lines.slice(audio, video).includes('a=control:trackID=0'));
  assert.ok(lines.slice(video).includes('a=control:trackID=1'));
  assert.ok(lines.slice(video).includes('a=rtpmap:26 JPEG/90000'));
});

test('the board: CJK title and calls drawn from a .ttc font, the number region changes with the number; README screenshot', { skip: missingPeer('fonts-noto-cjk') }, async () => {
  const r = new BoardRenderer(1280, 720, DEFAULT_TEMPLATE, CJK_FONT);
  const history = [{ number: 'A011', counter: '2' }, { number: 'B007', counter: '5' }, { number: 'A010', counter: '1' }];
  const a = await r.render({ current: { number: 'A012', counter: '3' }, history, clock: '09:30' });
  const b = await r.render({ current: { number: 'A013', counter: '3' }, history, clock: '09:30' });
  const empty = await r.render({ history: [], clock: '09:30' });
  const img = (d: Uint8Array): Rgba => ({ data: d, width: 1280, height: 720 });
  const region = scaled(NUMBER_REGION, 1280, 720);
  assert.ok(psnr(img(a), img(b), region) < 30, 'A012 and A013 differ in the number region');
  assert.ok(psnr(img(a), img(empty), { x: 0, y: 0, width: 1280, height: 100 }) === Infinity, 'same title bar');
  // the CJK title is drawn (not tofu or nothing): the title bar has text pixels, and they differ
  // from a board whose title is other CJK text
  const other = new BoardRenderer(1280, 720, { ...DEFAULT_TEMPLATE, title: '请到柜台办理 Now serving' }, CJK_FONT);
  const c = await other.render({ history: [], clock: '09:30' });
  const titleBox = { x: 40, y: 20, width: 240, height: 70 };
  assert.ok(psnr(img(empty), img(c), titleBox) < 25, '窗口 and 柜台 are drawn differently');
  const bright = [...Array(titleBox.width * titleBox.height).keys()].filter((i) => {
    const x = titleBox.x + (i % titleBox.width);
    const y = titleBox.y + Math.floor(i / titleBox.width);
    return empty[(y * 1280 + x) * 4] > 200;
  }).length;
  assert.ok(bright > 1000, `white title pixels: ${bright}`);
  // the screenshot for the README: the board as a player shows it (our JPEG, decoded)
  const shown = decodeJpeg(encodeJpeg(a, 1280, 720, 85).jpeg);
  for (const dir of [join(repoRoot, '.test-output', 'screenshots'), join(repoRoot, 'docs', 'images')]) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'queue-board.png'), encodePng(shown));
  }
  assert.ok(decodePng(encodePng(shown)).width === 1280);
});

test('the board: the template\'s fixed layer (full-frame gradient, panels) is drawn once, each change draws only its texts and rows over it, the same picture as the whole SVG', { skip: missingPeer('fonts-noto-cjk') }, async (t) => {
  // what resvg is asked to draw: the extent of each picture's content
  type Drawing = { getBBox(): { width: number; height: number; free(): void } | undefined };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const resvg = require('@resvg/resvg-wasm') as { Resvg: new (svg: string, opts: object) => { render(): { pixels: Uint8Array; free(): void }; free(): void } };
  const proto = resvg.Resvg.prototype as unknown as { render(this: Drawing): unknown };
  const render = proto.render;
  const drawn: Array<{ width: number; height: number }> = [];
  proto.render = function (this: Drawing) {
    const b = this.getBBox();
    drawn.push({ width: b?.width ?? 0, height: b?.height ?? 0 });
    b?.free();
    return render.call(this);
  };
  t.after(() => void (proto.render = render));
  const r = new BoardRenderer(1280, 720, DEFAULT_TEMPLATE, CJK_FONT);
  const history = [{ number: 'A011', counter: '2' }, { number: 'B007', counter: '5' }];
  const states = ['A012', 'A013', 'A014'].map((number) => ({ current: { number, counter: '3' }, history, clock: '09:30' }));
  const layered: Uint8Array[] = [];
  for (const s of states) layered.push(await r.render(s));
  assert.equal(drawn.filter((b) => b.width >= 1280 && b.height >= 720).length, 1, `the full-frame background drawn once for three boards: ${JSON.stringify(drawn)}`);
  // the same picture as the board drawn in one go (to rounding)
  const font = readFileSync(CJK_FONT);
  const whole = new resvg.Resvg(boardSvg(DEFAULT_TEMPLATE, states[2], 1280, 720, 'sans-serif'), { font: { fontBuffers: [font], loadSystemFonts: false, defaultFontFamily: '', sansSerifFamily: '' }, background: '#000000' });
  const img = whole.render();
  const one = img.pixels.slice();
  img.free();
  whole.free();
  const q = psnr({ data: layered[2], width: 1280, height: 720 }, { data: one, width: 1280, height: 720 });
  assert.ok(q > 50, `layered vs whole: PSNR ${q.toFixed(1)} dB`);
});

test('a missing font file is a clear error at start (video.badFont)', () => {
  assert.throws(() => new BoardRenderer(640, 360, DEFAULT_TEMPLATE, '/nonexistent/font.ttc'), (e: CodedError) => e.code === 'video.badFont' && /font\.ttc/.test(e.message));
});

/** A raw RTSP client: requests, and the interleaved packets that arrive, per channel. */
function rawClient(port: number): { sock: Socket; request: (line: string, headers: Record<string, string>) => Promise<{ status: number; headers: Record<string, string>; body: string }>; packets: Map<number, Buffer[]> } {
  const sock = connect(port, '127.0.0.1');
  cleanups.push(() => sock.destroy());
  let buf = Buffer.alloc(0);
  const packets = new Map<number, Buffer[]>();
  let cseq = 0;
  const waiting: ((r: { status: number; headers: Record<string, string>; body: string }) => void)[] = [];
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length >= 4 && buf[0] === 0x24) {
        const len = buf.readUInt16BE(2);
        if (buf.length < 4 + len) return;
        const ch = buf[1];
        if (!packets.has(ch)) packets.set(ch, []);
        packets.get(ch)!.push(buf.subarray(4, 4 + len));
        buf = buf.subarray(4 + len);
        continue;
      }
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString().split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of head.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      const bodyLen = Number(headers['content-length'] ?? 0);
      if (buf.length < end + 4 + bodyLen) return;
      const body = buf.subarray(end + 4, end + 4 + bodyLen).toString();
      buf = buf.subarray(end + 4 + bodyLen);
      waiting.shift()?.({ status: Number(head[0].split(' ')[1]), headers, body });
    }
  });
  const request = (line: string, headers: Record<string, string>) =>
    new Promise<{ status: number; headers: Record<string, string>; body: string }>((resolve) => {
      waiting.push(resolve);
      sock.write(`${line} RTSP/1.0\r\nCSeq: ${++cseq}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    });
  return { sock, request, packets };
}

async function videoOutput(): Promise<{ out: RtspOutput; url: string; stop: () => void }> {
  const port = await freePort();
  const out = new RtspOutput({ mode: 'serve', codec: 'pcmu', rate: 8000, channels: 1, frameMs: 20, serve: { host: '127.0.0.1', port, path: 'board' }, video: { fps: 5, width: 320, height: 240 } });
  out.on('error', () => {});
  await out.start();
  out.showVideo(encodeJpeg(testPicture(320, 240).data, 320, 240).jpeg, 0);
  const timer = setInterval(() => out.writeFrame(Buffer.alloc(320)), 20);
  cleanups.push(() => out.close(), () => clearInterval(timer));
  return { out, url: `rtsp://127.0.0.1:${port}/board`, stop: () => clearInterval(timer) };
}

test('server: SETUP of both tracks on one session (TCP), RTP/JPEG on channel 2 with sender reports on 3, audio on 0/1', async () => {
  const { out, url } = await videoOutput();
  const c = rawClient(out.url ? Number(new URL(url).port) : 0);
  const d = await c.request(`DESCRIBE ${url}`, { Accept: 'application/sdp' });
  assert.equal(d.status, 200);
  assert.match(d.body, /m=video 0 RTP\/AVP 26/);
  const s1 = await c.request(`SETUP ${url}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
  assert.equal(s1.status, 200);
  const session = s1.headers['session'].split(';')[0];
  const s2 = await c.request(`SETUP ${url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=2-3', Session: session });
  assert.equal(s2.status, 200, JSON.stringify(s2));
  assert.equal(s2.headers['session'].split(';')[0], session);
  // the same channels again on the same session: refused (they would mix two tracks)
  const p = await c.request(`PLAY ${url}`, { Session: session });
  assert.equal(p.status, 200);
  assert.match(p.headers['rtp-info'], /trackID=0;seq=\d+;rtptime=\d+,url=.*trackID=1;seq=\d+;rtptime=\d+/);
  await until(() => (c.packets.get(2)?.filter((x) => parseRtp(x).marker).length ?? 0) >= 2 && (c.packets.get(3)?.length ?? 0) >= 1, 5000, 'two video frames and a video sender report');
  const v = c.packets.get(2)!.map(parseRtp);
  assert.ok(v.every((x) => x.payloadType === 26));
  assert.ok(c.packets.get(0)!.every((x) => parseRtp(x).payloadType === 0));
  assert.equal(c.packets.get(3)![0][1], 200, 'RTCP SR on the video RTCP channel');
  assert.equal(c.packets.get(3)![0].readUInt32BE(4), v[0].ssrc);
  assert.equal(c.packets.get(1)![0].readUInt32BE(4), parseRtp(c.packets.get(0)![0]).ssrc);
  // one CNAME in both tracks' SDES: what RTP receivers pair streams by for lip-sync (RFC 3550 §6.5.1)
  const cname = (rtcp: Buffer) => rtcp.subarray(38, 38 + rtcp[37]).toString('ascii');
  assert.equal(cname(c.packets.get(3)![0]), cname(c.packets.get(1)![0]));
});

test('server: a TCP player gets each picture in one write, its packets framed for the player\'s channel, whole and in order', async (t) => {
  const { url } = await videoOutput();
  const c = rawClient(Number(new URL(url).port));
  const s1 = await c.request(`SETUP ${url}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
  const session = s1.headers['session'].split(';')[0];
  await c.request(`SETUP ${url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=6-7', Session: session });
  // the server's writes of video (interleaved channel 6) to the player
  const writes: number[] = [];
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    if (Buffer.isBuffer(chunk) && chunk[0] === 0x24 && chunk[1] === 6) writes.push(chunk.length);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof write;
  t.after(() => void (Socket.prototype.write = write));
  await c.request(`PLAY ${url}`, { Session: session });
  await until(() => (c.packets.get(6)?.filter((x) => parseRtp(x).marker).length ?? 0) >= 3, 5000, 'three pictures on channel 6');
  Socket.prototype.write = write;
  const v = c.packets.get(6)!.map(parseRtp);
  const pictures = v.filter((x) => x.marker).length;
  assert.ok(v.length >= 3 * 2, `pictures of several packets (${v.length} packets)`);
  assert.ok(v.every((x, i) => i === 0 || x.seq === ((v[i - 1].seq + 1) & 0xffff)), 'in order, none missing');
  assert.ok(writes.length >= pictures && writes.length <= pictures + 1, `${writes.length} writes for ${pictures} pictures (${v.length} packets)`);
  // each picture reassembles: offsets run on from 0 to the last packet's end
  const first = v.findIndex((x) => x.payload.readUIntBE(1, 3) === 0);
  let offset = 0;
  for (const x of v.slice(first)) {
    assert.equal(x.payload.readUIntBE(1, 3), offset);
    offset = x.marker ? 0 : offset + x.payload.length - 8 - (offset === 0 ? 4 + x.payload.readUInt16BE(10) : 0);
  }
});

test('server: a player that sets up only the audio track gets audio only; two tracks on one interleaved channel are refused', async () => {
  const { url } = await videoOutput();
  const c = rawClient(Number(new URL(url).port));
  const s1 = await c.request(`SETUP ${url}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
  const session = s1.headers['session'].split(';')[0];
  const clash = await c.request(`SETUP ${url}/trackID=1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', Session: session });
  assert.equal(clash.status, 461);
  // the strict Transport rules hold for the video track too: a malformed offer, or UDP on a TCP session
  for (const bad of ['RTP/AVP/TCP;unicast;interleaved=abc', 'RTP/AVP;unicast;client_port=40001-40002']) {
    const r = await c.request(`SETUP ${url}/trackID=1`, { Transport: bad, Session: session });
    assert.equal(r.status, 461, bad);
  }
  const again = await c.request(`SETUP ${url}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=4-5', Session: session });
  assert.equal(again.status, 455);
  const p = await c.request(`PLAY ${url}`, { Session: session });
  assert.equal(p.status, 200);
  assert.doesNotMatch(p.headers['rtp-info'], /trackID=1/);
  await until(() => (c.packets.get(0)?.length ?? 0) >= 25, 5000, 'audio packets');
  assert.deepEqual([...c.packets.keys()].sort(), [0, 1].filter((k) => c.packets.has(k)));
  assert.ok(!c.packets.has(2) && !c.packets.has(3), 'no video to an audio-only player');
});
