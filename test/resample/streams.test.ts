import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFields } from '../../lib/pcm';
import { ResampleStreams, Resampler } from '../../lib/resample';
import { noise } from './signals';

const opts = { outRate: 16000, outChannels: 1 as const, mix: 'average' as const, quality: 'standard' as const, idleMs: 0 };

test('timestamps: each output chunk carries the capture time of its own first sample', () => {
  const st = new ResampleStreams(opts);
  const t0 = 1_700_000_000_000;
  const outs = [];
  for (let i = 0; i < 5; i++) {
    outs.push(...st.handle({ payload: noise(960, 2, i), ...formatFields({ rate: 48000, channels: 2 }), stmId: 'a', seq: i, timestamp: t0 + 20 * i }));
  }
  outs.push(...st.handle({ stmId: 'a', complete: true }));
  let frames = 0;
  for (const m of outs) {
    assert.ok(Math.abs((m.timestamp as number) - (t0 + (frames / 16000) * 1000)) < 1e-6, `timestamp ${m.timestamp} at output frame ${frames}`);
    frames += (m.payload as Buffer).length / 2;
  }
  assert.equal(frames, 1600);
  assert.equal(outs.at(-1)!.complete, true);
  assert.equal(st.size, 0);
});

test('a stream that changes format mid-way: the old filter tail goes out first, then the new format', () => {
  const st = new ResampleStreams(opts);
  const a = noise(4800, 2, 1);
  const first = st.handle({ payload: a, ...formatFields({ rate: 48000, channels: 2 }), stmId: 's' });
  const switched = st.handle({ payload: noise(4410, 1, 2), ...formatFields({ rate: 44100, channels: 1 }), stmId: 's' });
  assert.equal(switched.length, 2);
  const ref = new Resampler({ inRate: 48000, inChannels: 2, outRate: 16000, outChannels: 1 });
  const whole = Buffer.concat([ref.process(a), ref.flush()]);
  assert.ok(Buffer.concat([first[0].payload as Buffer, switched[0].payload as Buffer]).equals(whole));
  assert.equal(switched[1].rate, 16000);
});

test('idle streams are released and their tail handed out; close drops everything', async () => {
  const tails: Array<Record<string, unknown>> = [];
  const st = new ResampleStreams({ ...opts, idleMs: 100, onIdleTail: (m) => tails.push(m) });
  st.handle({ payload: noise(960, 2, 3), ...formatFields({ rate: 48000, channels: 2 }), stmId: 'x', traceId: 't' });
  assert.equal(st.size, 1);
  const end = Date.now() + 5000;
  while (st.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.equal(st.size, 0);
  assert.equal(tails.length, 1);
  assert.equal(tails[0].stmId, 'x');
  assert.equal(tails[0].traceId, 't');
  assert.ok((tails[0].payload as Buffer).length > 0);
  assert.equal(tails[0].complete, undefined);
  st.handle({ payload: noise(960, 2, 3), ...formatFields({ rate: 48000, channels: 2 }), stmId: 'y' });
  st.close();
  assert.equal(st.size, 0);
});

test('a WAV payload already in the target format comes out as its PCM (a view, no copy of the audio)', () => {
  const st = new ResampleStreams(opts);
  const pcm = noise(160, 1, 4);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(16000, 24);
  header.writeUInt32LE(32000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(pcm.length, 40);
  const [out] = st.handle({ payload: Buffer.concat([header, pcm]), topic: 'w' });
  assert.ok((out.payload as Buffer).equals(pcm));
  assert.equal(out.rate, 16000);
  assert.equal(out.channels, 1);
  assert.equal(out.topic, 'w');
});
