/**
 * The system `espeak-ng` program (Debian: apt-get install espeak-ng; Windows: the eSpeak NG
 * installer; macOS: brew install espeak-ng). The text goes in as a UTF-8 file (`-b 1 -f`) and the
 * WAV comes back as a file (`-w`): on Windows, text through stdin passes the console code page
 * (Chinese arrives garbled) and a WAV on stdout is corrupted (espeak-ng writes it in text mode).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SpeechEngine, SpeechOptions, SpeechResult, Voice } from '../types';
import { AnnounceError } from '../errors';
import { findExecutable, isPathLike, resolveUserPath, spawnFailureReason, type PlatformEnv } from '../../util/executable';
import { espeakArgs, parseEspeakVoices } from './espeak-voices';
import { decodeEngineWavFast as decodeEngineWav } from './wav-stream';
import { runBounded } from './run';
import { withTempDir, type RemoveDir } from './temp';

export interface EspeakCliOptions {
  /** the program: a name looked up on PATH and where installers put it (default "espeak-ng"), or a path */
  command?: string;
  timeoutMs?: number;
  /** where a relative program path is taken from (Node-RED's user directory) */
  baseDir?: string;
  /** the platform's rules for finding the program; default this machine's */
  platform?: PlatformEnv;
  /** how the temporary folder is removed (tests make it fail like Windows does) */
  removeDir?: RemoveDir;
}

/** The program to run: a path as given (from baseDir), else found on PATH or in its install folder. */
export function espeakProgram(opts: Pick<EspeakCliOptions, 'command' | 'baseDir' | 'platform'> = {}): string {
  const name = opts.command || 'espeak-ng';
  const platform = opts.platform ?? {};
  return isPathLike(name, platform) ? resolveUserPath(name, opts.baseDir, platform) : (findExecutable(name, platform) ?? name);
}

export class EspeakCliEngine implements SpeechEngine {
  readonly name = 'espeak';
  private readonly command: string;
  private readonly timeoutMs: number;
  private readonly removeDir: RemoveDir | undefined;
  private voiceList: Promise<Voice[]> | undefined;

  constructor(opts: EspeakCliOptions = {}) {
    this.command = espeakProgram(opts);
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.removeDir = opts.removeDir;
  }

  voices(): Promise<Voice[]> {
    this.voiceList ??= this.run(['--voices']).then((r) => parseEspeakVoices(r.stdout.toString()));
    this.voiceList.catch(() => (this.voiceList = undefined));
    return this.voiceList;
  }

  async hasVoice(voice: string): Promise<boolean> {
    return (await this.voices()).some((v) => v.name === voice);
  }

  synthesize(text: string, opts: SpeechOptions): Promise<SpeechResult> {
    return withTempDir(async (dir) => {
      // a file, not stdin or an argument: no code page, no command-line length limit, and a text
      // starting with "-" is never read as an option
      const txt = join(dir, 'text.txt');
      const wav = join(dir, 'speech.wav');
      await writeFile(txt, text, 'utf8');
      const r = await this.run(['-b', '1', '-f', txt, '-w', wav, ...espeakArgs(opts)]);
      let data: Buffer | undefined;
      if (r.code === 0) data = await readFile(wav).catch(() => undefined);
      if (!data || data.length <= 44) {
        const reason = r.stderr || (r.code === 0 ? 'it wrote no speech' : `exit code ${r.code}`);
        throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
      }
      const { format, pcm } = decodeEngineWav(data);
      return { pcm, rate: format.rate };
    }, this.removeDir);
  }

  async close(): Promise<void> {
    // every child process is bounded and ends with its request
  }

  private async run(args: string[]) {
    try {
      return await runBounded(this.command, args, { timeoutMs: this.timeoutMs });
    } catch (e) {
      const reason = spawnFailureReason(this.command, e as NodeJS.ErrnoException);
      throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
    }
  }
}
