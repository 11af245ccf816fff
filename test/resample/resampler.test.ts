import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asInt16 } from '../../lib/pcm';
import { QUALITY_NAMES, Resampler, type ResamplerOptions, aliasOf, measureQuality, qualityPlan, qualitySignal, toneAmplitude } from '../../lib/resample';

/** Interleaved s16 tone(s): one frequency per channel. */
function tones(rate: number, hzPerChannel: number[], seconds: number, amp = 0.5): Buffer {
  const frames = Math.round(rate * seconds);
  const ch = hzPerChannel.length;
  const s = new Int16Array(frames * ch);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < ch; c++) s[i * ch + c] = Math.round(32768 * amp * Math.sin((2 * Math.PI * hzPerChannel[c] * i) / rate + 0.1 * c));
  }
  return Buffer.from(s.buffer);
}

/** Deterministic pseudo-random generator (tests must be repeatable). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function noise(frames: number, channels: number, seed: number): Buffer {
  const r = prng(seed);
  const s = new Int16Array(frames * channels);
  for (let i = 0; i < s.length; i++) s[i] = Math.round((r() * 2 - 1) * 20000);
  return Buffer.from(s.buffer);
}

function whole(opts: ResamplerOptions, input: Buffer): Buffer {
  const r = new Resampler(opts);
  return Buffer.concat([r.process(input), r.flush()]);
}

function channel(buf: Buffer, channels: number, c: number): Int16Array {
  const all = asInt16(Buffer.from(buf));
  const out = new Int16Array(all.length / channels);
  for (let i = 0; i < out.length; i++) out[i] = all[i * channels + c];
  return out;
}

/** Frequency from the zero crossings of the middle of a signal. */
function frequency(x: Int16Array, rate: number): number {
  const from = Math.floor(x.length * 0.2);
  const to = Math.floor(x.length * 0.8);
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = from + 1; i < to; i++) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      const t = i - 1 + -x[i - 1] / (x[i] - x[i - 1]);
      if (first < 0) first = t;
      last = t;
      count++;
    }
  }
  return ((count - 1) * rate) / (last - first);
}

test('the Goertzel measurement reads known tone levels (so the figures below mean something)', () => {
  const rate = 16000;
  const n = 4000;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = 16384 * Math.sin((2 * Math.PI * 1000 * i) / rate) + 16384e-5 * Math.sin((2 * Math.PI * 3000 * i) / rate + 1);
  assert.ok(Math.abs(20 * Math.log10(toneAmplitude(x, rate, 1000, 0, n) / 0.5)) < 0.01);
  const db = 20 * Math.log10(toneAmplitude(x, rate, 3000, 0, n) / 0.5);
  assert.ok(Math.abs(db + 100) < 1, `a -100 dB tone measured at ${db} dB`);
  assert.equal(aliasOf(19000, 16000), 3000);
  assert.equal(aliasOf(23900, 16000), 7900);
  assert.equal(aliasOf(16000, 16000), 0);
});

test('48k stereo -> 16k mono keeps frequency and gain (1 kHz, 0 dB)', () => {
  const out = whole({ inRate: 48000, inChannels: 2, outRate: 16000, outChannels: 1 }, tones(48000, [1000, 1000], 1));
  const y = asInt16(out);
  assert.equal(y.length, 16000);
  const f = frequency(y, 16000);
  assert.ok(Math.abs(f - 1000) < 0.5, `frequency ${f}`);
  const g = 20 * Math.log10(toneAmplitude(y, 16000, 1000, 4000, 8000) / 0.5);
  assert.ok(Math.abs(g) < 0.02, `gain ${g} dB`);
});

test('default preset, 48k -> 16k: every alias of 8–23.9 kHz >= 90 dB down, passband within ±0.1 dB to 7.2 kHz', () => {
  const plan = qualityPlan(48000, 16000, 2);
  const out = whole({ inRate: 48000, inChannels: 2, outRate: 16000, outChannels: 1 }, qualitySignal(plan));
  const fig = measureQuality(asInt16(out), plan);
  assert.ok(fig.worstAliasDb <= -90, `worst alias ${fig.worstAliasDb} dB at ${fig.worstAliasHz} Hz`);
  assert.ok(fig.passbandRippleDb <= 0.1, `passband ripple ±${fig.passbandRippleDb} dB`);
});

test('each preset meets its own figures at 48k -> 16k (fast ~70 dB, standard and best >= 90 dB)', () => {
  const plan = qualityPlan(48000, 16000, 1);
  const input = qualitySignal(plan);
  const limits: Record<string, number> = { fast: -68, standard: -90, best: -100 };
  for (const quality of QUALITY_NAMES) {
    const fig = measureQuality(asInt16(whole({ inRate: 48000, inChannels: 1, outRate: 16000, quality }, input)), plan);
    assert.ok(fig.worstAliasDb <= limits[quality], `${quality}: ${fig.worstAliasDb} dB`);
    assert.ok(fig.passbandRippleDb <= 0.1, `${quality}: ripple ${fig.passbandRippleDb}`);
  }
});

test('odd ratio 44.1k -> 16k (160/441 phases): aliases >= 90 dB down, flat passband', () => {
  const plan = qualityPlan(44100, 16000, 1);
  const fig = measureQuality(asInt16(whole({ inRate: 44100, inChannels: 1, outRate: 16000 }, qualitySignal(plan))), plan);
  assert.ok(fig.worstAliasDb <= -90, `worst alias ${fig.worstAliasDb} dB at ${fig.worstAliasHz} Hz`);
  assert.ok(fig.passbandRippleDb <= 0.1, `ripple ${fig.passbandRippleDb}`);
});

test('upsampling 8k -> 48k: tone kept at 0 dB, images >= 90 dB down', () => {
  const out = asInt16(whole({ inRate: 8000, inChannels: 1, outRate: 48000 }, tones(8000, [1000], 1)));
  assert.equal(out.length, 48000);
  assert.ok(Math.abs(frequency(out, 48000) - 1000) < 0.5);
  const ref = toneAmplitude(out, 48000, 1000, 12000, 24000);
  assert.ok(Math.abs(20 * Math.log10(ref / 0.5)) < 0.02);
  for (const image of [7000, 9000, 15000, 17000]) {
    const db = 20 * Math.log10(toneAmplitude(out, 48000, image, 12000, 24000) / ref);
    assert.ok(db <= -90, `image at ${image} Hz: ${db} dB`);
  }
});

test('other ratios keep frequency and gain: 44.1k->48k, 16k->44.1k, 96k->8k, 8001->48k (interpolated phases), 22050->16k', () => {
  for (const [inRate, outRate] of [
    [44100, 48000],
    [16000, 44100],
    [96000, 8000],
    [8001, 48000],
    [22050, 16000],
    [192000, 16000],
  ]) {
    const hz = Math.min(inRate, outRate) / 8;
    const y = asInt16(whole({ inRate, inChannels: 1, outRate }, tones(inRate, [hz], 0.6)));
    assert.equal(y.length, Math.ceil((Math.round(inRate * 0.6) * outRate) / inRate), `${inRate}->${outRate} length`);
    const f = frequency(y, outRate);
    assert.ok(Math.abs(f - hz) < hz * 1e-3, `${inRate}->${outRate}: ${f} Hz, expected ${hz}`);
    const g = 20 * Math.log10(toneAmplitude(y, outRate, hz, Math.floor(y.length / 4), Math.floor(y.length / 2)) / 0.5);
    assert.ok(Math.abs(g) < 0.05, `${inRate}->${outRate}: gain ${g} dB`);
  }
});

test('chunk invariance: random chunk sizes give bit-identical output to the whole stream, flush included', () => {
  const configs: ResamplerOptions[] = [
    { inRate: 48000, inChannels: 2, outRate: 16000, outChannels: 1 },
    { inRate: 44100, inChannels: 1, outRate: 16000, quality: 'best' },
    { inRate: 8000, inChannels: 1, outRate: 48000, outChannels: 2 },
    { inRate: 8001, inChannels: 3, outRate: 48000, outChannels: 'same', quality: 'fast' },
    { inRate: 96000, inChannels: 6, outRate: 16000, outChannels: 2 },
    { inRate: 16000, inChannels: 2, outRate: 16000, outChannels: 1, mix: 'right' },
  ];
  const rnd = prng(7);
  for (const opts of configs) {
    const fb = opts.inChannels * 2;
    const input = noise(Math.round(opts.inRate * 0.7), opts.inChannels, 11);
    const expected = whole(opts, input);
    for (let trial = 0; trial < 3; trial++) {
      const r = new Resampler(opts);
      const parts: Buffer[] = [];
      let o = 0;
      while (o < input.length) {
        // sizes from 0 frames to well over the kernel's internal block, often tiny
        const pick = rnd();
        const frames = pick < 0.1 ? 0 : pick < 0.4 ? Math.floor(rnd() * 5) : pick < 0.9 ? Math.floor(rnd() * 2000) : Math.floor(rnd() * 12000);
        const end = Math.min(input.length, o + frames * fb);
        // a fresh copy at an odd byte offset: alignment must not matter either
        const chunk = Buffer.alloc(end - o + 1).subarray(1);
        input.copy(chunk, 0, o, end);
        parts.push(r.process(chunk));
        o = end;
      }
      parts.push(r.flush());
      const got = Buffer.concat(parts);
      assert.equal(got.length, expected.length, `${JSON.stringify(opts)} length`);
      assert.ok(got.equals(expected), `${JSON.stringify(opts)}: chunked output differs`);
    }
  }
});

test('flush emits the filter tail: exactly ceil(in * out / in) frames, the end of the audio included', () => {
  const r = new Resampler({ inRate: 48000, inChannels: 2, outRate: 16000, outChannels: 1 });
  const input = tones(48000, [1000, 1000], 0.5); // 24000 frames
  const body = r.process(input);
  assert.ok(body.length / 2 < 8000, 'the look-ahead holds some output back');
  const tail = r.flush();
  assert.ok(tail.length > 0);
  assert.equal((body.length + tail.length) / 2, 8000);
  // the tone runs to the very end: the last output samples still carry it
  const y = asInt16(Buffer.concat([body, tail]));
  let peak = 0;
  for (let i = y.length - 48; i < y.length - 8; i++) peak = Math.max(peak, Math.abs(y[i]));
  assert.ok(peak > 12000, `tail peak ${peak}`);
  // after a flush the resampler starts afresh (same output for the same input)
  assert.ok(Buffer.concat([r.process(input), r.flush()]).equals(Buffer.concat([body, tail])));
  // odd counts round up: 7 frames at 48k -> ceil(7/3) = 3 frames at 16k
  const r2 = new Resampler({ inRate: 48000, inChannels: 1, outRate: 16000 });
  assert.equal((r2.process(Buffer.alloc(14)).length + r2.flush().length) / 2, 3);
});

test('two interleaved streams stay isolated (no shared state between resamplers)', () => {
  const opts: ResamplerOptions = { inRate: 48000, inChannels: 2, outRate: 16000, outChannels: 1 };
  const a = noise(30000, 2, 1);
  const b = tones(48000, [440, 880], 0.625);
  const ra = new Resampler(opts);
  const rb = new Resampler(opts);
  const pa: Buffer[] = [];
  const pb: Buffer[] = [];
  for (let o = 0; o < a.length; o += 3840) {
    pa.push(ra.process(a.subarray(o, o + 3840)));
    pb.push(rb.process(b.subarray(o, o + 3840)));
  }
  pa.push(ra.flush());
  pb.push(rb.flush());
  assert.ok(Buffer.concat(pa).equals(whole(opts, a)));
  assert.ok(Buffer.concat(pb).equals(whole(opts, b)));
});

test('channel mapping: average, left, right, stereo from mono, first two of many, same', () => {
  const st = tones(16000, [500, 1500], 0.5);
  const lvl = (buf: Buffer, chs: number, c: number, hz: number) => toneAmplitude(channel(buf, chs, c), 16000, hz, 2000, 4000);
  // same rate, mono: average is exact (a + b) / 2, rounded
  const avg = asInt16(whole({ inRate: 16000, inChannels: 2, outRate: 16000, outChannels: 1 }, st));
  const src = asInt16(Buffer.from(st));
  for (let i = 0; i < 100; i++) assert.ok(Math.abs(avg[i] - (src[2 * i] + src[2 * i + 1]) / 2) <= 0.5);
  const left = whole({ inRate: 16000, inChannels: 2, outRate: 8000, outChannels: 1, mix: 'left' }, st);
  assert.ok(toneAmplitude(asInt16(left), 8000, 500, 1000, 2000) > 0.49);
  assert.ok(toneAmplitude(asInt16(left), 8000, 1500, 1000, 2000) < 1e-4);
  const right = whole({ inRate: 16000, inChannels: 2, outRate: 8000, outChannels: 1, mix: 'right' }, st);
  assert.ok(toneAmplitude(asInt16(right), 8000, 1500, 1000, 2000) > 0.49);
  assert.ok(toneAmplitude(asInt16(right), 8000, 500, 1000, 2000) < 1e-4);
  const dup = whole({ inRate: 8000, inChannels: 1, outRate: 16000, outChannels: 2 }, tones(8000, [700], 0.5));
  assert.ok(channel(dup, 2, 0).every((v, i) => v === channel(dup, 2, 1)[i]));
  const six = tones(48000, [300, 600, 900, 1200, 1500, 1800], 0.5);
  const two = whole({ inRate: 48000, inChannels: 6, outRate: 16000, outChannels: 2 }, six);
  assert.ok(lvl(two, 2, 0, 300) > 0.49 && lvl(two, 2, 1, 600) > 0.49 && lvl(two, 2, 0, 900) < 1e-4);
  const same = whole({ inRate: 48000, inChannels: 6, outRate: 16000, outChannels: 'same' }, six);
  for (let c = 0; c < 6; c++) assert.ok(lvl(same, 6, c, 300 * (c + 1)) > 0.49, `channel ${c}`);
});

test('pass-through returns the very same Buffer; bad options and partial frames are refused without harm', () => {
  const r = new Resampler({ inRate: 16000, inChannels: 1, outRate: 16000, outChannels: 1 });
  assert.ok(r.passthrough);
  const buf = Buffer.alloc(640);
  assert.equal(r.process(buf), buf);
  assert.throws(() => new Resampler({ inRate: 7999, inChannels: 1, outRate: 16000 }), { name: 'ResamplerError', message: /inRate 7999/ });
  assert.throws(() => new Resampler({ inRate: 48000, inChannels: 9, outRate: 16000 }), /input channels 9/);
  assert.throws(() => new Resampler({ inRate: 48000, inChannels: 2, outRate: 16000, quality: 'ultra' as never }), /quality ultra/);
  assert.throws(() => new Resampler({ inRate: 48000, inChannels: 2, outRate: 16000, mix: 'centre' as never }), /mix centre/);

  const opts: ResamplerOptions = { inRate: 48000, inChannels: 2, outRate: 16000, outChannels: 1 };
  const input = noise(9600, 2, 3);
  const s = new Resampler(opts);
  const a = s.process(input.subarray(0, 19200));
  assert.throws(() => s.process(Buffer.alloc(7)), /7 bytes, not a whole number of 2-channel/);
  const b = s.process(input.subarray(19200));
  assert.ok(Buffer.concat([a, b, s.flush()]).equals(whole(opts, input)));
});
