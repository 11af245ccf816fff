/**
 * Any local engine that can write a WAV file (Piper, Sherpa-ONNX, Festival, say…), run from a
 * command template. The template is split into words like a shell would (quotes group), but no
 * shell runs it, so nothing in the text can inject commands. Placeholders, replaced inside words:
 *   {wav}   a temporary WAV file the command must write (else its stdout must be a WAV)
 *   {text}  the text (when absent, the text is written to the command's stdin)
 *   {voice} {speed} {pitch}  the announcement's settings
 * Example (Piper):  piper --model /opt/piper/zh_CN-huayan-medium.onnx --output_file {wav}
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpeechEngine, SpeechOptions, SpeechResult, Voice } from '../types';
import { AnnounceError } from '../errors';
import { decodeEngineWavFast as decodeEngineWav } from './wav-stream';
import { runBounded } from './run';

export interface CommandEngineOptions {
  template: string;
  timeoutMs?: number;
}

/** Splits a command line into words: whitespace separates, '…' and "…" group, \ escapes in "…" and bare words. */
export function splitCommand(template: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (quote) {
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

export class CommandEngine implements SpeechEngine {
  readonly name = 'command';
  private readonly words: string[];
  private readonly timeoutMs: number;

  constructor(opts: CommandEngineOptions) {
    let words: string[];
    try {
      words = splitCommand(opts.template ?? '');
    } catch (e) {
      throw new AnnounceError('announce.badTemplate', `speech command template is not valid: ${(e as Error).message}`, { reason: (e as Error).message });
    }
    if (words.length === 0) throw new AnnounceError('announce.badTemplate', 'speech command template is not valid: it is empty', { reason: 'empty' });
    this.words = words;
    this.timeoutMs = opts.timeoutMs ?? 30000;
  }

  async voices(): Promise<Voice[]> {
    return [];
  }

  async hasVoice(): Promise<boolean> {
    return true;
  }

  async synthesize(text: string, opts: SpeechOptions): Promise<SpeechResult> {
    const dir = await mkdtemp(join(tmpdir(), 'tts-rtsp-out-'));
    const wav = join(dir, 'speech.wav');
    try {
      const usesWav = this.words.some((w) => w.includes('{wav}'));
      const usesText = this.words.some((w) => w.includes('{text}'));
      const values: Record<string, string> = {
        wav,
        text,
        voice: opts.voice ?? '',
        speed: String(opts.speed ?? 1),
        pitch: String(opts.pitch ?? 50),
      };
      const [cmd, ...args] = this.words.map((w) => w.replace(/\{(wav|text|voice|speed|pitch)\}/g, (_, k: string) => values[k]));
      let r;
      try {
        r = await runBounded(cmd, args, { input: usesText ? '' : text, timeoutMs: this.timeoutMs });
      } catch (e) {
        const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `"${cmd}" is not installed or not on PATH` : (e as Error).message;
        throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
      }
      if (r.code !== 0) {
        const reason = r.stderr || `exit code ${r.code}`;
        throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
      }
      let data: Buffer;
      try {
        data = usesWav ? await readFile(wav) : r.stdout;
        const { format, pcm } = decodeEngineWav(data);
        if (format.channels !== 1) return { pcm: downmix(pcm, format.channels), rate: format.rate };
        return { pcm, rate: format.rate };
      } catch (e) {
        const reason = usesWav ? `no readable WAV at {wav}: ${(e as Error).message}` : `its stdout is not a WAV: ${(e as Error).message}`;
        throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${reason}`, { engine: this.name, reason });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
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
