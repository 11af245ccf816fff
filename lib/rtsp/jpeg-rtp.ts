/**
 * RTP payload format for JPEG (RFC 2435): a baseline JPEG frame cut into RTP payloads. Each
 * payload starts with the 8-byte JPEG header (fragment offset, type, Q, width/8, height/8); the
 * first carries the quantization tables in-band (Q = 255, §3.1.8), so any quality works and the
 * receiver needs no table of ours. Type 1 is 4:2:0 (Y sampled 2×2), type 0 is 4:2:2 (2×1); the
 * receiver rebuilds the JPEG headers with the standard Huffman tables, so only a scan coded with
 * those can be sent (lib/video/jpeg.ts writes such scans). No restart markers (types 64+).
 */
import { CodedError } from '../util/errors';

/** RTP payload type of JPEG (RFC 3551, static), 90 kHz clock. */
export const JPEG_PAYLOAD_TYPE = 26;
export const JPEG_CLOCK_RATE = 90000;
/** Payload bytes per packet: an RTP packet of ≤ 1400 bytes fits any path MTU we meet. */
export const JPEG_MAX_PAYLOAD = 1388;

export interface JpegFrameParts {
  width: number;
  height: number;
  /** RFC 2435 type: 0 (4:2:2) or 1 (4:2:0) */
  type: 0 | 1;
  /** quantization tables as in DQT (zigzag), 64 bytes each, in table-id order */
  qtables: Buffer;
  /** entropy-coded data between SOS and EOI */
  scan: Buffer;
}

function unsupported(reason: string): CodedError {
  return new CodedError('video.badJpeg', `this JPEG cannot be sent as RTP/JPEG: ${reason}`, { reason });
}

/** Reads a baseline JPEG's dimensions, sampling, tables and scan (throws video.badJpeg). */
export function parseJpeg(jpeg: Buffer): JpegFrameParts {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw unsupported('no JPEG start marker');
  const tables: Buffer[] = [];
  let width = 0;
  let height = 0;
  let type: 0 | 1 | undefined;
  let pos = 2;
  while (pos + 4 <= jpeg.length) {
    if (jpeg[pos] !== 0xff) throw unsupported(`no marker at byte ${pos}`);
    const marker = jpeg[pos + 1];
    if (marker === 0xff) { pos++; continue; } // fill byte
    const len = jpeg.readUInt16BE(pos + 2);
    const body = jpeg.subarray(pos + 4, pos + 2 + len);
    if (marker === 0xdb) {
      for (let o = 0; o < body.length; ) {
        const pq = body[o] >> 4;
        const id = body[o] & 15;
        if (pq !== 0) throw unsupported('16-bit quantization tables');
        tables[id] = body.subarray(o + 1, o + 65);
        o += 65;
      }
    } else if (marker === 0xc0) {
      height = body.readUInt16BE(1);
      width = body.readUInt16BE(3);
      const n = body[5];
      if (n !== 3) throw unsupported(`${n} colour components (RTP/JPEG carries YCbCr only)`);
      const ys = body[7];
      const cs = [body[10], body[13]];
      if (cs.some((s) => s !== 0x11)) throw unsupported('chroma not sampled 1×1');
      if (body[8] !== 0 || body[11] !== 1 || body[14] !== 1) throw unsupported('tables other than luma 0, chroma 1');
      if (ys === 0x22) type = 1;
      else if (ys === 0x21) type = 0;
      else throw unsupported('sampling other than 4:2:0 or 4:2:2');
    } else if (marker >= 0xc1 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      throw unsupported('not a baseline JPEG (progressive or extended)');
    } else if (marker === 0xdd) {
      if (body.readUInt16BE(0) !== 0) throw unsupported('restart markers');
    } else if (marker === 0xda) {
      if (type === undefined) throw unsupported('no frame header before the scan');
      let end = jpeg.length;
      if (end >= 2 && jpeg[end - 2] === 0xff && jpeg[end - 1] === 0xd9) end -= 2;
      const scan = jpeg.subarray(pos + 2 + len, end);
      if (width % 8 || height % 8 || width > 2040 || height > 2040 || !width || !height) throw unsupported(`${width}×${height}: width and height must be multiples of 8 up to 2040`);
      if (!tables[0] || !tables[1]) throw unsupported('missing quantization tables');
      return { width, height, type, qtables: Buffer.concat([tables[0], tables[1]]), scan };
    }
    pos += 2 + len;
  }
  throw unsupported('no scan');
}

/**
 * The RTP payloads of one frame, in order; the last one is sent with the marker bit. Built once per
 * board change and re-sent as they are (only the RTP header changes).
 */
export function jpegPayloads(f: JpegFrameParts, maxPayload = JPEG_MAX_PAYLOAD): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  do {
    const first = offset === 0;
    const head = 8 + (first ? 4 + f.qtables.length : 0);
    const n = Math.min(f.scan.length - offset, maxPayload - head);
    const p = Buffer.allocUnsafe(head + n);
    p[0] = 0; // type-specific: progressive (not interlaced)
    p.writeUIntBE(offset, 1, 3);
    p[4] = f.type;
    p[5] = 255; // Q ≥ 128: tables in-band (first packet), Q = 255 says they may change per frame
    p[6] = f.width / 8;
    p[7] = f.height / 8;
    if (first) {
      p[8] = 0; // MBZ
      p[9] = 0; // precision: 8-bit tables
      p.writeUInt16BE(f.qtables.length, 10);
      f.qtables.copy(p, 12);
    }
    f.scan.copy(p, head, offset, offset + n);
    out.push(p);
    offset += n;
  } while (offset < f.scan.length);
  return out;
}
