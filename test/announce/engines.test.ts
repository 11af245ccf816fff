import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandEngine, EspeakCliEngine, EspeakWasmEngine, splitCommand, parseEspeakVoices, AnnounceError, removeTempDir, withTempDir } from '../../lib/announce';
import type { SpeechResult } from '../../lib/announce';
import { findExecutable } from '../../lib/util/executable';
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

test('embedded engine: a request runs on an instance prepared ahead (runtime and data files up), so it waits only for eSpeak\'s main()', async () => {
  const e = new EspeakWasmEngine();
  try {
    await e.synthesize('one', { voice: 'en' });
    // the spare for the next request is made a little after a reply; wait for it, bounded
    for (const text of ['A012, window 3', '请 A013 号到 3 号窗口']) {
      const end = Date.now() + 10_000;
      let run;
      for (;;) {
        await new Promise((r) => setTimeout(r, 500));
        const r = await e.synthesize(text, { voice: text.startsWith('请') ? 'cmn' : 'en-us' });
        assert.ok(r.pcm.length > 22050, 'speech');
        run = e.lastRun;
        if (run?.readyAhead || Date.now() > end) break;
      }
      assert.equal(run?.readyAhead, true, 'the instance was ready before the request');
      assert.ok(run.mainMs > 0);
    }
    // back to back: the second request finds no spare yet and prepares one itself, and still speaks
    const [a, b] = await Promise.all([e.synthesize('two', { voice: 'en' }), e.synthesize('three', { voice: 'en' })]);
    assert.ok(a.pcm.length > 0 && b.pcm.length > 0);
    assert.equal(e.lastRun?.readyAhead, false);
    // exit() inside main (the voice list) is a normal end, and its last line is not lost
    assert.ok((await e.voices()).some((v) => v.name === 'yue'));
  } finally {
    await e.close();
  }
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

test('system espeak-ng engine: same voices, WAV from the file it writes', { skip: missingPeer('espeak-ng') }, async () => {
  assert.ok(await cli.hasVoice('cmn'));
  const r = await cli.synthesize('请 A012 号到 3 号窗口', { voice: 'cmn', pitch: 70 });
  assert.equal(r.rate, 22050);
  assert.ok(r.pcm.length / 2 / r.rate > 1.5 && rms(r) > 500);
  const missing = new EspeakCliEngine({ command: 'no-such-espeak-binary' });
  await assert.rejects(missing.synthesize('x', {}), /"no-such-espeak-binary" is not installed or not found/);
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
  // (Node itself stands in for a failing tool: no sh or true needed, so this runs on Windows too)
  const node = (script: string, ...more: string[]) => JSON.stringify([process.execPath, '-e', script, ...more]);
  await assert.rejects(new CommandEngine({ template: node('process.stderr.write("broken model"); process.exit(3)') }).synthesize('x', {}), /command failed: broken model/);
  await assert.rejects(new CommandEngine({ template: node('', '{wav}') }).synthesize('x', {}), /command failed: no readable WAV/);
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

// ---- Windows and macOS (issue 16): what breaks there, reproduced with the real espeak-ng ----

const work = mkdtempSync(join(tmpdir(), 'engines-platform-'));
after(() => rmSync(work, { recursive: true, force: true }));
const noPosixShell = process.platform === 'win32' && 'the wrapper programs of this test are POSIX shell scripts';

/**
 * An espeak-ng that behaves like espeak-ng.exe on Windows: its stdout is in text mode, so every
 * LF byte of a WAV written there becomes CR LF. Files it writes (-w) are fine. It also records
 * its arguments and the bytes of the text file it was given.
 */
function windowsLikeEspeak(dir: string): { program: string; args: () => string[]; text: () => Buffer | undefined } {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const program = join(dir, 'bin', 'espeak-ng-textmode');
  const crlf = `process.stdin.on("data", (d) => process.stdout.write(Buffer.from(d.toString("latin1").replace(/\\n/g, "\\r\\n"), "latin1")))`;
  writeFileSync(
    program,
    [
      '#!/bin/sh',
      `printf '%s\\n' "$@" > "${dir}/args.txt"`,
      'prev=""',
      `for a in "$@"; do [ "$prev" = "-f" ] && cp "$a" "${dir}/text-seen.txt"; prev="$a"; done`,
      `"${findExecutable('espeak-ng')}" "$@" | "${process.execPath}" -e '${crlf}'`,
      '',
    ].join('\n'),
  );
  chmodSync(program, 0o755);
  return {
    program,
    args: () => readFileSync(join(dir, 'args.txt'), 'utf8').split('\n').filter(Boolean),
    text: () => (existsSync(join(dir, 'text-seen.txt')) ? readFileSync(join(dir, 'text-seen.txt')) : undefined),
  };
}

test('system espeak-ng: the WAV comes from -w <file> and the text from a UTF-8 file (-b 1 -f), so a Windows-like text-mode stdout cannot corrupt it', { skip: missingPeer('espeak-ng') || noPosixShell }, async () => {
  const dir = join(work, 'textmode');
  const fake = windowsLikeEspeak(dir);
  const text = '请 A012 号到 3 号窗口';
  // the program named by a path relative to the user directory (the new node setting)
  const engine = new EspeakCliEngine({ command: 'bin/espeak-ng-textmode', baseDir: dir });
  const got = await engine.synthesize(text, { voice: 'cmn' });
  const direct = await cli.synthesize(text, { voice: 'cmn' });
  assert.equal(got.rate, direct.rate);
  assert.ok(got.pcm.equals(direct.pcm), `the speech differs from espeak-ng's own: ${got.pcm.length} vs ${direct.pcm.length} bytes`);
  const args = fake.args();
  assert.ok(!args.includes('--stdout'), args.join(' '));
  assert.deepEqual(args.slice(args.indexOf('-b'), args.indexOf('-b') + 2), ['-b', '1']);
  assert.ok(args.includes('-w') && args.includes('-f'), args.join(' '));
  assert.deepEqual(fake.text(), Buffer.from(text, 'utf8'), 'the text reaches espeak-ng as UTF-8 bytes');
  // a text starting with "-" is text, not an option
  const dash = await engine.synthesize('-5 degrees', { voice: 'en-us' });
  assert.ok(dash.pcm.length > 11025);
});

test('system espeak-ng: a program that is not there says so, and a relative name is not taken from the working directory', { skip: missingPeer('espeak-ng') }, async () => {
  const missing = new EspeakCliEngine({ command: 'no-such-espeak-binary' });
  await assert.rejects(missing.synthesize('x', {}), /"no-such-espeak-binary" is not installed or not found/);
  // bin/espeak-ng exists relative to the working directory only: the user directory is asked
  const cwdOnly = new EspeakCliEngine({ command: 'bin/espeak-ng', baseDir: join(work, 'nowhere') });
  await assert.rejects(cwdOnly.synthesize('x', {}), new RegExp(`${join(work, 'nowhere', 'bin', 'espeak-ng').replace(/[\\/.]/g, '.')}" is not installed`));
});

test('command engine: program and relative files are taken from the user directory (its working directory), a JSON array template runs as is', { skip: missingPeer('espeak-ng') || noPosixShell }, async () => {
  const dir = join(work, 'userdir');
  mkdirSync(join(dir, 'voices'), { recursive: true });
  mkdirSync(join(dir, 'tools'), { recursive: true });
  // a tool under the user directory that reads a word list under it, like Piper reads its model
  writeFileSync(join(dir, 'voices', 'words.txt'), 'hello');
  const tool = join(dir, 'tools', 'say');
  writeFileSync(tool, `#!/bin/sh\nexec "${findExecutable('espeak-ng')}" "$@"\n`);
  chmodSync(tool, 0o755);
  const engine = new CommandEngine({ template: '["tools/say", "-v", "en", "-f", "voices/words.txt", "-w", "{wav}"]', baseDir: dir });
  const r = await engine.synthesize('ignored: the tool reads its file', {});
  assert.ok(r.pcm.length / 2 / r.rate > 0.3, `${r.pcm.length} bytes`);
});

test('command engine: a tool that runs too long is killed, and the error waits until it and the helper it started have let go of their pipes', async () => {
  // a wrapper (like piper.cmd or a shell script) whose real engine runs as its child: killing
  // the wrapper leaves the engine writing for a moment; the error (and the temp folder's removal)
  // must wait for it instead of racing it, which on Windows fails with EBUSY
  const marker = join(work, 'engine-finished');
  const pidFile = join(work, 'wrapper.pid');
  const engineScript = `setTimeout(() => require("fs").writeFileSync(${JSON.stringify(marker)}, "done"), 800)`;
  const wrapper = [
    `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));`,
    `require("child_process").spawn(process.execPath, ["-e", ${JSON.stringify(engineScript)}], { stdio: "inherit" });`,
    'setInterval(() => {}, 1000);',
  ].join(' ');
  const engine = new CommandEngine({ template: JSON.stringify([process.execPath, '-e', wrapper, '{wav}']), timeoutMs: 500 });
  const t0 = Date.now();
  await assert.rejects(engine.synthesize('x', {}), /took longer than 500 ms and was stopped/);
  assert.ok(existsSync(marker), `the error came ${Date.now() - t0} ms after the start, while the engine was still writing`);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.throws(() => process.kill(pid, 0), (e: NodeJS.ErrnoException) => e.code === 'ESRCH', `the killed wrapper ${pid} still exists`);
  // bounded: a helper that never lets go delays the error by at most a couple of seconds
  assert.ok(Date.now() - t0 < 10000);
});

test('temporary files: a folder that cannot be removed (Windows EBUSY/EPERM while antivirus holds the WAV) never replaces the result', { skip: missingPeer('espeak-ng') }, async () => {
  let calls = 0;
  const busy = async () => {
    calls++;
    throw Object.assign(new Error('EBUSY: resource busy or locked, rmdir'), { code: 'EBUSY' });
  };
  const engine = new CommandEngine({ template: 'espeak-ng -v en -w {wav} --stdin', removeDir: busy });
  const r = await engine.synthesize('hello', {});
  assert.ok(r.pcm.length > 0);
  // the engine's own error is the one reported, not the cleanup's
  const failing = new CommandEngine({ template: JSON.stringify([process.execPath, '-e', 'process.stderr.write("model missing"); process.exit(2)']), removeDir: busy });
  await assert.rejects(failing.synthesize('x', {}), /command failed: model missing/);
  const cliBusy = new EspeakCliEngine({ removeDir: busy });
  assert.ok((await cliBusy.synthesize('hello', { voice: 'en' })).pcm.length > 0);
  assert.equal(calls, 3);
  assert.equal(await withTempDir(async () => 42, busy), 42);
  // the default removal (Node's rm with retries) removes, and a folder already gone is fine
  const d = mkdtempSync(join(work, 'rm-'));
  writeFileSync(join(d, 'speech.wav'), 'x');
  assert.equal(await removeTempDir(d), true);
  assert.equal(existsSync(d), false);
  assert.equal(await removeTempDir(d), true);
});
