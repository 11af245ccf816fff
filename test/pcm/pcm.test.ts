import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Chunker,
  PcmFormatError,
  StreamTable,
  asInt16,
  bytesForMs,
  decodeWav,
  encodeWav,
  formatFields,
  isWav,
  readPcm,
  streamKey,
  wavHeader,
} from '../../lib/pcm';
import { Backoff, retryAfterMs } from '../../lib/util/backoff';
import { WaveFile } from 'wavefile';

const stereo48 = { rate: 48000, channels: 2 };

function pcmMsg(payload: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { payload, ...formatFields(stereo48), ...extra };
}

test('readPcm accepts a contract message and keeps the buffer (no copy)', () => {
  const buf = Buffer.alloc(4 * 480);
  const r = readPcm(pcmMsg(buf));
  assert.deepEqual(r.format, stereo48);
  assert.equal(r.pcm, buf);
  assert.equal(r.fromWav, false);
});

test('readPcm rejects input that is not the contract, with errors a user can act on', () => {
  assert.throws(() => readPcm(pcmMsg(Buffer.alloc(3))), {
    name: 'PcmFormatError',
    message: 'payload has 3 bytes, not a whole number of 2-channel 16-bit frames (4 bytes each)',
  });
  assert.throws(() => readPcm(pcmMsg('hello')), /payload is string, not a Buffer/);
  assert.throws(() => readPcm(pcmMsg([1, 2])), /payload is an array/);
  assert.throws(() => readPcm({ payload: Buffer.alloc(4) }), /has no "rate"/);
  assert.throws(() => readPcm(pcmMsg(Buffer.alloc(4), { rate: 0 })), /rate 0: expected a whole number of Hz from 8000 to 192000/);
  assert.throws(() => readPcm(pcmMsg(Buffer.alloc(4), { rate: 44100.5 })), /rate 44100.5/);
  assert.throws(() => readPcm(pcmMsg(Buffer.alloc(18), { channels: 9 })), /channels 9/);
  assert.throws(() => readPcm(pcmMsg(Buffer.alloc(4), { bits: 24 })), /only 16-bit/);
  assert.throws(() => readPcm(pcmMsg(Buffer.alloc(4), { endianness: 'big' })), /only "little"/);
  assert.throws(() => readPcm(pcmMsg(Buffer.alloc(4), { encoding: 'floating-point' })), /only "signed-integer"/);
  assert.ok(new PcmFormatError('pcm.test', 'x') instanceof Error);
});

test('readPcm: a complete message may carry no audio', () => {
  const r = readPcm({ complete: true });
  assert.equal(r.format, undefined);
  assert.equal(r.pcm.length, 0);
  const r2 = readPcm({ complete: true, payload: Buffer.alloc(0), rate: 16000, channels: 1 });
  assert.deepEqual(r2.format, { rate: 16000, channels: 1 });
});

test('a WAV buffer is read as PCM in its own format (16-bit, and converted from 24-bit/float)', () => {
  const samples = new Int16Array([0, 1000, -1000, 32767, -32768, 5]);
  const wav = encodeWav(Buffer.from(samples.buffer), { rate: 22050, channels: 2 });
  assert.ok(isWav(wav));
  const r = readPcm({ payload: wav });
  assert.deepEqual(r.format, { rate: 22050, channels: 2 });
  assert.equal(r.fromWav, true);
  assert.deepEqual([...asInt16(r.pcm)], [...samples]);

  const w24 = new WaveFile();
  w24.fromScratch(1, 16000, '24', [0, 4194304, -4194304]);
  const d = decodeWav(Buffer.from(w24.toBuffer()));
  assert.deepEqual(d.format, { rate: 16000, channels: 1 });
  const s = asInt16(d.pcm);
  assert.equal(s.length, 3);
  assert.ok(Math.abs(s[1] - 16384) <= 1 && Math.abs(s[2] + 16384) <= 1, `got ${[...s]}`);

  const wf = new WaveFile();
  wf.fromScratch(1, 8000, '32f', [0, 0.5, -0.5]);
  const f = asInt16(decodeWav(Buffer.from(wf.toBuffer())).pcm);
  assert.ok(Math.abs(f[1] - 16384) <= 2, `got ${[...f]}`);

  assert.throws(() => readPcm({ payload: Buffer.from('RIFF\0\0\0\0WAVEjunk') }), /WAV file/);
});

test('a WAV that lies is a PcmFormatError a user can act on; streamed and RF64 sizes are read to the end', () => {
  const pcm = Buffer.from(new Int16Array([1, -2, 3, -4, 5, -6]).buffer);
  const wav = () => encodeWav(pcm, { rate: 16000, channels: 1 });
  const code = (b: Buffer) => {
    try {
      decodeWav(b);
      return 'decoded';
    } catch (e) {
      assert.ok(e instanceof PcmFormatError);
      return `${e.code}: ${e.message}`;
    }
  };
  const tag = wav();
  tag.writeUInt16LE(0x1234, 20);
  assert.match(code(tag), /^pcm\.wavFormat: WAV file has format tag 0x1234 \(unknown\)/);
  const alaw = wav();
  alaw.writeUInt16LE(6, 20);
  assert.match(code(alaw), /^pcm\.wavFormat: .*0x0006 \(A-law\)/);
  const bits = wav();
  bits.writeUInt16LE(12, 34);
  assert.match(code(bits), /^pcm\.wavBits: WAV file has 12-bit integer samples/);
  const float16 = wav();
  float16.writeUInt16LE(3, 20);
  assert.match(code(float16), /^pcm\.wavBits: WAV file has 16-bit float samples/);
  const short = wav();
  short.writeUInt32LE(1000, 40);
  assert.match(code(short), /^pcm\.wavTruncated: .*announces 1000 bytes of audio but only 12 follow/);
  assert.match(code(Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVEdata', 'latin1'), Buffer.from([4, 0, 0, 0]), Buffer.from('abcd')])), /^pcm\.badWav: .*data chunk comes before its fmt chunk/);
  // a header with no samples is empty audio, not an error
  assert.equal(decodeWav(wavHeader({ rate: 8000, channels: 2 }, 0)).pcm.length, 0);
  // a writer that could not seek back (a pipe) leaves 0xFFFFFFFF: the data runs to the end
  const streamed = wav();
  streamed.writeUInt32LE(0xffffffff, 40);
  assert.deepEqual(decodeWav(streamed).pcm, pcm);
  // RF64 (EBU Tech 3306): the data size is in the ds64 chunk
  const ds64 = Buffer.alloc(8 + 28);
  ds64.write('ds64', 0, 'latin1');
  ds64.writeUInt32LE(28, 4);
  ds64.writeUInt32LE(8, 8 + 16); // data size, low 32 bits: 8 of the 12 bytes present
  const rf64 = wav();
  rf64.write('RF64', 0, 'latin1');
  rf64.writeUInt32LE(0xffffffff, 40);
  const file = Buffer.concat([rf64.subarray(0, 12), ds64, rf64.subarray(12)]);
  assert.deepEqual(decodeWav(file).pcm, pcm.subarray(0, 8));
});

test('wavHeader matches what wavefile writes for the same audio', () => {
  const pcm = Buffer.from(new Int16Array([1, 2, 3, 4]).buffer);
  const w = new WaveFile();
  w.fromScratch(2, 16000, '16', new Int16Array([1, 2, 3, 4]));
  assert.deepEqual(Buffer.concat([wavHeader({ rate: 16000, channels: 2 }, pcm.length), pcm]), Buffer.from(w.toBuffer()));
});

test('streamKey is stmId, else topic, else empty', () => {
  assert.equal(streamKey({ stmId: 'a', topic: 't' }), 'a');
  assert.equal(streamKey({ stmId: 7 }), '7');
  assert.equal(streamKey({ topic: 't' }), 't');
  assert.equal(streamKey({}), '');
});

test('Chunker cuts fixed chunks by ms, whatever the input sizes, and keeps timestamps', () => {
  const fmt = { rate: 16000, channels: 1 };
  const c = new Chunker({ ms: 200 });
  assert.equal(c.chunkBytes(fmt), 6400);
  const all = Buffer.alloc(6400 * 3 + 100);
  for (let i = 0; i < all.length; i++) all[i] = i % 251;
  const out = [];
  let off = 0;
  let ts = 1_000_000;
  for (const n of [2, 998, 6400, 9000, 3000, all.length - 2 - 998 - 6400 - 9000 - 3000]) {
    out.push(...c.push(all.subarray(off, off + n), fmt, ts));
    ts += (n / 2 / 16000) * 1000;
    off += n;
  }
  assert.equal(out.length, 3);
  assert.deepEqual(out.map((x) => x.seq), [0, 1, 2]);
  assert.deepEqual(out.map((x) => x.timestamp), [1_000_000, 1_000_200, 1_000_400]);
  assert.equal(c.buffered, 100);
  const tail = c.flush();
  assert.ok(tail);
  assert.equal(tail.pcm.length, 100);
  assert.equal(tail.timestamp, 1_000_600);
  assert.deepEqual(Buffer.concat([...out.map((x) => x.pcm), tail.pcm]), all);
  assert.equal(c.flush(), undefined);
});

test('Chunker by bytes rounds to whole frames and flushes on a format change', () => {
  const c = new Chunker({ bytes: 6401 });
  assert.equal(c.chunkBytes({ rate: 16000, channels: 1 }), 6400);
  assert.equal(c.chunkBytes({ rate: 48000, channels: 2 }), 6400);
  c.push(Buffer.alloc(100), { rate: 16000, channels: 1 });
  const out = c.push(Buffer.alloc(8), { rate: 8000, channels: 1 });
  assert.equal(out.length, 1);
  assert.equal(out[0].pcm.length, 100);
  assert.deepEqual(out[0].format, { rate: 16000, channels: 1 });
  assert.throws(() => c.push(Buffer.alloc(3), { rate: 8000, channels: 2 }), PcmFormatError);
  assert.equal(bytesForMs({ rate: 48000, channels: 2 }, 20), 3840);
});

test('StreamTable creates state per key and releases idle streams', () => {
  const expired: string[] = [];
  const t = new StreamTable<{ n: number }>({ idleMs: 1000, onIdle: (k) => expired.push(k) });
  // every stream below was last used at or after `before`, so before + 999 is inside the timeout
  const before = Date.now();
  const a = t.get('a', () => ({ n: 1 }));
  assert.equal(t.get('a', () => ({ n: 2 })), a);
  t.get('b', () => ({ n: 3 }));
  assert.equal(t.size, 2);
  t.sweep(before + 999);
  assert.equal(t.size, 2);
  t.sweep(Date.now() + 1000);
  assert.deepEqual(expired.sort(), ['a', 'b']);
  assert.equal(t.size, 0);
  t.get('c', () => ({ n: 4 }));
  assert.deepEqual(t.clear().map(([k]) => k), ['c']);
});

test('Backoff grows exponentially with jitter up to the cap, and resets', () => {
  const b = new Backoff({ initialMs: 1000, maxMs: 30000, random: () => 0.5 });
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(() => b.next()), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  b.reset();
  assert.equal(b.next(), 1000);
  const j = new Backoff({ initialMs: 1000, maxMs: 30000, jitter: 0.2, random: () => 0 });
  assert.equal(j.next(), 800);
  assert.equal(retryAfterMs('7'), 7000);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs(undefined), undefined);
});
