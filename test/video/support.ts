/** Helpers of the video-board tests: the CJK test font, PSNR, decoded frames. */
import * as jpegJs from 'jpeg-js';
import { PNG } from 'pngjs';

/** Debian's fonts-noto-cjk: a .ttc collection (missingPeer('fonts-noto-cjk') checks it). */
export const CJK_FONT = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc';

export interface Rgba {
  data: Uint8Array;
  width: number;
  height: number;
}

export function decodeJpeg(b: Buffer): Rgba {
  const j = jpegJs.decode(b, { useTArray: true, formatAsRGBA: true });
  return { data: j.data, width: j.width, height: j.height };
}

export function decodePng(b: Buffer): Rgba {
  const p = PNG.sync.read(b);
  return { data: p.data, width: p.width, height: p.height };
}

export function encodePng(img: Rgba): Buffer {
  const p = new PNG({ width: img.width, height: img.height });
  p.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(p);
}

/** PSNR (dB) of RGB over a region (whole image by default); Infinity when identical. */
export function psnr(a: Rgba, b: Rgba, r = { x: 0, y: 0, width: a.width, height: a.height }): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`sizes differ: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  let se = 0;
  let n = 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      const o = (y * a.width + x) * 4;
      for (let c = 0; c < 3; c++) {
        const d = a.data[o + c] - b.data[o + c];
        se += d * d;
        n++;
      }
    }
  }
  const mse = se / n;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** The number region of the board template (template units) at a board size. */
export function scaled(r: { x: number; y: number; width: number; height: number }, width: number, height: number) {
  const sx = width / 1280;
  const sy = height / 720;
  return { x: Math.round(r.x * sx), y: Math.round(r.y * sy), width: Math.round(r.width * sx), height: Math.round(r.height * sy) };
}
