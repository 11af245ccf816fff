/**
 * tts-rtsp-out in a real Node-RED runtime (node-red-node-test-helper) facing faults: WAV input
 * that lies is an error at its message while the stream plays on; a header-only WAV does not cut
 * what plays; in push mode an outage of the media server shows in the status (not "speaking")
 * while the cut announcement waits to play again. The test runtime's RED._ returns catalog keys,
 * so statuses read "tts-rtsp-out.status.<key>".
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, collectErrors, getNode, load, unload, until } from '../support/node-red';
import { ttsFlow, ttsNode, ttsNodeRuntime } from './tts-node';
import { encodeWav, wavHeader } from '../../lib/pcm';
import { missingPeer } from '../support/peers';
import { freePort, scratch, sleep, spawnPeer, tone } from './support';
import { RawRtsp } from '../rtsp/hostile-clients';

const { dir, peers } = scratch('announce-node-faults-');
ttsNodeRuntime();

const node = ttsFlow;

function lyingWav(lie: (h: Buffer) => void): Buffer {
  const wav = encodeWav(tone(16000, 440, 300), { rate: 16000, channels: 1 });
  lie(wav);
  return wav;
}

test('tts-rtsp-out: a WAV that lies is an error at its message; a header-only WAV does not cut what plays', async (t) => {
  t.after(() => unload());
  await load(ttsNode, node({ port: String(await freePort()) }));
  const events = collect('out');
  const errors = collectErrors('tts');
  const tts = getNode('tts');
  tts.receive({ payload: tone(16000, 440, 3000), rate: 16000, id: 'long' });
  await until(() => events.some((m) => m.topic === 'started' && m.payload.id === 'long'), 10000, 'long started');
  tts.receive({ payload: lyingWav((h) => h.writeUInt16LE(0x1234, 20)), id: 'tag' });
  tts.receive({ payload: lyingWav((h) => h.writeUInt16LE(12, 34)), id: 'bits' });
  tts.receive({ payload: lyingWav((h) => h.writeUInt32LE(16000 * 2 * 60, 40)), id: 'short' });
  tts.receive({ payload: wavHeader({ rate: 8000, channels: 2 }, 0), id: 'empty' });
  await until(() => errors.length === 4, 10000, `four errors (${errors.join(' | ')})`);
  assert.match(errors[0], /errors\.pcm\.wavFormat|format tag 0x1234/);
  assert.match(errors[1], /errors\.pcm\.wavBits|12-bit/);
  assert.match(errors[2], /errors\.pcm\.wavTruncated|cut short/);
  assert.match(errors[3], /errors\.announce\.noAudioInBuffer|no audio/);
  // none of them was queued, and what played went on to its end
  assert.deepEqual(events.filter((m) => m.topic === 'queued').map((m) => m.payload.id), ['long']);
  await until(() => events.some((m) => m.topic === 'finished'), 10000, 'long finished');
  assert.deepEqual(events.map((m) => m.topic), ['queued', 'started', 'finished']);
  assert.equal(events[2].payload.playedMs, 3000);
});

test('tts-rtsp-out push: an outage mid-announcement shows "reconnecting" with the waiting announcement, not "speaking"', { skip: missingPeer('ffmpeg') }, async (t) => {
  t.after(() => unload());
  const port = await freePort();
  // the media server: ffmpeg listening for one publisher
  const server = () => {
    const p = spawnPeer('ffmpeg', ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-rtsp_flags', 'listen', '-timeout', '30', '-i', `rtsp://127.0.0.1:${port}/x`, '-f', 'null', '-'], 60000);
    peers.push(p);
    return p;
  };
  const first = server();
  await sleep(300);
  await load(ttsNode, node({ mode: 'push', url: `rtsp://127.0.0.1:${port}/x`, transport: 'tcp' }));
  const events = collect('out');
  const tts = getNode('tts');
  const statuses: string[] = [];
  tts.on('call:status', (c: { args: Array<{ text?: string }> }) => statuses.push(c.args[0]?.text ?? ''));
  await until(() => statuses.includes('tts-rtsp-out.status.publishing'), 15000, `publishing (${statuses.join(' | ')}) ${first.stderr()}`);
  tts.receive({ payload: tone(16000, 440, 20000), rate: 16000, id: 'cut' });
  await until(() => statuses.at(-1) === 'tts-rtsp-out.status.speaking', 10000, `speaking (${statuses.join(' | ')})`);
  first.kill('SIGKILL'); // the media server goes away mid-announcement
  await until(() => /reconnecting/.test(statuses.at(-1) ?? ''), 15000, `the outage in the status (${statuses.join(' | ')})`);
  const during = statuses.at(-1)!;
  assert.equal(during, 'tts-rtsp-out.status.reconnectingBecause · tts-rtsp-out.status.waiting', 'the reason and the waiting announcement');
  // it stays so through the outage: no "speaking" while nothing is heard
  await sleep(1500);
  const afterKill = statuses.slice(statuses.lastIndexOf('tts-rtsp-out.status.speaking') + 1);
  assert.ok(afterKill.length > 0 && afterKill.every((s) => /reconnecting/.test(s)), afterKill.join(' | '));
  // the server is back: the cut announcement plays again from its start, and the status says so
  const second = server();
  await until(() => events.filter((m) => m.topic === 'started' && m.payload.id === 'cut').length === 2, 30000, `the replay (${statuses.join(' | ')}) ${second.stderr()}`);
  await until(() => statuses.at(-1) === 'tts-rtsp-out.status.speaking', 5000, 'speaking again');
});

test('tts-rtsp-out serve: the Max players property caps the players (453 beyond it); a bad SETUP Transport is refused', async (t) => {
  t.after(() => unload());
  const port = await freePort();
  await load(ttsNode, node({ port: String(port), maxPlayers: '1' }));
  const statuses: string[] = [];
  getNode('tts').on('call:status', (c: { args: Array<{ text?: string }> }) => statuses.push(c.args[0]?.text ?? ''));
  await until(() => statuses.includes('tts-rtsp-out.status.listening'), 10000, 'listening');
  const url = `rtsp://127.0.0.1:${port}/announce`;
  const clients = [new RawRtsp(port), new RawRtsp(port), new RawRtsp(port)];
  t.after(() => clients.forEach((c) => c.destroy()));
  assert.equal(await clients[0].setupAndPlay(url, 'RTP/AVP/TCP;unicast;interleaved=0-1'), 200);
  assert.equal(await clients[1].setupAndPlay(url, 'RTP/AVP/TCP;unicast;interleaved=0-1'), 453);
  assert.equal(await clients[2].setupAndPlay(url, 'RTP/AVP;unicast;client_port=99999-100000'), 461);
});

test('tts-rtsp-out: an AAC encoder that keeps failing is a warning with its reason, once, not only a debug line, and a yellow status while it restarts', { skip: process.platform === 'win32' && 'the stand-in ffmpeg is a shell script' }, async (t) => {
  t.after(() => unload());
  // a stand-in "ffmpeg" that fails at once, as a broken install or a wrong path does
  const fake = join(dir, 'fake-ffmpeg');
  writeFileSync(fake, '#!/bin/sh\necho "fake-ffmpeg: unknown encoder aac" >&2\nexit 1\n');
  chmodSync(fake, 0o755);
  await load(ttsNode, node({ port: String(await freePort()), codec: 'aac', ffmpegPath: fake }));
  const warnings: string[] = [];
  getNode('tts').on('call:warn', (call: { args: unknown[] }) => warnings.push(String(call.args[0])));
  await until(() => warnings.some((w) => /ffmpeg/i.test(w)), 15000, 'a warning about ffmpeg');
  // it restarts with back-off: let it fail a few more times, then it was still said once
  await sleep(2500);
  const aboutFfmpeg = warnings.filter((w) => /ffmpeg/i.test(w));
  assert.equal(aboutFfmpeg.length, 1, aboutFfmpeg.join(' | '));
  // and the status says so while it lasts, with the encoder's last words
  const status = (getNode('tts') as unknown as { status: { args: Array<[{ fill?: string; text?: string }]> } }).status.args.map(([s]) => s);
  assert.ok(status.some((s) => s.fill === 'yellow' && /encoderRestarting/.test(String(s.text))), JSON.stringify(status));
});

test('tts-rtsp-out: a setting that is no number, or out of range, is refused at deploy, naming it', async (t) => {
  t.after(() => unload());
  await load(ttsNode, node({ port: String(await freePort()), maxQueue: 'lots' }));
  const tts = getNode('tts') as unknown as { status: { args: Array<[{ fill?: string; text?: string }]> }; error: { args: unknown[][] } };
  assert.equal(tts.status.args.at(-1)![0].fill, 'red');
  assert.match(String(tts.status.args.at(-1)![0].text), /shared\.badConfig/);
  assert.ok(tts.error.args.some(([e]) => /maxQueue is "lots"/.test(e instanceof Error ? e.message : String(e))), JSON.stringify(tts.error.args));
  const errors = collectErrors('tts');
  getNode('tts').receive({ payload: 'hello' });
  await until(() => errors.length >= 1, 5000, 'the message refused');
});
