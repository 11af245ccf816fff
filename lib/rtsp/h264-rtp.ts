/**
 * RTP payload format for H.264 (RFC 6184), packetization-mode=1 (non-interleaved): each NAL unit
 * of an access unit goes out as one RTP payload when it fits (single NAL unit packet, §5.6), and
 * cut into FU-A fragments (§5.8) when it does not. The sender puts the marker bit on the access
 * unit's last packet. Access unit delimiters are dropped (a receiver finds access units by the
 * RTP timestamp and marker bit; §5.1 leaves them to the sender).
 * Also: the SDP's profile-level-id and sprop-parameter-sets (§8.1), taken from the SPS and PPS.
 */
import { JPEG_MAX_PAYLOAD } from './jpeg-rtp';

export const H264_CLOCK_RATE = 90000;
/** Dynamic payload type of the video track (the audio's is 96..97 for Opus/AAC: 98 is free for all). */
export const H264_PAYLOAD_TYPE = 98;
/** The same packet size as RTP/JPEG: an RTP packet of ≤ 1400 bytes fits any path MTU we meet. */
export const H264_MAX_PAYLOAD = JPEG_MAX_PAYLOAD;

export const NAL_SLICE = 1;
export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;
const FU_A = 28;

export const nalType = (nal: Buffer): number => nal[0] & 0x1f;

/**
 * The RTP payloads of one access unit (its NAL units in decoding order, without start codes or
 * length prefixes), in order: the last one is sent with the marker bit.
 */
export function h264Payloads(nals: readonly Buffer[], maxPayload = H264_MAX_PAYLOAD): Buffer[] {
  const out: Buffer[] = [];
  for (const nal of nals) {
    if (nal.length === 0 || nalType(nal) === NAL_AUD) continue;
    if (nal.length <= maxPayload) {
      out.push(nal);
      continue;
    }
    // FU-A: the FU indicator keeps the NAL header's F and NRI bits with type 28; the FU header
    // has S (first fragment), E (last) and the original type; the NAL header itself is not sent
    const indicator = (nal[0] & 0xe0) | FU_A;
    const type = nal[0] & 0x1f;
    const chunk = maxPayload - 2;
    for (let o = 1; o < nal.length; o += chunk) {
      const end = Math.min(nal.length, o + chunk);
      const p = Buffer.allocUnsafe(2 + end - o);
      p[0] = indicator;
      p[1] = (o === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
      nal.copy(p, 2, o, end);
      out.push(p);
    }
  }
  return out;
}

/**
 * Rebuilds NAL units from RTP payloads of packetization-mode 1 (single NAL units and FU-A); the
 * tests use it to check the packetizer, and it documents what a receiver does.
 */
export function depacketizeH264(payloads: readonly Buffer[]): Buffer[] {
  const nals: Buffer[] = [];
  let fu: Buffer[] | undefined;
  for (const p of payloads) {
    const type = p[0] & 0x1f;
    if (type !== FU_A) {
      if (fu) throw new Error('FU-A fragment missing its end');
      nals.push(p);
      continue;
    }
    const start = (p[1] & 0x80) !== 0;
    const end = (p[1] & 0x40) !== 0;
    if (start) {
      if (fu) throw new Error('FU-A start inside a fragmented NAL unit');
      fu = [Buffer.from([(p[0] & 0xe0) | (p[1] & 0x1f)])];
    } else if (!fu) throw new Error('FU-A fragment without a start');
    fu.push(p.subarray(2));
    if (end) {
      nals.push(Buffer.concat(fu));
      fu = undefined;
    }
  }
  if (fu) throw new Error('FU-A fragment missing its end');
  return nals;
}

/** The SDP fmtp of an H.264 stream with this SPS and PPS (RFC 6184 §8.1). */
export function h264Fmtp(sps: Buffer, pps: Buffer): string {
  // profile_idc, constraint flags, level_idc: the three bytes after the SPS's NAL header
  const profileLevelId = sps.subarray(1, 4).toString('hex');
  return `packetization-mode=1;profile-level-id=${profileLevelId};sprop-parameter-sets=${sps.toString('base64')},${pps.toString('base64')}`;
}

/** SPS and PPS from an AVCDecoderConfigurationRecord (ISO 14496-15 §5.2.4.1: FLV's and MP4's avcC). */
export function parseAvcC(rec: Buffer): { sps: Buffer; pps: Buffer; lengthSize: number } {
  if (rec.length < 7 || rec[0] !== 1) throw new Error('not an AVC decoder configuration record');
  const lengthSize = (rec[4] & 3) + 1;
  let o = 5;
  const read = (): Buffer => {
    const n = rec.readUInt16BE(o);
    const b = rec.subarray(o + 2, o + 2 + n);
    if (b.length !== n) throw new Error('AVC decoder configuration record cut short');
    o += 2 + n;
    return b;
  };
  const nSps = rec[o++] & 0x1f;
  const spss: Buffer[] = [];
  for (let i = 0; i < nSps; i++) spss.push(read());
  const nPps = rec[o++];
  const ppss: Buffer[] = [];
  for (let i = 0; i < nPps; i++) ppss.push(read());
  if (!spss[0] || !ppss[0]) throw new Error('no SPS or PPS in the AVC decoder configuration record');
  return { sps: Buffer.from(spss[0]), pps: Buffer.from(ppss[0]), lengthSize };
}

/** NAL units of a length-prefixed access unit (AVCC: FLV's and MP4's framing). */
export function splitLengthPrefixed(data: Buffer, lengthSize: number): Buffer[] {
  const nals: Buffer[] = [];
  let o = 0;
  while (o + lengthSize <= data.length) {
    const n = data.readUIntBE(o, lengthSize);
    o += lengthSize;
    if (o + n > data.length) throw new Error('NAL unit longer than its access unit');
    nals.push(data.subarray(o, o + n));
    o += n;
  }
  return nals;
}

/** The first bytes of a NAL unit's payload (RBSP): header byte skipped, emulation prevention bytes removed. */
function rbspHead(nal: Buffer, max = 64): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (let i = 1; i < nal.length && out.length < max; i++) {
    const b = nal[i];
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out.push(b);
  }
  return Buffer.from(out);
}

/** Reads the fixed-width and Exp-Golomb fields of H.264 headers (7.2, 9.1). */
class BitReader {
  private pos = 0;
  constructor(private readonly b: Buffer) {}

  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++, this.pos++) {
      const byte = this.b[this.pos >> 3];
      if (byte === undefined) throw new Error('H.264 header cut short');
      v = v * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
    }
    return v;
  }

  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new Error('bad Exp-Golomb code in an H.264 header');
    return zeros ? 2 ** zeros - 1 + this.u(zeros) : 0;
  }

  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -k / 2;
  }
}

/** What a slice header's layout depends on, from the SPS (7.3.2.1.1). */
export interface SpsLayout {
  log2MaxFrameNum: number;
  frameMbsOnly: boolean;
  separateColourPlanes: boolean;
}

const HIGH_PROFILES = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

export function parseSpsLayout(sps: Buffer): SpsLayout {
  const r = new BitReader(rbspHead(sps, 256));
  const profile = r.u(8);
  r.u(16); // constraint flags, level_idc
  r.ue(); // seq_parameter_set_id
  let separateColourPlanes = false;
  if (HIGH_PROFILES.includes(profile)) {
    const chroma = r.ue();
    if (chroma === 3) separateColourPlanes = r.u(1) === 1;
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.u(1); // qpprime_y_zero_transform_bypass_flag
    if (r.u(1)) throw new Error('an SPS with scaling matrices is not read here');
  }
  const log2MaxFrameNum = r.ue() + 4;
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.u(1);
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.u(1); // gaps_in_frame_num_value_allowed_flag
  r.ue(); // pic_width_in_mbs_minus1
  r.ue(); // pic_height_in_map_units_minus1
  return { log2MaxFrameNum, frameMbsOnly: r.u(1) === 1, separateColourPlanes };
}

/**
 * idr_pic_id of an IDR slice (7.3.3): two IDR access units in a row must differ in it (7.4.3),
 * or a decoder may take the second for more of the first picture.
 */
export function idrPicId(slice: Buffer, sps: SpsLayout): number {
  const r = new BitReader(rbspHead(slice));
  r.ue(); // first_mb_in_slice
  r.ue(); // slice_type
  r.ue(); // pic_parameter_set_id
  if (sps.separateColourPlanes) r.u(2);
  r.u(sps.log2MaxFrameNum); // frame_num
  if (!sps.frameMbsOnly && r.u(1)) r.u(1); // field_pic_flag, bottom_field_flag
  return r.ue();
}
