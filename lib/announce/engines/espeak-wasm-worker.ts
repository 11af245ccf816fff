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

interface Prepared {
  /** the CLI arguments, filled in when a request comes (emscripten keeps this very array) */
  args: string[];
  out: string[];
  err: string[];
  /** resolves once the instance is up and waiting for its arguments */
  waiting: Promise<{ removeRunDependency(id: string): void }>;
  /** resolves when main() has run */
  done: Promise<EspeakModule>;
}

/**
 * An instance made ready ahead of the next request: instantiating (copying the 18 MB of voice
 * data into a fresh memory) is a quarter of a sentence's time, so it is done while idle. A run
 * dependency holds main() back until the request's arguments are in.
 */
function prepare(factory: EspeakFactory, wasm: WebAssembly.Module): Prepared {
  const p = { args: [] as string[], out: [] as string[], err: [] as string[] } as Prepared;
  let held!: (m: { removeRunDependency(id: string): void }) => void;
  p.waiting = new Promise((r) => (held = r));
  p.done = factory({
    arguments: p.args,
    print: (s: string) => p.out.push(s),
    printErr: (s: string) => {
      // emscripten's note that main() returned while the runtime stays alive is not an error
      if (!s.startsWith('program exited')) p.err.push(s);
    },
    preRun: [
      (m: { addRunDependency(id: string): void; removeRunDependency(id: string): void }) => {
        m.addRunDependency('request');
        held(m);
      },
    ],
    instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
      WebAssembly.instantiate(wasm, imports).then((inst) => done(inst, wasm));
      return {};
    },
  });
  p.done.catch(() => undefined);
  return p;
}

let spare: Prepared | undefined;

async function run(args: string[], wantWav: boolean): Promise<{ wav?: Uint8Array; out: string; err: string }> {
  const { factory, wasm } = await load();
  const cur = spare ?? prepare(factory, wasm);
  spare = undefined;
  const file = '/tmp/announce.wav';
  cur.args.push(...(wantWav ? ['-w', file, ...args] : args));
  (await cur.waiting).removeRunDependency('request');
  const mod = await cur.done;
  let wav: Uint8Array | undefined;
  if (wantWav) {
    try {
      wav = mod.FS.readFile(file);
    } catch {
      wav = undefined;
    }
  }
  // the next one, once this reply is on its way
  setImmediate(() => (spare ??= prepare(factory, wasm)));
  return { wav, out: cur.out.join('\n'), err: cur.err.join('\n') };
}

parentPort!.on('message', (req: { id: number; args: string[]; wav: boolean }) => {
  run(req.args, req.wav).then(
    (r) => parentPort!.postMessage({ id: req.id, ...r }),
    (e: unknown) => parentPort!.postMessage({ id: req.id, out: '', err: '', error: e instanceof Error ? e.message : String(e) }),
  );
});
