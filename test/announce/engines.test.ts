import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { CommandEngine, EspeakCliEngine, EspeakWasmEngine, splitCommand, parseEspeakVoices, AnnounceError } from '../../lib/announce';
import type { SpeechResult } from '../../lib/announce';
import { missingPeer } from '../support/peers';

const wasm = new EspeakWasmEngine();
const cli = new EspeakCliEngine();
after(() => wasm.close());

function rms(r: SpeechResult): number {
  let s = 0;
  const n = r.pcm.length / 2;
  for (let i = 0; i < n; i++) s += r.pcm.readInt16LE(i * 2) ** 2;
  return Math.sqrt(s / n);
}

test('embedded engine (espeak-ng wasm): lists Mandarin, Cantonese and English voices and speaks them', async () => {
  const voices = await wasm.voices();
  assert.ok(voices.length > 80, `${voices.length} voices`);
  for (const v of ['cmn', 'yue', 'en-us']) assert.ok(await wasm.hasVoice(v), v);
  assert.equal(await wasm.hasVoice('nosuch'), false);
  const zh = await wasm.synthesize('请 A012 号到 3 号窗口', { voice: 'cmn' });
  assert.equal(zh.rate, 22050);
  const sec = zh.pcm.length / 2 / zh.rate;
  assert.ok(sec > 1.5 && sec < 6, `${sec} s of speech`);
  assert.ok(rms(zh) > 500, 'audible');
  const yue = await wasm.synthesize('请 A012 号到 3 号窗口', { voice: 'yue' });
  assert.ok(yue.pcm.length > 22050, 'Cantonese speech');
  // speed: faster speech is shorter
  const fast = await wasm.synthesize('请 A012 号到 3 号窗口', { voice: 'cmn', speed: 2 });
  assert.ok(fast.pcm.length < zh.pcm.length * 0.75, `${fast.pcm.length} vs ${zh.pcm.length}`);
  // a text that starts with "-" is spoken, not read as an option
  const dash = await wasm.synthesize('-5 degrees', { voice: 'en-us' });
  assert.ok(dash.pcm.length > 11025);
});

test('embedded engine: a failing synthesis is a clear error and the engine keeps working', async () => {
  await assert.rejects(wasm.synthesize('x', { voice: 'nosuch' }), (e: unknown) => e instanceof AnnounceError && /espeak-wasm failed: .*voice does not exist/.test(e.message));
  const ok = await wasm.synthesize('hello', { voice: 'en' });
  assert.ok(ok.pcm.length > 0);
});

test('embedded engine: the idle worker is let go (memory) and comes back on the next request', async () => {
  const e = new EspeakWasmEngine({ idleMs: 200 });
  try {
    await e.synthesize('one', { voice: 'en' });
    assert.ok((e as unknown as { worker?: unknown }).worker, 'worker running');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((e as unknown as { worker?: unknown }).worker, undefined, 'worker released when idle');
    const again = await e.synthesize('two', { voice: 'en' });
    assert.ok(again.pcm.length > 0);
  } finally {
    await e.close();
  }
});

test('embedded engine without the optional espeak-ng package: a clear error saying how to install it', async () => {
  const missing = new EspeakWasmEngine({ locate: () => undefined });
  await assert.rejects(missing.synthesize('x', {}), (e: unknown) => e instanceof AnnounceError && e.code === 'announce.noEmbeddedEngine' && /npm install espeak-ng/.test(e.message));
  await assert.rejects(missing.voices(), /needs the npm package "espeak-ng"/);
  await missing.close();
});

test('system espeak-ng engine: same voices, WAV from its stdout (placeholder sizes fixed up)', { skip: missingPeer('espeak-ng') }, async () => {
  assert.ok(await cli.hasVoice('cmn'));
  const r = await cli.synthesize('请 A012 号到 3 号窗口', { voice: 'cmn', pitch: 70 });
  assert.equal(r.rate, 22050);
  assert.ok(r.pcm.length / 2 / r.rate > 1.5 && rms(r) > 500);
  const missing = new EspeakCliEngine({ command: 'no-such-espeak-binary' });
  await assert.rejects(missing.synthesize('x', {}), /"no-such-espeak-binary" is not installed or not on PATH/);
});

test('command template engine: any program writing a WAV, placeholders, no shell', { skip: missingPeer('espeak-ng') }, async () => {
  assert.deepEqual(splitCommand(`piper --model "/opt/my voices/zh.onnx" --output_file {wav} 'a b' c\\ d`), [
    'piper',
    '--model',
    '/opt/my voices/zh.onnx',
    '--output_file',
    '{wav}',
    'a b',
    'c d',
  ]);
  assert.throws(() => new CommandEngine({ template: 'x "open' }), /unclosed " quote/);
  // writes {wav}, text from stdin
  const a = new CommandEngine({ template: 'espeak-ng -v {voice} -w {wav} --stdin' });
  const r = await a.synthesize('请 A012 号到 3 号窗口', { voice: 'cmn' });
  assert.ok(r.pcm.length / 2 / r.rate > 1.5);
  // WAV on stdout, text as an argument: shell characters stay text
  const b = new CommandEngine({ template: 'espeak-ng --stdout -v en {text}' });
  const s = await b.synthesize('hello; rm -rf / $(echo no)', {});
  assert.ok(s.pcm.length > 0);
  // a tool that exits non-zero or writes no WAV: the reason is in the error
  await assert.rejects(new CommandEngine({ template: 'sh -c "echo broken model >&2; exit 3"' }).synthesize('x', {}), /command failed: broken model/);
  await assert.rejects(new CommandEngine({ template: 'true {wav}' }).synthesize('x', {}), /command failed: no readable WAV/);
});

test('voice list parsing', () => {
  const v = parseEspeakVoices(
    'Pty Language       Age/Gender VoiceName          File                 Other Languages\n' +
      ' 5  cmn             --/M      Chinese_(Mandarin,_latin_as_English) sit/cmn              (zh-cmn 5)(zh 5)\n' +
      ' 5  yue             --/M      Chinese_(Cantonese) sit/yue              (zh-yue 5)(zh 8)\n' +
      ' 5  yue             --/M      Chinese_(Cantonese,_latin_as_Jyutping) sit/yue-Latn-jyutping (zh-yue 5)(zh 8)\n',
  );
  assert.deepEqual(v, [
    { name: 'cmn', label: 'Chinese (Mandarin, latin as English)', languages: ['zh-cmn', 'zh'] },
    { name: 'yue', label: 'Chinese (Cantonese)', languages: ['zh-yue', 'zh'] },
  ]);
});
