/**
 * Guards lib/whep/werift-receiver.ts: the cheaper `twccEnabled` and `runRtcp` installed into
 * werift's RTCRtpReceiver must answer exactly as werift's own do, so a werift upgrade that changes
 * either fails here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RTCRtpCodecParameters, RTCRtpReceiver } from 'werift';
import '../../lib/whep'; // installs it, as whep-in does
import { installFastReceiver, weriftReceiverOriginal } from '../../lib/whep/werift-receiver';

type Internals = { codecs: Record<number, unknown>; rtcpRunning: boolean; runRtcp(): Promise<void>; prepareReceive(p: unknown): void; stop(): void };

function receiver(codecs: Array<[number, string[]]>): Internals {
  const r = new RTCRtpReceiver({} as never, 'audio', 1) as unknown as Internals;
  r.prepareReceive({
    codecs: codecs.map(([pt, fb]) => new RTCRtpCodecParameters({ mimeType: pt === 111 ? 'audio/opus' : 'audio/PCMU', clockRate: 48000, channels: 2, payloadType: pt, rtcpFeedback: fb.map((type) => ({ type })) })),
    encodings: [],
  });
  return r;
}

test('werift-receiver: installed, and twccEnabled answers as werift’s getter for any codec set and insertion order', () => {
  assert.equal(installFastReceiver(), true);
  const sets: Array<Array<[number, string[]]>> = [
    [],
    [[111, []]],
    [[111, ['transport-cc']]],
    [[111, ['nack', 'transport-cc']], [0, []]],
    [[0, ['transport-cc']], [111, []]],
    [[127, []], [96, ['transport-cc', 'nack']], [8, ['goog-remb']]],
  ];
  for (let n = 0; n < 200; n++) {
    // random payload types in random order, each with or without transport-cc
    const pts = [...new Set(Array.from({ length: 1 + (n % 6) }, () => Math.floor(Math.random() * 128)))];
    sets.push(pts.map((pt) => [pt, Math.random() < 0.5 ? ['nack', 'transport-cc'] : ['nack']]));
  }
  for (const s of sets) {
    const r = receiver(s);
    const ours = (r as unknown as { twccEnabled: unknown }).twccEnabled;
    const theirs = weriftReceiverOriginal.twccEnabled.get!.call(r);
    assert.deepEqual(ours, theirs, JSON.stringify(s));
    assert.equal(ours === undefined, theirs === undefined);
  }
});

test('werift-receiver: runRtcp starts werift’s RTCP loop once, returns at once while it runs, and stop() ends it', async () => {
  const r = receiver([[111, []]]);
  const loop = r.runRtcp();
  assert.equal(r.rtcpRunning, true);
  const again = r.runRtcp(); // the per-packet call: no second loop
  assert.notEqual(again, loop);
  await again;
  r.stop();
  await Promise.race([loop, new Promise((_, rej) => setTimeout(() => rej(new Error('RTCP loop did not end')), 5000).unref())]);
  assert.equal(r.rtcpRunning, false);
  await r.runRtcp(); // stopped: returns at once, as werift's does
  assert.equal(r.rtcpRunning, false);
});
