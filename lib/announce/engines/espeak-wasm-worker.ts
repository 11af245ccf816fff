/**
 * Worker thread of the embedded espeak-ng engine. eSpeak NG compiled to wasm (npm `espeak-ng`)
 * runs its command-line main() synchronously for ~100 ms per sentence: on the main thread that
 * would stall the real-time pacer, so it runs here. The wasm (18 MB) is compiled once; each
 * request gets a fresh instance (the CLI's main keeps global state between runs).
 *
 * Requests: { id, args: string[] } -> { id, wav?: Uint8Array, out: string, err: string, error?: string }
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { pathToFileURL } from 'node:url';

// The project compiles without the DOM lib, which is where TypeScript declares WebAssembly.
declare namespace WebAssembly {
  interface Module {
    readonly __wasmModule: unique symbol;
  }
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  type Imports = Record<string, Record<string, unknown>>;
}
declare const WebAssembly: {
  compile(bytes: Uint8Array): Promise<WebAssembly.Module>;
  instantiate(module: WebAssembly.Module, imports: WebAssembly.Imports): Promise<WebAssembly.Instance>;
};

interface EspeakModule {
  FS: { readFile(path: string): Uint8Array; unlink(path: string): void };
}
type EspeakFactory = (opts: Record<string, unknown>) => Promise<EspeakModule>;

// `espeak-ng` is an ES module; TypeScript compiles `import()` to require() for CommonJS output,
// so the real dynamic import is reached through Function.
const importEsm = new Function('s', 'return import(s)') as (s: string) => Promise<{ default: EspeakFactory }>;

let loaded: Promise<{ factory: EspeakFactory; wasm: WebAssembly.Module }> | undefined;

function load(): Promise<{ factory: EspeakFactory; wasm: WebAssembly.Module }> {
  loaded ??= (async () => {
    const entry = (workerData as { entry: string }).entry;
    const factory = (await importEsm(pathToFileURL(entry).href)).default;
    const wasm = await WebAssembly.compile(readFileSync(join(dirname(entry), 'espeak-ng.wasm')));
    return { factory, wasm };
  })();
  return loaded;
}

async function run(args: string[], wantWav: boolean): Promise<{ wav?: Uint8Array; out: string; err: string }> {
  const { factory, wasm } = await load();
  const out: string[] = [];
  const err: string[] = [];
  const file = '/tmp/announce.wav';
  const mod = await factory({
    arguments: wantWav ? ['-w', file, ...args] : args,
    print: (s: string) => out.push(s),
    printErr: (s: string) => {
      // emscripten's note that main() returned while the runtime stays alive is not an error
      if (!s.startsWith('program exited')) err.push(s);
    },
    instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
      WebAssembly.instantiate(wasm, imports).then((inst) => done(inst, wasm));
      return {};
    },
  });
  let wav: Uint8Array | undefined;
  if (wantWav) {
    try {
      wav = mod.FS.readFile(file);
    } catch {
      wav = undefined;
    }
  }
  return { wav, out: out.join('\n'), err: err.join('\n') };
}

parentPort!.on('message', (req: { id: number; args: string[]; wav: boolean }) => {
  run(req.args, req.wav).then(
    (r) => parentPort!.postMessage({ id: req.id, ...r }),
    (e: unknown) => parentPort!.postMessage({ id: req.id, out: '', err: '', error: e instanceof Error ? e.message : String(e) }),
  );
});
