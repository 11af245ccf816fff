/**
 * The board's drawing thread (a worker_thread started by BoardDrawer): renders the built-in board
 * (resvg), decodes and scales a user's picture, and encodes either as JPEG, away from the main
 * thread, whose pacer must send an audio packet every 20 ms and whose speech pipeline must not
 * wait behind a drawing.
 * workerData: { width, height, template, fontFile, quality }. Messages in: { id } (load the
 * renderer), { id, state } (draw the built-in board) or { id, image } (a PNG or JPEG file);
 * out: { id, jpeg } (the bytes transferred) or { id, error: { code, message, params } }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BoardRenderer, type BoardState, type BoardTemplate } from './board';
import { decodeImage, fitImage } from './image';
import { encodeJpeg } from './jpeg';
import { CodedError } from '../util/errors';

const d = workerData as { width: number; height: number; template: BoardTemplate; fontFile?: string; quality: number };

function failure(e: unknown): { code: string; message: string; params: Record<string, string | number> } {
  const c = e as CodedError;
  return { code: c instanceof CodedError ? c.code : 'video.drawFailed', message: (e as Error)?.message ?? String(e), params: c instanceof CodedError ? (c.params as Record<string, string | number>) : {} };
}

let renderer: BoardRenderer | undefined;
try {
  renderer = new BoardRenderer(d.width, d.height, d.template, d.fontFile);
} catch (e) {
  parentPort!.postMessage({ id: 0, error: failure(e) });
}

/** Throwaway drawings after start (see warmUp). */
const WARM_UP_DRAWINGS = 6;
let warmed = false;

/**
 * Draws and encodes a few throwaway boards once the renderer is loaded, one per turn of this
 * thread's event loop, so a request that comes meanwhile waits for one at most: resvg's wasm and
 * the JPEG encoder run several times slower until V8 has optimized them, which the first calls'
 * boards would pay for while their speech waits for them.
 */
async function warmUp(r: BoardRenderer): Promise<void> {
  if (warmed) return;
  warmed = true;
  for (let i = 0; i < WARM_UP_DRAWINGS; i++) {
    await new Promise((res) => setTimeout(res, 20));
    const pixels = await r.render({ current: { number: `A${100 + i}`, counter: String(i + 1) }, history: [{ number: 'B001', counter: '1' }], clock: '12:34' });
    encodeJpeg(pixels, d.width, d.height, d.quality);
  }
}

parentPort!.on('message', (m: { id: number; state?: BoardState; image?: Uint8Array }) => {
  void (async () => {
    try {
      let pixels: Uint8Array;
      if (m.image !== undefined) {
        // a user's picture needs no renderer (nor font)
        pixels = fitImage(decodeImage(m.image), d.width, d.height);
      } else {
        if (!renderer) throw new Error('the board renderer could not start');
        if (!m.state) {
          await renderer.ready();
          parentPort!.postMessage({ id: m.id });
          // only speed is at stake: a failing warm-up must not end the thread
          return void warmUp(renderer).catch(() => undefined);
        }
        pixels = await renderer.render(m.state);
      }
      const jpeg = encodeJpeg(pixels, d.width, d.height, d.quality).jpeg;
      // a copy of its own, so its memory can be handed over instead of copied again
      const bytes = new Uint8Array(jpeg);
      parentPort!.postMessage({ id: m.id, jpeg: bytes }, [bytes.buffer]);
    } catch (e) {
      parentPort!.postMessage({ id: m.id, error: failure(e) });
    }
  })();
});
