/**
 * The Windows and macOS rules of finding programs and files, proved on any machine: node:path's
 * win32/posix rules, the environment (PATH, PATHEXT, ProgramFiles) and which files exist are
 * passed in. The cases are taken from real installs: ffmpeg from winget/gyan.dev builds, the eSpeak
 * NG installer, Piper unpacked under Program Files, UNC shares, Homebrew on Apple silicon and Intel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { findExecutable, isPathLike, resolveUserPath, spawnFailureReason, type PlatformEnv } from '../../lib/util/executable';
import { espeakProgram } from '../../lib/announce/engines/espeak-cli';
import { CommandEngine, splitCommand, templateWords } from '../../lib/announce';

/** A Windows machine whose disk holds exactly `files` (matched case-insensitively, as NTFS does). */
function windows(files: string[], env: NodeJS.ProcessEnv = {}): PlatformEnv {
  const have = new Set(files.map((f) => f.toLowerCase()));
  return {
    platform: 'win32',
    path: path.win32,
    env: { Path: 'C:\\Windows\\system32;C:\\Windows', PATHEXT: '.COM;.EXE;.BAT;.CMD;.VBS;.JS', ProgramFiles: 'C:\\Program Files', 'ProgramFiles(x86)': 'C:\\Program Files (x86)', ...env },
    isExecutable: (f) => have.has(f.toLowerCase()),
  };
}

/** A Mac whose executable files are `files`; launchd starts services with this bare PATH. */
function mac(files: string[], envPath = '/usr/bin:/bin:/usr/sbin:/sbin'): PlatformEnv {
  const have = new Set(files);
  return { platform: 'darwin', path: path.posix, env: { PATH: envPath }, isExecutable: (f) => have.has(f) };
}

test('ffmpeg on Windows: an absolute path with backslashes is a path, not a name to join under PATH', () => {
  const win = windows(['C:\\ffmpeg\\bin\\ffmpeg.exe']);
  assert.equal(findExecutable('C:\\ffmpeg\\bin\\ffmpeg.exe', win), 'C:\\ffmpeg\\bin\\ffmpeg.exe');
  // the folder without the ending, as people type it: PATHEXT is tried on paths too
  assert.equal(findExecutable('C:\\ffmpeg\\bin\\ffmpeg', win), 'C:\\ffmpeg\\bin\\ffmpeg.exe');
  // forward slashes work on Windows as well
  assert.equal(findExecutable('C:/ffmpeg/bin/ffmpeg.exe', win)?.toLowerCase(), 'c:\\ffmpeg\\bin\\ffmpeg.exe');
  // a UNC share
  const unc = windows(['\\\\fileserver\\tools\\ffmpeg\\bin\\ffmpeg.exe']);
  assert.equal(findExecutable('\\\\fileserver\\tools\\ffmpeg\\bin\\ffmpeg.exe', unc), '\\\\fileserver\\tools\\ffmpeg\\bin\\ffmpeg.exe');
  assert.equal(findExecutable('C:\\ffmpeg\\bin\\ffmpeg.exe', windows([])), undefined);
});

test('ffmpeg on Windows: a bare name finds ffmpeg.exe through PATHEXT, in PATH order, whatever the case of "Path"', () => {
  const winget = 'C:\\Users\\clinic\\AppData\\Local\\Microsoft\\WinGet\\Links';
  const win = windows([`${winget}\\ffmpeg.exe`, 'C:\\Program Files\\ffmpeg\\bin\\ffmpeg.exe'], { Path: `C:\\Windows\\system32;"${winget}";C:\\Program Files\\ffmpeg\\bin` });
  assert.equal(findExecutable('ffmpeg', win), `${winget}\\ffmpeg.exe`);
  assert.equal(findExecutable('ffmpeg.exe', win), `${winget}\\ffmpeg.exe`);
  // not on PATH at all: the usual install folder under Program Files
  assert.equal(findExecutable('ffmpeg', windows(['C:\\Program Files\\ffmpeg\\bin\\ffmpeg.exe'])), 'C:\\Program Files\\ffmpeg\\bin\\ffmpeg.exe');
  // .COM comes before .EXE, as Windows itself picks
  assert.equal(findExecutable('tool', windows(['C:\\Windows\\tool.exe', 'C:\\Windows\\tool.com'])), 'C:\\Windows\\tool.com');
  // without PATHEXT in the environment, Windows' default list
  const bare = windows(['C:\\Windows\\ffmpeg.exe'], { PATHEXT: undefined });
  assert.equal(findExecutable('ffmpeg', bare), 'C:\\Windows\\ffmpeg.exe');
});

test('espeak-ng on Windows: the installer does not add it to PATH; it is found in Program Files, or named by the user', () => {
  const exe = 'C:\\Program Files\\eSpeak NG\\espeak-ng.exe';
  assert.equal(espeakProgram({ platform: windows([exe]) }), exe);
  const x86 = 'C:\\Program Files (x86)\\eSpeak NG\\espeak-ng.exe';
  assert.equal(espeakProgram({ platform: windows([x86]) }), x86);
  // a path the user typed, relative to the user directory
  assert.equal(espeakProgram({ command: 'tools\\espeak-ng.exe', baseDir: 'C:\\Users\\clinic\\.node-red', platform: windows([]) }), 'C:\\Users\\clinic\\.node-red\\tools\\espeak-ng.exe');
  // nowhere: the bare name, so the spawn error names what was looked for
  assert.equal(espeakProgram({ platform: windows([]) }), 'espeak-ng');
});

test('macOS: a launchd service PATH lacks Homebrew; ffmpeg and espeak-ng are found in /opt/homebrew/bin (Apple silicon) and /usr/local/bin (Intel)', () => {
  assert.equal(findExecutable('ffmpeg', mac(['/opt/homebrew/bin/ffmpeg'])), '/opt/homebrew/bin/ffmpeg');
  assert.equal(findExecutable('ffmpeg', mac(['/usr/local/bin/ffmpeg'])), '/usr/local/bin/ffmpeg');
  assert.equal(espeakProgram({ platform: mac(['/opt/homebrew/bin/espeak-ng']) }), '/opt/homebrew/bin/espeak-ng');
  // PATH first: a Node-RED started from a terminal with MacPorts first on PATH uses that one
  assert.equal(findExecutable('ffmpeg', mac(['/opt/local/bin/ffmpeg', '/opt/homebrew/bin/ffmpeg'], '/opt/local/bin:/usr/bin')), '/opt/local/bin/ffmpeg');
  assert.equal(findExecutable('ffmpeg', mac([])), undefined);
  // no PATHEXT games outside Windows
  assert.equal(findExecutable('ffmpeg.exe', mac(['/opt/homebrew/bin/ffmpeg'])), undefined);
});

test('path-like names: absolute, with / or \\ (Windows), drive-relative (Windows); bare names are looked up', () => {
  const win: PlatformEnv = { platform: 'win32', path: path.win32 };
  const posix: PlatformEnv = { platform: 'linux', path: path.posix };
  for (const n of ['C:\\ffmpeg\\bin\\ffmpeg.exe', 'bin\\ffmpeg.exe', './ffmpeg', 'C:ffmpeg.exe', '\\\\srv\\share\\ffmpeg.exe', '/usr/bin/ffmpeg']) assert.equal(isPathLike(n, win), true, n);
  for (const n of ['ffmpeg', 'ffmpeg.exe', 'espeak-ng']) assert.equal(isPathLike(n, win), false, n);
  for (const n of ['/usr/bin/ffmpeg', 'bin/ffmpeg', './ffmpeg']) assert.equal(isPathLike(n, posix), true, n);
  assert.equal(isPathLike('ffmpeg', posix), false);
});

test('relative file names come from the user directory, never the working directory (C:\\Windows\\System32 for a service)', () => {
  const win: PlatformEnv = { platform: 'win32', path: path.win32 };
  const userDir = 'C:\\Users\\clinic\\.node-red';
  assert.equal(resolveUserPath('chime.wav', userDir, win), 'C:\\Users\\clinic\\.node-red\\chime.wav');
  assert.equal(resolveUserPath('sounds/chime.wav', userDir, win), 'C:\\Users\\clinic\\.node-red\\sounds\\chime.wav');
  assert.equal(resolveUserPath('..\\shared\\chime.wav', userDir, win), 'C:\\Users\\clinic\\shared\\chime.wav');
  assert.equal(resolveUserPath('C:\\Program Files\\Queue\\chime.wav', userDir, win), 'C:\\Program Files\\Queue\\chime.wav');
  assert.equal(resolveUserPath('\\\\fileserver\\sounds\\chime.wav', userDir, win), '\\\\fileserver\\sounds\\chime.wav');
  // rooted without a drive: the user directory's drive
  assert.equal(resolveUserPath('\\sounds\\chime.wav', 'D:\\node-red', win), 'D:\\sounds\\chime.wav');
  // drive-relative: on the user directory's drive from the user directory, else from that drive's root
  assert.equal(resolveUserPath('C:sounds\\chime.wav', userDir, win), 'C:\\Users\\clinic\\.node-red\\sounds\\chime.wav');
  assert.equal(resolveUserPath('d:sounds\\chime.wav', userDir, win), 'd:\\sounds\\chime.wav');
  const posix: PlatformEnv = { platform: 'darwin', path: path.posix };
  assert.equal(resolveUserPath('chime.wav', '/Users/clinic/.node-red', posix), '/Users/clinic/.node-red/chime.wav');
  assert.equal(resolveUserPath('/opt/homebrew/share/chime.wav', '/Users/clinic/.node-red', posix), '/opt/homebrew/share/chime.wav');
  assert.equal(resolveUserPath('', userDir, win), '');
});

test('command template on Windows: backslashes are literal except before a quote (CommandLineToArgvW)', () => {
  assert.deepEqual(splitCommand('piper.exe --model C:\\voices\\zh.onnx --output_file {wav}', 'win32'), ['piper.exe', '--model', 'C:\\voices\\zh.onnx', '--output_file', '{wav}']);
  assert.deepEqual(splitCommand('"C:\\Program Files\\piper\\piper.exe" --model "D:\\my voices\\zh.onnx" -f {wav}', 'win32'), [
    'C:\\Program Files\\piper\\piper.exe',
    '--model',
    'D:\\my voices\\zh.onnx',
    '-f',
    '{wav}',
  ]);
  assert.deepEqual(splitCommand('tool \\\\fileserver\\voices\\zh.onnx', 'win32'), ['tool', '\\\\fileserver\\voices\\zh.onnx']);
  // a folder ending in \ inside quotes: "C:\dir\\" is C:\dir\ (2n backslashes + quote: n and the quote closes)
  assert.deepEqual(splitCommand('tool --out "C:\\out dir\\\\" next', 'win32'), ['tool', '--out', 'C:\\out dir\\', 'next']);
  // 2n+1 backslashes before a quote: n backslashes and a literal quote
  assert.deepEqual(splitCommand('tool say\\"hi\\" a\\\\\\"b', 'win32'), ['tool', 'say"hi"', 'a\\"b']);
  // the same text on Linux/macOS keeps the shell's rule: backslash escapes
  assert.deepEqual(splitCommand('tool C:\\voices\\zh.onnx', 'linux'), ['tool', 'C:voiceszh.onnx']);
  assert.deepEqual(splitCommand('tool "a b" c\\ d', 'darwin'), ['tool', 'a b', 'c d']);
});

test('command template as a JSON array: no quoting rules on any platform', () => {
  const t = '["C:\\\\Program Files\\\\piper\\\\piper.exe", "--model", "C:\\\\voices\\\\zh.onnx", "--output_file", "{wav}"]';
  assert.deepEqual(templateWords(t, 'win32'), ['C:\\Program Files\\piper\\piper.exe', '--model', 'C:\\voices\\zh.onnx', '--output_file', '{wav}']);
  assert.deepEqual(templateWords(t, 'linux'), templateWords(t, 'win32'));
  assert.throws(() => templateWords('["piper", 3]'), /array of strings/);
  assert.throws(() => templateWords('["piper"'), /not a JSON array/);
  assert.throws(() => new CommandEngine({ template: '[]' }), /template is not valid: it is empty/);
});

test('command on Windows: a .cmd/.bat wrapper is refused at deploy, and EINVAL from spawn says what to do', () => {
  const piperCmd = 'C:\\Users\\clinic\\AppData\\Roaming\\npm\\piper.cmd';
  const win = windows([piperCmd], { Path: 'C:\\Users\\clinic\\AppData\\Roaming\\npm' });
  // found through PATHEXT (no piper.exe anywhere), and refused with the reason
  assert.throws(() => new CommandEngine({ template: 'piper --output_file {wav}', platform: win }), (e: Error & { code?: string }) => e.code === 'announce.badTemplate' && /piper\.cmd" is a batch file .*name the program it runs \(the \.exe\)/.test(e.message));
  assert.throws(() => new CommandEngine({ template: '"C:\\tools\\say.BAT" {wav}', platform: win }), /say\.BAT" is a batch file/);
  // a batch file that slips through (found by spawn itself): spawn throws EINVAL, said in words
  const einval = Object.assign(new Error('spawn EINVAL'), { code: 'EINVAL' });
  assert.match(spawnFailureReason('C:\\tools\\say.cmd', einval), /batch file .*does not start without a shell: name the program it runs/);
  assert.match(spawnFailureReason('piper', Object.assign(new Error('spawn piper ENOENT'), { code: 'ENOENT' })), /"piper" is not installed or not found \(give its full path/);
  // on Linux a .cmd file is just a file name
  assert.doesNotThrow(() => new CommandEngine({ template: '/opt/tools/run.cmd {wav}', platform: { platform: 'linux', path: path.posix, env: { PATH: '' } } }));
});
