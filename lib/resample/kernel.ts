/**
 * Loads fir.wasm (compiled from kernel/fir.ts by scripts/build-wasm.js and shipped next to this
 * file). The module is compiled once per process; each Resampler gets its own instance, so each
 * stream's filter history lives in its own linear memory and streams never share state.
 */
import fs from 'fs';
import path from 'path';

// The WebAssembly global exists in Node 20, but the ES2022 + @types/node 20 typings here do not
// declare it: type the little we use.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
};

export interface FirExports {
  memory: WasmMemory;
  heapBase(): number;
  pick(src: number, frames: number, stride: number, ch: number, dst: number): void;
  average(src: number, frames: number, stride: number, dst: number): void;
  toS16(src: number, n: number, dst: number, stride: number, ch: number): void;
  fir(x: number, coef: number, taps: number, out: number, n: number, pos: number, acc: number, L: number, M: number): void;
  firInterp(x: number, coef: number, taps: number, P: number, out: number, n: number, pos: number, acc: number, L: number, M: number): void;
}

let compiled: WasmModule | undefined;

function module(): WasmModule {
  if (!compiled) {
    const file = path.join(__dirname, 'fir.wasm');
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      throw new Error(`resampler kernel ${file} is missing: run "npm run build" (${(err as Error).message})`);
    }
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

export function instantiate(): FirExports {
  const inst = new WebAssembly.Instance(module(), {
    env: {
      abort(): never {
        throw new Error('resampler kernel aborted');
      },
    },
  });
  return inst.exports as unknown as FirExports;
}
