/**
 * WHEP signalling over HTTP (draft-ietf-wish-whep): POST the SDP offer, read the answer and the
 * session resource (Location), DELETE it at the end. Written on node:http/https rather than fetch
 * because WHEP needs things fetch hides or lacks in Node 20: telling "connection closed with no
 * reply" (SRS's way of refusing an offer) from other failures, refusing to turn a 302 into a GET,
 * and an explicit per-request switch for self-signed certificates.
 */
import http from 'node:http';
import https from 'node:https';
import { CodedError } from '../util/errors';
import { retryAfterMs } from '../util/backoff';
import { redactUrl } from '../util/redact';

export interface IceServer {
  urls: string;
  username?: string;
  credential?: string;
}

export interface SignallingOptions {
  /** bearer token for `Authorization: Bearer …` (tokens inside the URL query work unchanged) */
  token?: string;
  /** accept self-signed / invalid TLS certificates (off by default) */
  insecureTls?: boolean;
  /** per-request timeout (ms) */
  timeoutMs?: number;
  /**
   * Stop, redeploy. A request whose connection is not up yet is dropped at once; one that may have
   * reached the server may already have made a session, so its answer is still awaited (up to
   * `lateAnswerMs`) and returned, for the caller to DELETE.
   */
  signal?: AbortSignal;
  /**
   * after an abort, how long to wait for the answer to a request that may have reached the server
   * (ms); default: as long as the request would have waited anyway (`timeoutMs`)
   */
  lateAnswerMs?: number;
}

/** Longest URL accepted (browsers and servers refuse far shorter ones; this bounds what we log). */
export const MAX_URL_LENGTH = 8192;

/**
 * Checks a WHEP URL before anything is sent: http(s) with a host, of a sane length. Throws the
 * WhepError a start request is refused with (the URL in it redacted).
 */
export function checkWhepUrl(url: unknown): URL {
  const shown = typeof url === 'string' ? redactUrl(url.length > 200 ? `${url.slice(0, 200)}…` : url) : String(typeof url);
  if (typeof url !== 'string' || url.length > MAX_URL_LENGTH) {
    const why = typeof url !== 'string' ? `not a string but ${typeof url}` : `longer than ${MAX_URL_LENGTH} characters`;
    throw new WhepError('whep.badUrl', `"${shown}" is not a usable WHEP URL (${why}): expected http(s)://host[:port]/path`, { url: shown }, false);
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WhepError('whep.badUrl', `"${shown}" is not a usable WHEP URL: expected http(s)://host[:port]/path`, { url: shown }, false);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname) {
    throw new WhepError('whep.badUrl', `"${shown}" is not a usable WHEP URL: expected http(s)://host[:port]/path`, { url: shown }, false);
  }
  return u;
}

export interface WhepAnswer {
  /** the SDP answer */
  sdp: string;
  /** absolute URL of the session resource, when the server gave one (older SRS does not) */
  location?: string;
  /** ICE servers the server offered through `Link: <…>; rel="ice-server"` */
  iceServers: IceServer[];
  status: number;
}

/**
 * A failed WHEP request. `retry` says whether trying again later makes sense ("try later" answers,
 * a refused connection, no reply) and `retryAfterMs` honours the server's Retry-After.
 */
export class WhepError extends CodedError {
  override name = 'WhepError';
  constructor(
    code: string,
    message: string,
    params: Record<string, string | number>,
    readonly retry: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(code, message, params);
  }
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const MAX_REDIRECTS = 5;

/** Sends the offer and returns the answer, following 307/308 (method and body kept). */
export async function postOffer(url: string, offerSdp: string, opts: SignallingOptions = {}): Promise<WhepAnswer> {
  let target = parseUrl(url);
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'content-type': 'application/sdp', accept: 'application/sdp' };
    // like fetch: the token goes only to the origin it was configured for
    if (opts.token && target.origin === parseUrl(url).origin) headers.authorization = `Bearer ${opts.token}`;
    const res = await request('POST', target, headers, Buffer.from(offerSdp, 'utf8'), opts);
    const s = res.status;
    const shown = redactUrl(target.href);
    if (s === 200 || s === 201) {
      const type = String(res.headers['content-type'] ?? '');
      const sdp = res.body.toString('utf8');
      if (!/^application\/sdp\b/i.test(type) && !sdp.startsWith('v=0')) {
        throw new WhepError('whep.notSdp', `${shown} answered ${s} with "${type}", not an SDP answer`, { url: shown, status: s, type }, false);
      }
      const loc = header(res.headers.location);
      return {
        sdp,
        status: s,
        location: loc ? new URL(loc, target).href : undefined,
        iceServers: parseIceServerLinks(res.headers.link),
      };
    }
    const loc = header(res.headers.location);
    if ((s === 307 || s === 308) && loc) {
      if (hop >= MAX_REDIRECTS) {
        throw new WhepError('whep.tooManyRedirects', `more than ${MAX_REDIRECTS} redirects from ${redactUrl(url)}`, { url: redactUrl(url), max: MAX_REDIRECTS }, false);
      }
      target = new URL(loc, target);
      continue;
    }
    if (s === 301 || s === 302 || s === 303) {
      const to = loc ? redactUrl(new URL(loc, target).href) : '(no Location)';
      throw new WhepError(
        'whep.redirect',
        `${shown} answered ${s}, a redirect that would turn the offer into a GET; use the target URL directly: ${to}`,
        { url: shown, status: s, target: to },
        false,
      );
    }
    const text = res.body.toString('utf8').slice(0, 200).trim();
    if (s === 404 || s === 409 || s === 429 || s === 503 || s === 502 || s === 504 || s === 500) {
      const after = retryAfterMs(header(res.headers['retry-after']));
      if (s === 404) {
        throw new WhepError('whep.notFound', `${shown} answered 404: no such stream (nobody publishing yet?)${text ? ` (${text})` : ''}`, { url: shown, status: s }, true, after);
      }
      throw new WhepError('whep.tryLater', `${shown} answered ${s}: server busy or unavailable, trying later${text ? ` (${text})` : ''}`, { url: shown, status: s }, true, after);
    }
    if (s === 401 || s === 403) {
      throw new WhepError('whep.auth', `${shown} answered ${s}: check the bearer token or the token in the URL`, { url: shown, status: s }, false);
    }
    throw new WhepError('whep.status', `${shown} answered ${s}${text ? `: ${text}` : ''}`, { url: shown, status: s, text }, false);
  }
}

/** Ends the session on the server. Errors are returned, not thrown: the stream is ending anyway. */
export async function deleteSession(location: string, opts: SignallingOptions = {}): Promise<Error | undefined> {
  try {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const res = await request('DELETE', new URL(location), headers, undefined, { ...opts, timeoutMs: opts.timeoutMs ?? 3000 });
    if (res.status >= 300 && res.status !== 404) return new Error(`DELETE ${redactUrl(location)} answered ${res.status}`);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

/** `Link: <stun:…>; rel="ice-server"; username="u"; credential="p"` → ICE servers. */
export function parseIceServerLinks(link: string | string[] | undefined): IceServer[] {
  if (!link) return [];
  const out: IceServer[] = [];
  const all = Array.isArray(link) ? link.join(',') : link;
  // split on commas that start a new <…> entry (commas may appear inside quoted params)
  for (const entry of all.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(entry);
    if (!m) continue;
    const params: Record<string, string> = {};
    for (const p of m[2].split(';')) {
      const kv = /^\s*([\w-]+)\s*=\s*(?:"([^"]*)"|([^\s;]*))\s*$/.exec(p);
      if (kv) params[kv[1].toLowerCase()] = kv[2] ?? kv[3];
    }
    if ((params.rel ?? '').toLowerCase().split(/\s+/).includes('ice-server') && /^(stun|stuns|turn|turns):/i.test(m[1])) {
      const s: IceServer = { urls: m[1] };
      if (params.username !== undefined) s.username = params.username;
      if (params.credential !== undefined) s.credential = params.credential;
      out.push(s);
    }
  }
  return out;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function parseUrl(url: string): URL {
  return checkWhepUrl(url);
}

function request(method: string, url: URL, headers: Record<string, string>, body: Buffer | undefined, opts: SignallingOptions): Promise<RawResponse> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const shown = redactUrl(url.href);
  return new Promise<RawResponse>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new WhepError('whep.aborted', 'stopped', {}, false));
      return;
    }
    const mod = url.protocol === 'https:' ? https : http;
    if (body) headers['content-length'] = String(body.length);
    const req = mod.request(url, {
      method,
      headers,
      timeout: timeoutMs,
      rejectUnauthorized: !opts.insecureTls,
      agent: false, // one connection per request: nothing kept open after close
    });
    let settled = false;
    let sent = false;
    let late: NodeJS.Timeout | undefined;
    const cleanup = () => {
      settled = true;
      if (late) clearTimeout(late);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      if (settled) return;
      cleanup();
      req.destroy();
      reject(err);
    };
    const aborted = () => new WhepError('whep.aborted', 'stopped', {}, false);
    // Once the request may have reached the server, the server may be making a session for it right
    // now: dropping the connection would leave that session behind with nobody to DELETE it. So
    // wait (bounded) for the answer and hand it over; the caller sees the abort and DELETEs.
    const onAbort = () => {
      if (!sent || method !== 'POST') return fail(aborted());
      late = setTimeout(() => fail(aborted()), Math.min(timeoutMs, opts.lateAnswerMs ?? timeoutMs));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // from the moment the connection is up, bytes of the request may be at the server: past that
    // point only its answer tells whether a session was made
    req.on('socket', (sock) => {
      if (!sock.connecting) sent = true;
      else sock.once('connect', () => (sent = true));
    });
    req.on('timeout', () =>
      fail(new WhepError('whep.timeout', `${method} ${shown}: no answer within ${timeoutMs} ms`, { method, url: shown, ms: timeoutMs }, true)),
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (code === 'ECONNRESET' || /socket hang up/i.test(err.message)) {
        fail(new WhepError('whep.noReply', `${shown} closed the connection without a reply (SRS does this when it rejects an offer)`, { url: shown }, true));
      } else if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT') {
        fail(new WhepError('whep.unreachable', `cannot reach ${url.host}: ${code}`, { host: url.host, code }, true));
      } else if (/certificate|self.signed|CERT_/i.test(code + err.message)) {
        fail(new WhepError('whep.tls', `TLS certificate of ${url.host} not accepted (${err.message}); enable "accept self-signed certificates" only for a server you trust`, { host: url.host, reason: err.message }, false));
      } else {
        fail(new WhepError('whep.request', `${method} ${shown} failed: ${err.message}`, { method, url: shown, reason: err.message }, true));
      }
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > 1 << 20) fail(new WhepError('whep.request', `${method} ${shown} failed: answer larger than 1 MB`, { method, url: shown, reason: 'too large' }, false));
        else parts.push(d);
      });
      res.on('end', () => {
        if (settled) return;
        cleanup();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
      });
      res.on('error', (err) => fail(new WhepError('whep.noReply', `${shown} closed the connection without a reply (SRS does this when it rejects an offer)`, { url: shown, reason: err.message }, true)));
    });
    req.end(body);
  });
}
