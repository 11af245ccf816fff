/**
 * Worker thread of the embedded espeak-ng engine. eSpeak NG compiled to wasm (npm `espeak-ng`)
 * runs its command-line main() synchronously for tens of ms per sentence: on the main thread that
 * would stall the real-time pacer, so it runs here. The wasm (18 MB) is compiled once; each
 * request gets a fresh instance (the CLI's main keeps global state between runs), prepared ahead.
 *
 * Requests: { id, args: string[], wav } -> { id, wav?: Uint8Array, out: string, err: string,
 * error?: string, readyAhead: boolean (the instance was up before the request), mainMs }
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

/** What the module's wasm exports and this file uses to call main() itself. */
interface EspeakExports {
  memory: { buffer: ArrayBuffer };
  stackSave(): number;
  stackRestore(sp: number): void;
  stackAlloc(bytes: number): number;
  __main_argc_argv(argc: number, argv: number): number;
  fflush(stream: number): number;
}

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
  out: string[];
  err: string[];
  /** resolves once the instance's runtime is up (its data files in place), main() not run yet */
  ready: Promise<{ mod: EspeakModule; ex: EspeakExports }>;
  /** `ready` has resolved */
  isReady: boolean;
}

/**
 * An instance made ready ahead of the next request: instantiating (copying the 18 MB of voice
 * data into a fresh memory) and starting its runtime (registering the thousands of data files)
 * take most of a short sentence's time, so they are done while idle; the request then only runs
 * main(). `noInitialRun` stops the module before main(), which run() calls with the request's
 * arguments.
 */
function prepare(factory: EspeakFactory, wasm: WebAssembly.Module): Prepared {
  const p = { out: [] as string[], err: [] as string[], isReady: false } as Prepared;
  let ex!: EspeakExports;
  p.ready = factory({
    arguments: [],
    noInitialRun: true,
    print: (s: string) => p.out.push(s),
    printErr: (s: string) => p.err.push(s),
    instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
      WebAssembly.instantiate(wasm, imports).then((inst) => {
        ex = inst.exports as unknown as EspeakExports;
        done(inst, wasm);
      });
      return {};
    },
  }).then((mod) => {
    p.isReady = true;
    return { mod, ex };
  });
  p.ready.catch(() => undefined);
  return p;
}

/**
 * The CLI's main(argc, argv) with `args` (what emscripten's callMain does, which the module does
 * not export): the strings and argv on the wasm stack, released after. exit() inside main
 * (e.g. --voices) ends it by throwing emscripten's ExitStatus, which is a normal end here.
 */
function callMain(ex: EspeakExports, args: string[]): void {
  const sp = ex.stackSave();
  try {
    const all = ['espeak-ng', ...args];
    const ptrs = all.map((a) => {
      const bytes = Buffer.from(`${a}\0`, 'utf8');
      const ptr = ex.stackAlloc(bytes.length);
      new Uint8Array(ex.memory.buffer).set(bytes, ptr);
      return ptr;
    });
    const argv = ex.stackAlloc(4 * (ptrs.length + 1));
    const view = new DataView(ex.memory.buffer);
    ptrs.forEach((ptr, i) => view.setUint32(argv + 4 * i, ptr, true));
    view.setUint32(argv + 4 * ptrs.length, 0, true);
    try {
      ex.__main_argc_argv(ptrs.length, argv);
    } catch (e) {
      if ((e as { name?: string } | undefined)?.name !== 'ExitStatus') throw e;
    }
    // what main printed without a final newline is still in stdio's buffers
    ex.fflush(0);
  } finally {
    ex.stackRestore(sp);
  }
}

let spare: Prepared | undefined;
let spareTimer: NodeJS.Timeout | undefined;
/**
 * The next instance is prepared this long after a reply, not at once: its ~100 ms of CPU would
 * otherwise compete with what the reply sets off (the announcement starting, its board going out,
 * the players decoding) on a machine with few cores. A request that comes sooner prepares it then.
 */
const SPARE_DELAY_MS = 300;

async function run(args: string[], wantWav: boolean): Promise<{ wav?: Uint8Array; out: string; err: string; readyAhead: boolean; mainMs: number }> {
  const { factory, wasm } = await load();
  clearTimeout(spareTimer);
  const cur = spare ?? prepare(factory, wasm);
  spare = undefined;
  const readyAhead = cur.isReady;
  const { mod, ex } = await cur.ready;
  const file = '/tmp/announce.wav';
  const t0 = performance.now();
  callMain(ex, wantWav ? ['-w', file, ...args] : args);
  const mainMs = performance.now() - t0;
  let wav: Uint8Array | undefined;
  if (wantWav) {
    try {
      wav = mod.FS.readFile(file);
    } catch {
      wav = undefined;
    }
  }
  spareTimer = setTimeout(() => (spare ??= prepare(factory, wasm)), SPARE_DELAY_MS);
  // emscripten's note that main() returned while the runtime stays alive is not an error
  const err = cur.err.filter((s) => !s.startsWith('program exited'));
  return { wav, out: cur.out.join('\n'), err: err.join('\n'), readyAhead, mainMs };
}

parentPort!.on('message', (req: { id: number; args: string[]; wav: boolean }) => {
  run(req.args, req.wav).then(
    (r) => parentPort!.postMessage({ id: req.id, ...r }),
    (e: unknown) => parentPort!.postMessage({ id: req.id, out: '', err: '', error: e instanceof Error ? e.message : String(e) }),
  );
});
