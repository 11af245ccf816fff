import type { SpeechEngine } from '../types';
import { EspeakWasmEngine } from './espeak-wasm';
import { EspeakCliEngine } from './espeak-cli';
import { CommandEngine } from './command';

export { EspeakWasmEngine, findEspeakWasm } from './espeak-wasm';
export { EspeakCliEngine } from './espeak-cli';
export { CommandEngine, splitCommand } from './command';
export { parseEspeakVoices } from './espeak-voices';

export type EngineKind = 'embedded' | 'espeak' | 'command';

export interface EngineConfig {
  /** embedded (espeak-ng wasm, default), espeak (system binary), command (template writing a WAV) */
  kind?: EngineKind;
  /** for kind "espeak": the binary; for kind "command": the template */
  command?: string;
  timeoutMs?: number;
}

export function createEngine(cfg: EngineConfig = {}): SpeechEngine {
  switch (cfg.kind ?? 'embedded') {
    case 'embedded':
      return new EspeakWasmEngine({ timeoutMs: cfg.timeoutMs });
    case 'espeak':
      return new EspeakCliEngine({ command: cfg.command || undefined, timeoutMs: cfg.timeoutMs });
    case 'command':
      return new CommandEngine({ template: cfg.command ?? '', timeoutMs: cfg.timeoutMs });
    default:
      throw new RangeError(`unknown speech engine ${JSON.stringify(cfg.kind)}: expected embedded, espeak or command`);
  }
}
