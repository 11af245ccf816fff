/**
 * What every speech engine of the announcer offers: text in, mono 16-bit PCM out (at the engine's
 * own rate; the announcer resamples it to the stream's rate).
 */

/** Per-announcement speech settings, engine-neutral. */
export interface SpeechOptions {
  /** engine voice / language name, e.g. "cmn", "yue", "en-us" (espeak-ng) */
  voice?: string;
  /** speaking speed relative to the engine's normal speed: 1 = normal, 0.5..2 */
  speed?: number;
  /** voice pitch 0..100, 50 = the voice's normal pitch (engines that support it) */
  pitch?: number;
}

export interface Voice {
  /** the name to pass as `voice` */
  name: string;
  /** human-readable description */
  label: string;
  /** language tags the voice speaks (e.g. "zh-cmn", "zh") */
  languages: string[];
}

export interface SpeechResult {
  /** mono s16le PCM */
  pcm: Buffer;
  /** sample rate of `pcm` */
  rate: number;
}

export interface SpeechEngine {
  /** short name for logs and status: "espeak-wasm", "espeak", "command" */
  readonly name: string;
  /** the voices this engine knows; empty when it cannot tell (a command template) */
  voices(): Promise<Voice[]>;
  /** true when `voice` would be accepted (unknown engines accept any) */
  hasVoice(voice: string): Promise<boolean>;
  synthesize(text: string, opts: SpeechOptions): Promise<SpeechResult>;
  /** releases workers and child processes */
  close(): Promise<void>;
}

export const SPEED_MIN = 0.3;
export const SPEED_MAX = 3;
