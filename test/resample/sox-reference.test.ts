/**
 * Independent reference: SoX (Debian's `sox`, its `rate -v` very-high-quality linear-phase
 * resampler, undithered) resamples the same band-limited speech (espeak-ng); our output must have
 * the same length and timing and match it sample by sample to within -80 dB. This checks gain,
 * timing (no added delay), channel mixing and the flushed tail against code that is not ours.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { asInt16 } from '../../lib/pcm';
import { Resampler } from '../../lib/resample';
import { missingPeer } from '../support/peers';

let dir = '';
let speech = '';

function run(cmd: string, args: string[]): Buffer {
  const r = spawnSync(cmd, args, { timeout: 60_000, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} could not run (${r.error.message}): .ci/run installs it`);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

before(() => {
  if (missingPeer('espeak-ng', 'sox')) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resample-sox-'));
  speech = path.join(dir, 'speech.wav');
  run('espeak-ng', ['-w', speech, 'Number A zero one two, please go to counter three. 请到三号窗口']);
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const raw = (rate: number, ch: number) => ['-t', 'raw', '-r', String(rate), '-c', String(ch), '-b', '16', '-e', 'signed-integer'];

for (const [inRate, inCh, outRate, outCh, band] of [
  [48000, 2, 16000, 1, 6500],
  [44100, 2, 16000, 1, 6500],
  [8000, 1, 48000, 1, 3300],
  [22050, 1, 16000, 1, 6500],
  [16000, 1, 44100, 2, 6500],
]) {
  test(`${inRate / 1000} kHz ${inCh} ch -> ${outRate / 1000} kHz ${outCh} ch matches SoX rate -v within -80 dB`, { skip: missingPeer('espeak-ng', 'sox') }, () => {
    // input: the speech at inRate, band-limited below both Nyquist frequencies' passbands, so
    // the two resamplers' different transition bands do not count
    const input = run('sox', ['-D', speech, ...raw(inRate, inCh), '-', 'sinc', `-${band}`]);
    const inFile = path.join(dir, 'in.raw');
    fs.writeFileSync(inFile, input);
    const ref = asInt16(run('sox', ['-D', ...raw(inRate, inCh), inFile, '-D', ...raw(outRate, outCh), '-', 'rate', '-v']));
    const r = new Resampler({ inRate, inChannels: inCh, outRate, outChannels: outCh === 2 ? 2 : 1 });
    const ours = asInt16(Buffer.concat([r.process(input), r.flush()]));
    assert.equal(ours.length, ref.length, 'same number of output samples as SoX');
    let err = 0;
    let pow = 0;
    for (let i = 0; i < ref.length; i++) {
      err += (ours[i] - ref[i]) ** 2;
      pow += ref[i] ** 2;
    }
    const snr = 10 * Math.log10(pow / err);
    assert.ok(snr >= 80, `difference from SoX only ${snr.toFixed(1)} dB below the signal`);
  });
}
