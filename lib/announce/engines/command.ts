/**
 * Any local engine that can write a WAV file (Piper, Sherpa-ONNX, Festival, say…), run from a
 * command template. The template is split into words like a shell would (quotes group), but no
 * shell runs it, so nothing in the text can inject commands. It may also be a JSON array of
 * words, which needs no quoting rules at all. Placeholders, replaced inside words:
 *   {wav}   a temporary WAV file the command must write (else its stdout must be a WAV)
 *   {text}  the text (when absent, the text is written to the command's stdin)
 *   {voice} {speed} {pitch}  the announcement's settings
 * Example (Piper):  piper --model /opt/piper/zh_CN-huayan-medium.onnx --output_file {wav}
 * The program and relative file names in the arguments are taken from `baseDir` (Node-RED's user
 * directory), which is also the program's working directory.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SpeechEngine, SpeechOptions, SpeechResult, Voice } from '../types';
import { AnnounceError } from '../errors';
import { findExecutable, isBatchFile, isPathLike, resolveUserPath, spawnFailureReason, type PlatformEnv } from '../../util/executable';
import { decodeEngineWavFast as decodeEngineWav } from './wav-stream';
import { runBounded } from './run';
import { withTempDir, type RemoveDir } from './temp';

export interface CommandEngineOptions {
  template: string;
  timeoutMs?: number;
  /** where a relative program or file name is taken from, and the working directory */
  baseDir?: string;
  /** the platform's rules (quoting, program lookup); default this machine's */
  platform?: PlatformEnv;
  /** how the temporary folder is removed (tests make it fail like Windows does) */
  removeDir?: RemoveDir;
}

/**
 * Splits a command line into words: whitespace separates, '…' and "…" group. A backslash
 * follows the platform's rule: on Windows it is an ordinary character (C:\voices\zh.onnx) except
 * before a double quote, where 2n backslashes + " give n backslashes and a quote that groups,
 * 2n+1 give n backslashes and a literal " (the rule of CommandLineToArgvW, which Windows programs
 * use to read their command line); elsewhere it escapes the next character in "…" and bare words.
 */
export function splitCommand(template: string, platform: NodeJS.Platform = process.platform): string[] {
  const windows = platform === 'win32';
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (windows && c === '\\' && quote !== "'") {
      let n = 0;
      while (template[i + n] === '\\') n++;
      if (template[i + n] !== '"') {
        cur += '\\'.repeat(n);
      } else {
        cur += '\\'.repeat(Math.floor(n / 2));
        if (n % 2 === 1) {
          cur += '"';
          n++; // the escaped quote is used up
        }
        // an even run leaves the quote to the loop: it opens or closes a group
      }
      i += n - 1;
      inWord = true;
    } else if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < template.length) cur += template[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < template.length) {
      cur += template[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`command template has an unclosed ${quote} quote`);
  if (inWord) words.push(cur);
  return words;
}

/** The words of a template: a JSON array of strings as it is, else split by splitCommand. */
export function templateWords(template: string, platform: NodeJS.Platform = process.platform): string[] {
  const t = template.trim();
  if (!t.startsWith('[')) return splitCommand(t, platform);
  let words: unknown;
  try {
    words = JSON.parse(t);
  } catch (e) {
    throw new Error(`it starts with [ but is not a JSON array: ${(e as Error).message}`);
  }
  if (!Array.isArray(words) || !words.every((w) => typeof w === 'string')) throw new Error('a JSON template must be an array of strings, like ["piper", "--output_file", "{wav}"]');
  return words as string[];
}

export class CommandEngine implements SpeechEngine {
  readonly name = 'command';
  private readonly program: string;
  private readonly args: string[];
  private readonly timeoutMs: number;
  private readonly baseDir: string | undefined;
  private readonly removeDir: RemoveDir | undefined;

  constructor(opts: CommandEngineOptions) {
    const platform = opts.platform ?? {};
    const bad = (reason: string) => new AnnounceError('announce.badTemplate', `speech command template is not valid: ${reason}`, { reason });
    let words: string[];
    try {
      words = templateWords(opts.template ?? '', platform.platform);
    } catch (e) {
      throw bad((e as Error).message);
    }
    if (words.length === 0 || !words[0]) throw bad('it is empty');
    const [name, ...args] = words;
    // a program named by path is taken from the user directory; a bare name is looked up on PATH
    // (with PATHEXT on Windows, and where Homebrew installs on macOS) and left to spawn if absent
    const program = isPathLike(name, platform) ? resolveUserPath(name, opts.baseDir, platform) : (findExecutable(name, platform) ?? name);
    if ((platform.platform ?? process.platform) === 'win32' && isBatchFile(program)) {
      throw bad(`"${program}" is a batch file (.bat/.cmd), which Node.js does not start without a shell: name the program it runs (the .exe) instead`);
    }
    this.program = program;
    this.args = args;
    this.timeoutMs = opts.timeoutMs ?? 30000;
    this.baseDir = opts.baseDir;
    this.removeDir = opts.removeDir;
  }

  async voices(): Promise<Voice[]> {
    return [];
  }

  async hasVoice(): Promise<boolean> {
    return true;
  }

  synthesize(text: string, opts: SpeechOptions): Promise<SpeechResult> {
    return withTempDir((dir) => this.synthesizeIn(dir, text, opts), this.removeDir);
  }

  private async synthesizeIn(dir: string, text: string, opts: SpeechOptions): Promise<SpeechResult> {
    const wav = join(dir, 'speech.wav');
    const usesWav = this.args.some((w) => w.includes('{wav}'));
    const usesText = this.args.some((w) => w.includes('{text}'));
    const values: Record<string, string> = {
      wav,
      text,
      voice: opts.voice ?? '',
      speed: String(opts.speed ?? 1),
      pitch: String(opts.pitch ?? 50),
    };
    const args = this.args.map((w) => w.replace(/\{(wav|text|voice|speed|pitch)\}/g, (_, k: string) => values[k]));
    let r;
    try {
      r = await runBounded(this.program, args, { input: usesText ? '' : text, timeoutMs: this.timeoutMs, cwd: this.baseDir });
    } catch (e) {
      const reason = spawnFailureReason(this.program, e as NodeJS.ErrnoException);
      throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
    }
    if (r.code !== 0) {
      const reason = r.stderr || `exit code ${r.code}`;
      throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
    }
    try {
      const data = usesWav ? await readFile(wav) : r.stdout;
      const { format, pcm } = decodeEngineWav(data);
      if (format.channels !== 1) return { pcm: downmix(pcm, format.channels), rate: format.rate };
      return { pcm, rate: format.rate };
    } catch (e) {
      const reason = usesWav ? `no readable WAV at {wav}: ${(e as Error).message}` : `its stdout is not a WAV: ${(e as Error).message}`;
      throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
    }
  }

  async close(): Promise<void> {
    // every child process is bounded and ends with its request
  }
}

/** Mono mix of interleaved s16le. */
export function downmix(pcm: Buffer, channels: number): Buffer {
  const frames = Math.floor(pcm.length / (2 * channels));
  const out = Buffer.alloc(frames * 2);
  for (let i = 0; i < frames; i++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += pcm.readInt16LE((i * channels + c) * 2);
    out.writeInt16LE(Math.round(s / channels), i * 2);
  }
  return out;
}
