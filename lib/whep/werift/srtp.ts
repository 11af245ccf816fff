/**
 * `srtp`: leaner SRTP decryption for werift (0.24), installed once per process by `install()`
 * (lib/whep/werift/index.ts), for the two profiles
 * werift negotiates: AES_CM_128_HMAC_SHA1_80 (what SRS and aiortc pick; Janus's default) and
 * AEAD_AES_128_GCM (werift's own preference; what pion-based servers such as mediamtx pick).
 *
 * Why: werift decrypts every received RTP packet with a fresh node:crypto object per packet and
 * much JS around it. For AES-CM: a new `aes-128-ctr` decipher (key schedule included) plus a new
 * HMAC (its key padded and hashed again) per packet, and a counter built through a BigInt. For
 * GCM: an IV built through a generic field writer, a zero-filled output grown from an empty
 * buffer, and copies (figures: docs/benchmarks.md, `npm run bench -- whep-srtp`).
 *
 * What (only `decryptRtp` of werift's two cipher classes; encryption, SRTCP, the key
 * derivation and the roll-over counter bookkeeping of werift's SrtpContext are untouched):
 * - AES-CM (RFC 3711 §4.1.1): the keystream is AES-128 of the counter blocks, which ONE
 *   `aes-128-ecb` cipher object per session key encrypts (ECB without padding keeps no state
 *   between calls, so the object is reusable); the payload is XORed with it. The auth tag is
 *   HMAC-SHA1 (RFC 2104) computed as SHA1(K⊕opad ‖ SHA1(K⊕ipad ‖ packet ‖ ROC)) with one-shot
 *   `crypto.hash` calls over a reusable scratch buffer (the padded key blocks are made once).
 *   The tag is checked with `timingSafeEqual` BEFORE anything is decrypted, as werift does.
 * - GCM (RFC 7714): node:crypto's `aes-128-gcm` decipher still does all the cryptography (a
 *   GCM decipher cannot be re-keyed with a new IV, so one per packet remains); only the JS
 *   around it is leaner. A failed tag is the same `SrtpAuthenticationError`.
 * Both return what werift's own code returns: the same plaintext packet (header ‖ payload,
 * tag removed) and the same header, with the same padding checks and error messages.
 * `test/whep/werift/srtp.test.ts` compares them with werift's on many packets, including
 * tampered ones (each must fail the same way) and packets around a roll-over. Nothing here
 * touches werift before install(): a werift whose SRTP internals moved cannot break loading.
 */
import crypto from 'node:crypto';
import { RtpHeader, SrtpAuthenticationError, SrtpSession } from 'werift';

const AUTH_FAILED = 'Failed to authenticate SRTP packet';
const PROFILE_AES_CM_80 = 0x0001;
const PROFILE_AEAD_AES_128_GCM = 0x0007;
const CTR_TAG = 10;
const GCM_TAG = 16;

type DecryptRtp = (cipherText: Buffer, rolloverCounter: number, header?: RtpHeader) => [Buffer, RtpHeader];
interface CtrCipher {
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  srtpSessionAuthTag: Buffer;
  decryptRtp: DecryptRtp;
}
interface GcmCipher {
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  decryptRtp: DecryptRtp;
}
type CipherClass<T> = { prototype: T };

// werift does not export its cipher classes: take them from a throwaway session of each profile
function cipherClass<T>(profile: number): CipherClass<T> {
  const key = Buffer.alloc(16);
  const salt = Buffer.alloc(profile === PROFILE_AEAD_AES_128_GCM ? 12 : 14);
  const session = new SrtpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile } as never);
  const cipher = (session as unknown as { remoteContext?: { cipher?: object } }).remoteContext?.cipher;
  if (!cipher) throw new Error('werift SrtpSession has no remoteContext.cipher');
  const cls = cipher.constructor as unknown as CipherClass<T> & { prototype: { decryptRtp?: unknown } };
  if (typeof cls.prototype.decryptRtp !== 'function') throw new Error(`werift's SRTP cipher ${cipher.constructor.name} has no decryptRtp`);
  return cls;
}

/** werift's cipher classes and their own decryptRtp (found at the first install) */
let classes: { Ctr: CipherClass<CtrCipher>; Gcm: CipherClass<GcmCipher> } | undefined;
/** werift's own implementations (for the equivalence test and the benchmark's baseline), kept at the first install. */
export const weriftOriginalSrtp = {} as { ctr: DecryptRtp; gcm: DecryptRtp };
const original = weriftOriginalSrtp;

// crypto.hash (one call, no object) is in Node ≥ 20.12; older 20.x computes the HMAC the usual way
const oneShotHash = (crypto as unknown as { hash?: (alg: string, data: Buffer, enc: 'buffer') => Buffer }).hash;

class CtrState {
  readonly ecb: crypto.Cipher;
  private counters = Buffer.alloc(0);
  /** K⊕ipad ‖ packet ‖ ROC, grown as needed */
  private inner: Buffer;
  /** K⊕opad ‖ inner digest */
  private readonly outer = Buffer.alloc(64 + 20);
  private readonly salt: Buffer;

  constructor(private readonly c: CtrCipher) {
    this.ecb = crypto.createCipheriv('aes-128-ecb', c.srtpSessionKey, null);
    this.ecb.setAutoPadding(false);
    this.salt = c.srtpSessionSalt;
    // RFC 2104 with a 20-byte key (< the 64-byte block): the key zero-padded to the block
    const key = c.srtpSessionAuthTag.length > 64 ? crypto.createHash('sha1').update(c.srtpSessionAuthTag).digest() : c.srtpSessionAuthTag;
    this.inner = Buffer.alloc(64 + 1500);
    for (let i = 0; i < 64; i++) {
      this.inner[i] = (key[i] ?? 0) ^ 0x36;
      this.outer[i] = (key[i] ?? 0) ^ 0x5c;
    }
  }

  /** the first 10 bytes of HMAC-SHA1(auth key, authenticated ‖ ROC) */
  tag(authenticated: Buffer, roc: number): Buffer {
    if (!oneShotHash) {
      const rocRaw = Buffer.allocUnsafe(4);
      rocRaw.writeUInt32BE(roc);
      return crypto.createHmac('sha1', this.c.srtpSessionAuthTag).update(authenticated).update(rocRaw).digest().subarray(0, CTR_TAG);
    }
    const len = 64 + authenticated.length + 4;
    if (this.inner.length < len) {
      const grown = Buffer.alloc(len);
      this.inner.copy(grown, 0, 0, 64);
      this.inner = grown;
    }
    const inner = this.inner;
    authenticated.copy(inner, 64);
    inner.writeUInt32BE(roc >>> 0, 64 + authenticated.length);
    oneShotHash('sha1', inner.subarray(0, len), 'buffer').copy(this.outer, 64);
    return oneShotHash('sha1', this.outer, 'buffer').subarray(0, CTR_TAG);
  }

  /** XORs `data` in place with the AES-CM keystream of (ssrc, roc, seq) */
  xorKeystream(data: Buffer, ssrc: number, roc: number, seq: number): void {
    const blocks = (data.length + 15) >> 4;
    if (blocks === 0) return;
    if (this.counters.length < blocks * 16) this.counters = Buffer.alloc(blocks * 16);
    const ctr = this.counters;
    const s = this.salt;
    // IV = (salt · 2^16) ⊕ (SSRC · 2^64) ⊕ (index · 2^16); block i adds i to the low 16 bits
    // (a UDP packet has < 4096 blocks, so the increment never carries into the index)
    const b4 = (ssrc >>> 24) & 0xff, b5 = (ssrc >>> 16) & 0xff, b6 = (ssrc >>> 8) & 0xff, b7 = ssrc & 0xff;
    const b8 = (roc >>> 24) & 0xff, b9 = (roc >>> 16) & 0xff, b10 = (roc >>> 8) & 0xff, b11 = roc & 0xff;
    const b12 = (seq >>> 8) & 0xff, b13 = seq & 0xff;
    for (let i = 0, o = 0; i < blocks; i++, o += 16) {
      ctr[o] = s[0];
      ctr[o + 1] = s[1];
      ctr[o + 2] = s[2];
      ctr[o + 3] = s[3];
      ctr[o + 4] = s[4] ^ b4;
      ctr[o + 5] = s[5] ^ b5;
      ctr[o + 6] = s[6] ^ b6;
      ctr[o + 7] = s[7] ^ b7;
      ctr[o + 8] = s[8] ^ b8;
      ctr[o + 9] = s[9] ^ b9;
      ctr[o + 10] = s[10] ^ b10;
      ctr[o + 11] = s[11] ^ b11;
      ctr[o + 12] = s[12] ^ b12;
      ctr[o + 13] = s[13] ^ b13;
      ctr[o + 14] = i >>> 8;
      ctr[o + 15] = i & 0xff;
    }
    const ks = this.ecb.update(ctr.subarray(0, blocks * 16));
    for (let i = 0; i < data.length; i++) data[i] ^= ks[i];
  }
}

const ctrStates = new WeakMap<CtrCipher, CtrState>();
const gcmIvs = new WeakMap<GcmCipher, Buffer>();

function fail(): never {
  throw new SrtpAuthenticationError(AUTH_FAILED);
}

/** werift's finalizeSrtpRtpHeader: the padding size read from the decrypted packet, checked */
function finalizeHeader(header: RtpHeader, packet: Buffer): RtpHeader {
  if (!header.padding) {
    header.paddingSize = 0;
    return header;
  }
  if (!(packet.length > header.payloadOffset)) fail();
  const paddingSize = packet[packet.length - 1];
  if (!(paddingSize > 0 && paddingSize <= packet.length - header.payloadOffset)) fail();
  header.paddingSize = paddingSize;
  return header;
}

function fastCtrDecryptRtp(this: CtrCipher, cipherText: Buffer, rolloverCounter: number, header?: RtpHeader): [Buffer, RtpHeader] {
  if (!header) return original.ctr.call(this, cipherText, rolloverCounter);
  let st = ctrStates.get(this);
  if (!st) ctrStates.set(this, (st = new CtrState(this)));
  const tagOffset = cipherText.length - CTR_TAG;
  const expected = st.tag(cipherText.subarray(0, tagOffset), rolloverCounter);
  if (!crypto.timingSafeEqual(cipherText.subarray(tagOffset), expected)) fail();
  const dst = Buffer.allocUnsafe(tagOffset);
  cipherText.copy(dst, 0, 0, tagOffset);
  st.xorKeystream(dst.subarray(header.payloadOffset), header.ssrc, rolloverCounter, header.sequenceNumber);
  return [dst, finalizeHeader(header, dst)];
}

function fastGcmDecryptRtp(this: GcmCipher, cipherText: Buffer, rolloverCounter: number, header?: RtpHeader): [Buffer, RtpHeader] {
  if (!header) return original.gcm.call(this, cipherText, rolloverCounter);
  let iv = gcmIvs.get(this);
  if (!iv) gcmIvs.set(this, (iv = Buffer.alloc(12)));
  // RFC 7714 §8.1: IV = (00 00 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt (createDecipheriv copies it)
  const s = this.srtpSessionSalt;
  const ssrc = header.ssrc, roc = rolloverCounter, seq = header.sequenceNumber;
  iv[0] = s[0];
  iv[1] = s[1];
  iv[2] = s[2] ^ ((ssrc >>> 24) & 0xff);
  iv[3] = s[3] ^ ((ssrc >>> 16) & 0xff);
  iv[4] = s[4] ^ ((ssrc >>> 8) & 0xff);
  iv[5] = s[5] ^ (ssrc & 0xff);
  iv[6] = s[6] ^ ((roc >>> 24) & 0xff);
  iv[7] = s[7] ^ ((roc >>> 16) & 0xff);
  iv[8] = s[8] ^ ((roc >>> 8) & 0xff);
  iv[9] = s[9] ^ (roc & 0xff);
  iv[10] = s[10] ^ ((seq >>> 8) & 0xff);
  iv[11] = s[11] ^ (seq & 0xff);
  const off = header.payloadOffset;
  const tagOffset = cipherText.length - GCM_TAG;
  const decipher = crypto.createDecipheriv('aes-128-gcm', this.srtpSessionKey, iv);
  decipher.setAAD(cipherText.subarray(0, off));
  decipher.setAuthTag(cipherText.subarray(tagOffset));
  const plain = decipher.update(cipherText.subarray(off, tagOffset));
  try {
    decipher.final();
  } catch {
    fail();
  }
  const dst = Buffer.allocUnsafe(tagOffset);
  cipherText.copy(dst, 0, 0, off);
  plain.copy(dst, off);
  return [dst, finalizeHeader(header, dst)];
}

/**
 * Encrypts a packet with werift's own encryption and checks that our decryption gives what
 * werift's gives: a werift whose ciphers changed keeps its own code. Throws why not.
 */
function selfTest(): void {
  for (const profile of [PROFILE_AES_CM_80, PROFILE_AEAD_AES_128_GCM]) {
    const key = crypto.randomBytes(16);
    const salt = crypto.randomBytes(profile === PROFILE_AEAD_AES_128_GCM ? 12 : 14);
    const session = new SrtpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile } as never);
    const header = new RtpHeader({ payloadType: 111, sequenceNumber: 4321, timestamp: 123456, ssrc: 0x89abcdef, marker: true });
    const packet = session.encrypt(crypto.randomBytes(77), header);
    const ctx = (session as unknown as { remoteContext: { rtpAuthTagLength: number; cipher: CtrCipher | GcmCipher } }).remoteContext;
    const ours = (profile === PROFILE_AES_CM_80 ? fastCtrDecryptRtp : fastGcmDecryptRtp).call(ctx.cipher as never, packet, 0, RtpHeader.deSerialize(packet.subarray(0, packet.length - ctx.rtpAuthTagLength)));
    const theirs = (profile === PROFILE_AES_CM_80 ? original.ctr : original.gcm).call(ctx.cipher, packet, 0);
    if (!ours[0].equals(theirs[0]) || ours[1].payloadOffset !== theirs[1].payloadOffset) throw new Error(`decrypting a werift ${profile === PROFILE_AES_CM_80 ? 'AES-CM' : 'AES-GCM'} packet gave another result than werift's own`);
  }
}

/** Installs the leaner SRTP decryption into werift (idempotent); throws why (nothing changed) if werift's ciphers no longer decrypt the way it mirrors. */
export function installFastSrtp(): void {
  if (typeof SrtpSession !== 'function' || typeof RtpHeader !== 'function' || typeof SrtpAuthenticationError !== 'function') throw new Error('werift exports no SrtpSession, RtpHeader or SrtpAuthenticationError');
  if (!classes) {
    const found = { Ctr: cipherClass<CtrCipher>(PROFILE_AES_CM_80), Gcm: cipherClass<GcmCipher>(PROFILE_AEAD_AES_128_GCM) };
    original.ctr = found.Ctr.prototype.decryptRtp;
    original.gcm = found.Gcm.prototype.decryptRtp;
    classes = found;
  }
  if (classes.Ctr.prototype.decryptRtp === fastCtrDecryptRtp) return;
  selfTest();
  classes.Ctr.prototype.decryptRtp = fastCtrDecryptRtp;
  classes.Gcm.prototype.decryptRtp = fastGcmDecryptRtp;
}

/** Puts werift's own SRTP decryption back (the benchmark's A/B). */
export function uninstallFastSrtp(): void {
  if (!classes) return;
  classes.Ctr.prototype.decryptRtp = original.ctr;
  classes.Gcm.prototype.decryptRtp = original.gcm;
}
