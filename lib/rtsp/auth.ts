/**
 * RTSP authentication (HTTP Basic, RFC 7617, and Digest, RFC 2617 with MD5 as RTSP players use
 * it): the server side checks Authorization headers, the client side answers challenges.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface RtspAuth {
  username: string;
  password: string;
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Parses `Digest realm="x", nonce="y", qop=auth` into its parameters (names lower-cased). */
export function parseAuthParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  return out;
}

/** Server side: issues challenges and checks answers. Nonces are stateless (HMAC of their time). */
export class AuthChecker {
  private readonly secret = randomBytes(16);
  constructor(
    private readonly creds: RtspAuth,
    readonly scheme: 'basic' | 'digest' = 'digest',
    private readonly realm = 'live-audio',
    /** how long a nonce stays valid (ms) */
    private readonly nonceTtlMs = 10 * 60 * 1000,
  ) {}

  private makeNonce(now = Date.now()): string {
    const t = now.toString(16);
    return `${t}${createHmac('sha256', this.secret).update(t).digest('hex').slice(0, 24)}`;
  }

  private nonceValid(nonce: string): boolean {
    const t = nonce.slice(0, -24);
    if (!/^[0-9a-f]+$/.test(t)) return false;
    if (!safeEqual(nonce.slice(-24), createHmac('sha256', this.secret).update(t).digest('hex').slice(0, 24))) return false;
    return Date.now() - parseInt(t, 16) < this.nonceTtlMs;
  }

  /** The WWW-Authenticate header value for a 401 answer. */
  challenge(): string {
    return this.scheme === 'basic' ? `Basic realm="${this.realm}"` : `Digest realm="${this.realm}", nonce="${this.makeNonce()}", algorithm=MD5`;
  }

  /** True when the Authorization header proves the configured credentials for this request. */
  check(method: string, authorization: string | undefined): boolean {
    if (!authorization) return false;
    const sp = authorization.indexOf(' ');
    const kind = authorization.slice(0, sp).toLowerCase();
    const rest = authorization.slice(sp + 1).trim();
    if (kind === 'basic' && this.scheme === 'basic') {
      const expected = Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64');
      return safeEqual(rest, expected);
    }
    if (kind === 'digest' && this.scheme === 'digest') {
      const p = parseAuthParams(rest);
      if (p.username !== this.creds.username || p.realm !== this.realm || !p.nonce || !p.uri || !p.response) return false;
      if (!this.nonceValid(p.nonce)) return false;
      const ha1 = md5(`${this.creds.username}:${this.realm}:${this.creds.password}`);
      const ha2 = md5(`${method}:${p.uri}`);
      const expected = p.qop ? md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
      return safeEqual(p.response.toLowerCase(), expected);
    }
    return false;
  }
}

/** Client side: remembers the server's challenge and signs each later request. */
export class AuthAnswerer {
  private challengeParams: Record<string, string> | undefined;
  private kind: 'basic' | 'digest' | undefined;
  private nc = 0;

  constructor(private readonly creds: RtspAuth) {}

  /** Takes the WWW-Authenticate header(s) of a 401; false if no scheme we speak was offered. */
  accept(wwwAuthenticate: string | undefined): boolean {
    if (!wwwAuthenticate) return false;
    // several challenges may arrive joined with ", " — prefer Digest (the password never travels)
    const digestAt = wwwAuthenticate.search(/digest\s/i);
    if (digestAt >= 0) {
      this.kind = 'digest';
      this.challengeParams = parseAuthParams(wwwAuthenticate.slice(digestAt + 7));
      this.nc = 0;
      return true;
    }
    if (/basic/i.test(wwwAuthenticate)) {
      this.kind = 'basic';
      return true;
    }
    return false;
  }

  get ready(): boolean {
    return this.kind !== undefined;
  }

  /** The Authorization header for a request, or undefined before any challenge. */
  header(method: string, uri: string): string | undefined {
    if (this.kind === 'basic') return `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}`;
    if (this.kind !== 'digest' || !this.challengeParams) return undefined;
    const { realm = '', nonce = '', opaque, qop } = this.challengeParams;
    const ha1 = md5(`${this.creds.username}:${realm}:${this.creds.password}`);
    const ha2 = md5(`${method}:${uri}`);
    let h = `Digest username="${this.creds.username}", realm="${realm}", nonce="${nonce}", uri="${uri}"`;
    if (qop && qop.split(',').map((q) => q.trim()).includes('auth')) {
      const nc = (++this.nc).toString(16).padStart(8, '0');
      const cnonce = randomBytes(8).toString('hex');
      h += `, response="${md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)}", qop=auth, nc=${nc}, cnonce="${cnonce}"`;
    } else {
      h += `, response="${md5(`${ha1}:${nonce}:${ha2}`)}"`;
    }
    if (opaque !== undefined) h += `, opaque="${opaque}"`;
    return h + ', algorithm=MD5';
  }
}
