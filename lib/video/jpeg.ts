/**
 * A baseline JPEG encoder with 4:2:0 chroma (16×16 MCUs) and the standard Huffman tables of the
 * JPEG spec (Annex K), in plain TypeScript. Why not jpeg-js's encoder: it writes 4:4:4, which
 * RTP/JPEG (RFC 2435) cannot carry (types 0 and 1 are 4:2:2 and 4:2:0 only), and a receiver
 * rebuilds the JPEG header from the RTP/JPEG header with the Annex K Huffman tables, so the scan
 * must use exactly those. The board is encoded only when it changes, never per frame.
 */

/** natural (row-major) index of the i-th coefficient in zigzag order */
const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30,
  37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

const STD_LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24,
  35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const STD_CHROMA_Q = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** Annex K.3 tables: code counts per length 1..16, then the symbols */
const DC_LUMA = { bits: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], vals: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const DC_CHROMA = { bits: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], vals: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const AC_LUMA = {
  bits: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  vals: [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1,
    0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37,
    0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
    0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3,
    0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3,
    0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
  ],
};
const AC_CHROMA = {
  bits: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  vals: [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1,
    0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36,
    0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a,
    0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
    0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
  ],
};

interface HuffTable {
  bits: number[];
  vals: number[];
}
/** symbol → [code, length] */
function huffCodes(t: HuffTable): { code: Int32Array; len: Uint8Array } {
  const code = new Int32Array(256);
  const len = new Uint8Array(256);
  let c = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    for (let i = 0; i < t.bits[l - 1]; i++) {
      const s = t.vals[k++];
      code[s] = c++;
      len[s] = l;
    }
    c <<= 1;
  }
  return { code, len };
}
const HUFF = {
  dcY: huffCodes(DC_LUMA),
  acY: huffCodes(AC_LUMA),
  dcC: huffCodes(DC_CHROMA),
  acC: huffCodes(AC_CHROMA),
};

/** IJG quality scaling of a standard table (natural order), entries 1..255 */
export function scaledTable(base: number[], quality: number): Uint8Array {
  const q = Math.max(1, Math.min(100, Math.round(quality)));
  const scale = q < 50 ? 5000 / q : 200 - 2 * q;
  return Uint8Array.from(base, (v) => Math.max(1, Math.min(255, Math.floor((v * scale + 50) / 100))));
}

/** AAN forward-DCT scale factors */
const AASF = [1.0, 1.387039845, 1.306562965, 1.175875602, 1.0, 0.785694958, 0.5411961, 0.275899379];
function divisors(q: Uint8Array): Float64Array {
  const d = new Float64Array(64);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) d[r * 8 + c] = 1 / (q[r * 8 + c] * AASF[r] * AASF[c] * 8);
  return d;
}

class BitWriter {
  private buf: Buffer;
  private pos = 0;
  private acc = 0;
  private n = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private byte(b: number): void {
    if (this.pos + 2 > this.buf.length) {
      const nb = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(nb, 0, 0, this.pos);
      this.buf = nb;
    }
    this.buf[this.pos++] = b;
    if (b === 0xff) this.buf[this.pos++] = 0; // byte stuffing
  }
  bits(value: number, len: number): void {
    // len ≤ 16, acc holds < 8 pending bits: fits in 24 bits
    this.acc = (this.acc << len) | (value & ((1 << len) - 1));
    this.n += len;
    while (this.n >= 8) {
      this.n -= 8;
      this.byte((this.acc >> this.n) & 0xff);
    }
    this.acc &= (1 << this.n) - 1;
  }
  /** pads the last byte with 1 bits (F.1.2.3) */
  finish(): Buffer {
    if (this.n > 0) this.bits(0x7f, 8 - this.n);
    return this.buf.subarray(0, this.pos);
  }
}

export interface EncodedJpeg {
  /** the whole JFIF file */
  jpeg: Buffer;
  width: number;
  height: number;
  /** quantization tables, luma then chroma, zigzag order as in the DQT segment */
  qtables: Buffer;
}

/**
 * Encodes RGBA pixels (width × height × 4 bytes) as a baseline JPEG, 4:2:0, Annex K Huffman
 * tables. Width and height need not be multiples of 16 (edge pixels are repeated), but RTP/JPEG
 * needs multiples of 8 and the board uses multiples of 16.
 */
export function encodeJpeg(rgba: Uint8Array, width: number, height: number, quality = 85): EncodedJpeg {
  const qY = scaledTable(STD_LUMA_Q, quality);
  const qC = scaledTable(STD_CHROMA_Q, quality);
  const dY = divisors(qY);
  const dC = divisors(qC);
  const mcuW = Math.ceil(width / 16);
  const mcuH = Math.ceil(height / 16);
  const w = new BitWriter(Math.max(4096, (width * height) >> 2));
  const Y = new Float64Array(256);
  const Cb = new Float64Array(64);
  const Cr = new Float64Array(64);
  const blk = new Float64Array(64);
  const out = new Int32Array(64);
  const prev = [0, 0, 0];
  for (let my = 0; my < mcuH; my++) {
    for (let mx = 0; mx < mcuW; mx++) {
      Cb.fill(0);
      Cr.fill(0);
      for (let y = 0; y < 16; y++) {
        const py = Math.min(height - 1, my * 16 + y);
        for (let x = 0; x < 16; x++) {
          const px = Math.min(width - 1, mx * 16 + x);
          const o = (py * width + px) * 4;
          const r = rgba[o];
          const g = rgba[o + 1];
          const b = rgba[o + 2];
          Y[y * 16 + x] = 0.299 * r + 0.587 * g + 0.114 * b - 128;
          const ci = (y >> 1) * 8 + (x >> 1);
          Cb[ci] += -0.168736 * r - 0.331264 * g + 0.5 * b;
          Cr[ci] += 0.5 * r - 0.418688 * g - 0.081312 * b;
        }
      }
      for (let i = 0; i < 64; i++) {
        Cb[i] /= 4;
        Cr[i] /= 4;
      }
      for (let by = 0; by < 2; by++) {
        for (let bx = 0; bx < 2; bx++) {
          for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) blk[y * 8 + x] = Y[(by * 8 + y) * 16 + bx * 8 + x];
          prev[0] = codeBlock(w, blk, dY, out, prev[0], HUFF.dcY, HUFF.acY);
        }
      }
      blk.set(Cb);
      prev[1] = codeBlock(w, blk, dC, out, prev[1], HUFF.dcC, HUFF.acC);
      blk.set(Cr);
      prev[2] = codeBlock(w, blk, dC, out, prev[2], HUFF.dcC, HUFF.acC);
    }
  }
  const scan = w.finish();
  const qtables = Buffer.alloc(128);
  for (let i = 0; i < 64; i++) {
    qtables[i] = qY[ZIGZAG[i]];
    qtables[64 + i] = qC[ZIGZAG[i]];
  }
  const head = jpegHeader(width, height, qtables);
  return { jpeg: Buffer.concat([head, scan, Buffer.from([0xff, 0xd9])]), width, height, qtables };
}

function fdct(d: Float64Array): void {
  for (let pass = 0; pass < 2; pass++) {
    const step = pass === 0 ? 1 : 8;
    const stride = pass === 0 ? 8 : 1;
    for (let i = 0; i < 8; i++) {
      const o = i * stride;
      const d0 = d[o], d1 = d[o + step], d2 = d[o + 2 * step], d3 = d[o + 3 * step];
      const d4 = d[o + 4 * step], d5 = d[o + 5 * step], d6 = d[o + 6 * step], d7 = d[o + 7 * step];
      const t0 = d0 + d7, t7 = d0 - d7, t1 = d1 + d6, t6 = d1 - d6;
      const t2 = d2 + d5, t5 = d2 - d5, t3 = d3 + d4, t4 = d3 - d4;
      let t10 = t0 + t3;
      const t13 = t0 - t3;
      let t11 = t1 + t2;
      let t12 = t1 - t2;
      d[o] = t10 + t11;
      d[o + 4 * step] = t10 - t11;
      const z1 = (t12 + t13) * 0.707106781;
      d[o + 2 * step] = t13 + z1;
      d[o + 6 * step] = t13 - z1;
      t10 = t4 + t5;
      t11 = t5 + t6;
      t12 = t6 + t7;
      const z5 = (t10 - t12) * 0.382683433;
      const z2 = 0.5411961 * t10 + z5;
      const z4 = 1.306562965 * t12 + z5;
      const z3 = t11 * 0.707106781;
      const z11 = t7 + z3;
      const z13 = t7 - z3;
      d[o + 5 * step] = z13 + z2;
      d[o + 3 * step] = z13 - z2;
      d[o + step] = z11 + z4;
      d[o + 7 * step] = z11 - z4;
    }
  }
}

function category(v: number): number {
  let a = v < 0 ? -v : v;
  let n = 0;
  while (a) {
    n++;
    a >>= 1;
  }
  return n;
}

function codeBlock(w: BitWriter, blk: Float64Array, div: Float64Array, out: Int32Array, prevDc: number, dc: { code: Int32Array; len: Uint8Array }, ac: { code: Int32Array; len: Uint8Array }): number {
  fdct(blk);
  for (let i = 0; i < 64; i++) out[i] = Math.round(blk[ZIGZAG[i]] * div[ZIGZAG[i]]);
  const diff = out[0] - prevDc;
  const dcCat = category(diff);
  w.bits(dc.code[dcCat], dc.len[dcCat]);
  if (dcCat) w.bits(diff < 0 ? diff + (1 << dcCat) - 1 : diff, dcCat);
  let last = 63;
  while (last > 0 && out[last] === 0) last--;
  let run = 0;
  for (let i = 1; i <= last; i++) {
    const v = out[i];
    if (v === 0) {
      run++;
      continue;
    }
    while (run >= 16) {
      w.bits(ac.code[0xf0], ac.len[0xf0]);
      run -= 16;
    }
    const c = category(v);
    const sym = (run << 4) | c;
    w.bits(ac.code[sym], ac.len[sym]);
    w.bits(v < 0 ? v + (1 << c) - 1 : v, c);
    run = 0;
  }
  if (last < 63) w.bits(ac.code[0], ac.len[0]); // EOB
  return out[0];
}

function segment(marker: number, body: number[] | Buffer): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b[0] = 0xff;
  b[1] = marker;
  b.writeUInt16BE(body.length + 2, 2);
  Buffer.from(body).copy(b, 4);
  return b;
}

function dht(cls: number, id: number, t: HuffTable): Buffer {
  return segment(0xc4, [(cls << 4) | id, ...t.bits, ...t.vals]);
}

/** SOI, JFIF APP0, DQT ×2, SOF0 (4:2:0), DHT ×4, SOS */
function jpegHeader(width: number, height: number, qtables: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]),
    segment(0xdb, [0, ...qtables.subarray(0, 64)]),
    segment(0xdb, [1, ...qtables.subarray(64, 128)]),
    segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]),
    dht(0, 0, DC_LUMA),
    dht(1, 0, AC_LUMA),
    dht(0, 1, DC_CHROMA),
    dht(1, 1, AC_CHROMA),
    segment(0xda, [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]),
  ]);
}
