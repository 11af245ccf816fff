import type { SpeechEngine } from '../types';
import { EspeakWasmEngine } from './espeak-wasm';
import { EspeakCliEngine } from './espeak-cli';
import { CommandEngine } from './command';

export { EspeakWasmEngine, findEspeakWasm } from './espeak-wasm';
export { EspeakCliEngine, espeakProgram } from './espeak-cli';
export { CommandEngine, splitCommand, templateWords } from './command';
export { removeTempDir, withTempDir } from './temp';
export { parseEspeakVoices } from './espeak-voices';

export type EngineKind = 'embedded' | 'espeak' | 'command';

export interface EngineConfig {
  /** embedded (espeak-ng wasm, default), espeak (system binary), command (template writing a WAV) */
  kind?: EngineKind;
  /** for kind "espeak": the binary; for kind "command": the template */
  command?: string;
  timeoutMs?: number;
  /** where relative program and file names are taken from (Node-RED's user directory) */
  baseDir?: string;
}

export function createEngine(cfg: EngineConfig = {}): SpeechEngine {
  switch (cfg.kind ?? 'embedded') {
    case 'embedded':
      return new EspeakWasmEngine({ timeoutMs: cfg.timeoutMs });
    case 'espeak':
      return new EspeakCliEngine({ command: cfg.command || undefined, timeoutMs: cfg.timeoutMs, baseDir: cfg.baseDir });
    case 'command':
      return new CommandEngine({ template: cfg.command ?? '', timeoutMs: cfg.timeoutMs, baseDir: cfg.baseDir });
    default:
      throw new RangeError(`unknown speech engine ${JSON.stringify(cfg.kind)}: expected embedded, espeak or command`);
  }
}
