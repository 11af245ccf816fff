/** Parses `espeak-ng --voices` output (the same for the wasm build and the system binary). */
import type { Voice } from '../types';

/**
 * Lines look like:
 * ` 5  cmn             --/M      Chinese_(Mandarin,_latin_as_English) sit/cmn              (zh-cmn 5)(zh 5)`
 * The name to select a voice with is the language column (`-v cmn`); a few languages have
 * several voices (yue), of which espeak-ng picks the first for the language name.
 */
export function parseEspeakVoices(out: string): Voice[] {
  const voices = new Map<string, Voice>();
  for (const line of out.split('\n')) {
    const m = /^\s*\d+\s+(\S+)\s+\S+\s+(\S+)\s+\S+\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, name, label, rest] = m;
    if (voices.has(name)) continue;
    const languages = [...rest.matchAll(/\((\S+) \d+\)/g)].map((x) => x[1]);
    voices.set(name, { name, label: label.replace(/_/g, ' '), languages });
  }
  return [...voices.values()];
}

/** espeak-ng command-line arguments for the engine-neutral options. */
export function espeakArgs(opts: { voice?: string; speed?: number; pitch?: number }): string[] {
  const args: string[] = [];
  if (opts.voice) args.push('-v', opts.voice);
  // espeak-ng's normal speed is 175 words per minute; it accepts 80..450
  if (opts.speed !== undefined) args.push('-s', String(Math.round(Math.min(450, Math.max(80, 175 * opts.speed)))));
  if (opts.pitch !== undefined) args.push('-p', String(Math.round(Math.min(99, Math.max(0, opts.pitch)))));
  return args;
}
