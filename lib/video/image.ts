/**
 * A user's picture (msg.image: a PNG or JPEG file in a Buffer) to RGBA pixels at the board's
 * resolution: decoded in pure JS (pngjs, jpeg-js), scaled to fit and letterboxed (black bars),
 * so any size and aspect ratio becomes a valid board.
 */
import { PNG } from 'pngjs';
import * as jpegJs from 'jpeg-js';
import { CodedError } from '../util/errors';

export interface RgbaImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Pictures larger than this (pixels) are refused before decoding: a 16k×16k PNG is 1 GB of RGBA. */
export const MAX_IMAGE_PIXELS = 40_000_000;

function badImage(reason: string): CodedError {
  return new CodedError('video.badImage', `msg.image cannot be shown: ${reason}`, { reason });
}

/** msg.image's bytes, or video.badImage when it is not a Buffer (checked before it goes to the drawing thread). */
export function imageBytes(buf: unknown): Uint8Array {
  if (!Buffer.isBuffer(buf) && !(buf instanceof Uint8Array)) throw badImage(`it is ${buf === null ? 'null' : typeof buf}, expected a Buffer holding a PNG or JPEG file`);
  return buf;
}

export function decodeImage(buf: unknown): RgbaImage {
  const u = imageBytes(buf);
  const b = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47) {
    if (b.length >= 24 && b.readUInt32BE(16) * b.readUInt32BE(20) > MAX_IMAGE_PIXELS) throw badImage(`the PNG is larger than ${MAX_IMAGE_PIXELS} pixels`);
    try {
      const png = PNG.sync.read(b);
      return { data: png.data, width: png.width, height: png.height };
    } catch (e) {
      throw badImage(`the PNG is damaged (${(e as Error).message})`);
    }
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    try {
      const j = jpegJs.decode(b, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 512 });
      return { data: j.data, width: j.width, height: j.height };
    } catch (e) {
      throw badImage(`the JPEG is damaged or unsupported (${(e as Error).message})`);
    }
  }
  throw badImage('it is neither a PNG nor a JPEG file');
}

/**
 * Scales `img` to fit inside width × height keeping its aspect ratio (area-average when shrinking,
 * bilinear when enlarging), centred on black. Alpha is composed over black.
 */
export function fitImage(img: RgbaImage, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let i = 3; i < out.length; i += 4) out[i] = 255;
  const scale = Math.min(width / img.width, height / img.height);
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  const ox = (width - w) >> 1;
  const oy = (height - h) >> 1;
  const src = img.data;
  const sw = img.width;
  const sh = img.height;
  for (let y = 0; y < h; y++) {
    const sy0 = (y * sh) / h;
    const sy1 = ((y + 1) * sh) / h;
    for (let x = 0; x < w; x++) {
      const sx0 = (x * sw) / w;
      const sx1 = ((x + 1) * sw) / w;
      let r = 0, g = 0, b = 0, n = 0;
      if (sx1 - sx0 <= 1 && sy1 - sy0 <= 1) {
        // enlarging: bilinear at the pixel's centre
        const fx = Math.max(0, Math.min(sw - 1, (sx0 + sx1) / 2 - 0.5));
        const fy = Math.max(0, Math.min(sh - 1, (sy0 + sy1) / 2 - 0.5));
        const x0 = Math.floor(fx), y0 = Math.floor(fy);
        const x1 = Math.min(sw - 1, x0 + 1), y1 = Math.min(sh - 1, y0 + 1);
        const ax = fx - x0, ay = fy - y0;
        for (const [px, py, wt] of [[x0, y0, (1 - ax) * (1 - ay)], [x1, y0, ax * (1 - ay)], [x0, y1, (1 - ax) * ay], [x1, y1, ax * ay]] as const) {
          const o = (py * sw + px) * 4;
          const a = (src[o + 3] / 255) * wt;
          r += src[o] * a; g += src[o + 1] * a; b += src[o + 2] * a; n += wt;
        }
      } else {
        for (let sy = Math.floor(sy0); sy < Math.min(sh, Math.ceil(sy1)); sy++) {
          for (let sx = Math.floor(sx0); sx < Math.min(sw, Math.ceil(sx1)); sx++) {
            const o = (sy * sw + sx) * 4;
            const a = src[o + 3] / 255;
            r += src[o] * a; g += src[o + 1] * a; b += src[o + 2] * a; n++;
          }
        }
      }
      const o = ((oy + y) * width + ox + x) * 4;
      out[o] = r / n; out[o + 1] = g / n; out[o + 2] = b / n;
    }
  }
  return out;
}
