/**
 * Test speech without Debian's espeak-ng and sox: the same eSpeak NG, as the wasm build in the
 * npm package `espeak-ng` (the embedded engine of tts-rtsp-out), resampled to 48 kHz mono s16le
 * by lib/resample and written raw to stdout. speechPcm48k (whep-source.ts) runs this in a child
 * process when the Debian programs are missing, so the WHEP tests run on a machine that has only
 * Node and npm.
 *
 *   node dist/test/peers/speech-cli.js <voice> <text>
 */
import { EspeakWasmEngine } from '../../lib/announce/engines/espeak-wasm';
import { resampleAll } from '../../lib/resample';

async function main(): Promise<void> {
  const [voice = 'en', text = ''] = process.argv.slice(2);
  const engine = new EspeakWasmEngine();
  try {
    // speed 150/175: the words per minute the espeak-ng CLI path is given
    const r = await engine.synthesize(text, { voice, speed: 150 / 175 });
    process.stdout.write(resampleAll(r.pcm, { rate: r.rate, channels: 1 }, { rate: 48000, channels: 1 }));
  } finally {
    await engine.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
