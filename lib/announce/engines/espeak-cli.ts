/** The system `espeak-ng` binary (Debian: apt-get install espeak-ng), WAV on its stdout. */
import type { SpeechEngine, SpeechOptions, SpeechResult, Voice } from '../types';
import { AnnounceError } from '../errors';
import { espeakArgs, parseEspeakVoices } from './espeak-voices';
import { decodeEngineWavFast as decodeEngineWav } from './wav-stream';
import { runBounded } from './run';

export interface EspeakCliOptions {
  /** the binary (default "espeak-ng" on PATH) */
  command?: string;
  timeoutMs?: number;
}

export class EspeakCliEngine implements SpeechEngine {
  readonly name = 'espeak';
  private readonly command: string;
  private readonly timeoutMs: number;
  private voiceList: Promise<Voice[]> | undefined;

  constructor(opts: EspeakCliOptions = {}) {
    this.command = opts.command ?? 'espeak-ng';
    this.timeoutMs = opts.timeoutMs ?? 15000;
  }

  voices(): Promise<Voice[]> {
    this.voiceList ??= this.run(['--voices']).then((r) => parseEspeakVoices(r.stdout.toString()));
    this.voiceList.catch(() => (this.voiceList = undefined));
    return this.voiceList;
  }

  async hasVoice(voice: string): Promise<boolean> {
    return (await this.voices()).some((v) => v.name === voice);
  }

  async synthesize(text: string, opts: SpeechOptions): Promise<SpeechResult> {
    // the text goes in on stdin: no length limit of the command line, no option parsing of it
    const r = await this.run(['--stdout', ...espeakArgs(opts)], text);
    if (r.code !== 0 || r.stdout.length <= 44) {
      const reason = r.stderr || `exit code ${r.code}`;
      throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
    }
    const { format, pcm } = decodeEngineWav(r.stdout);
    return { pcm, rate: format.rate };
  }

  async close(): Promise<void> {
    // every child process is bounded and ends with its request
  }

  private async run(args: string[], input?: string) {
    try {
      return await runBounded(this.command, args, { input, timeoutMs: this.timeoutMs });
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `"${this.command}" is not installed or not on PATH` : (e as Error).message;
      throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
    }
  }
}
