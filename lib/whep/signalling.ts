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
  /** aborts the request (stop, redeploy) */
  signal?: AbortSignal;
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
    if (s === 200 || s === 201) {
      const type = String(res.headers['content-type'] ?? '');
      const sdp = res.body.toString('utf8');
      if (!/^application\/sdp\b/i.test(type) && !sdp.startsWith('v=0')) {
        throw new WhepError('whep.notSdp', `${target.href} answered ${s} with "${type}", not an SDP answer`, { url: target.href, status: s, type }, false);
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
        throw new WhepError('whep.tooManyRedirects', `more than ${MAX_REDIRECTS} redirects from ${url}`, { url, max: MAX_REDIRECTS }, false);
      }
      target = new URL(loc, target);
      continue;
    }
    if (s === 301 || s === 302 || s === 303) {
      const to = loc ? new URL(loc, target).href : '(no Location)';
      throw new WhepError(
        'whep.redirect',
        `${target.href} answered ${s}, a redirect that would turn the offer into a GET; use the target URL directly: ${to}`,
        { url: target.href, status: s, target: to },
        false,
      );
    }
    const text = res.body.toString('utf8').slice(0, 200).trim();
    if (s === 404 || s === 409 || s === 429 || s === 503 || s === 502 || s === 504 || s === 500) {
      const after = retryAfterMs(header(res.headers['retry-after']));
      if (s === 404) {
        throw new WhepError('whep.notFound', `${target.href} answered 404: no such stream (nobody publishing yet?)${text ? ` (${text})` : ''}`, { url: target.href, status: s }, true, after);
      }
      throw new WhepError('whep.tryLater', `${target.href} answered ${s}: server busy or unavailable, trying later${text ? ` (${text})` : ''}`, { url: target.href, status: s }, true, after);
    }
    if (s === 401 || s === 403) {
      throw new WhepError('whep.auth', `${target.href} answered ${s}: check the bearer token or the token in the URL`, { url: target.href, status: s }, false);
    }
    throw new WhepError('whep.status', `${target.href} answered ${s}${text ? `: ${text}` : ''}`, { url: target.href, status: s, text }, false);
  }
}

/** Ends the session on the server. Errors are returned, not thrown: the stream is ending anyway. */
export async function deleteSession(location: string, opts: SignallingOptions = {}): Promise<Error | undefined> {
  try {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const res = await request('DELETE', new URL(location), headers, undefined, { ...opts, timeoutMs: opts.timeoutMs ?? 3000 });
    if (res.status >= 300 && res.status !== 404) return new Error(`DELETE ${location} answered ${res.status}`);
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
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WhepError('whep.badUrl', `"${url}" is not a URL: expected http(s)://host[:port]/path`, { url }, false);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new WhepError('whep.badUrl', `"${url}" is not a URL: expected http(s)://host[:port]/path`, { url }, false);
  }
  return u;
}

function request(method: string, url: URL, headers: Record<string, string>, body: Buffer | undefined, opts: SignallingOptions): Promise<RawResponse> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
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
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      reject(err);
    };
    const onAbort = () => fail(new WhepError('whep.aborted', 'stopped', {}, false));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('timeout', () =>
      fail(new WhepError('whep.timeout', `${method} ${url.href}: no answer within ${timeoutMs} ms`, { method, url: url.href, ms: timeoutMs }, true)),
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (code === 'ECONNRESET' || /socket hang up/i.test(err.message)) {
        fail(new WhepError('whep.noReply', `${url.href} closed the connection without a reply (SRS does this when it rejects an offer)`, { url: url.href }, true));
      } else if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT') {
        fail(new WhepError('whep.unreachable', `cannot reach ${url.host}: ${code}`, { host: url.host, code }, true));
      } else if (/certificate|self.signed|CERT_/i.test(code + err.message)) {
        fail(new WhepError('whep.tls', `TLS certificate of ${url.host} not accepted (${err.message}); enable "accept self-signed certificates" only for a server you trust`, { host: url.host, reason: err.message }, false));
      } else {
        fail(new WhepError('whep.request', `${method} ${url.href} failed: ${err.message}`, { method, url: url.href, reason: err.message }, true));
      }
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > 1 << 20) fail(new WhepError('whep.request', `${method} ${url.href} failed: answer larger than 1 MB`, { method, url: url.href, reason: 'too large' }, false));
        else parts.push(d);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        opts.signal?.removeEventListener('abort', onAbort);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
      });
      res.on('error', (err) => fail(new WhepError('whep.noReply', `${url.href} closed the connection without a reply (SRS does this when it rejects an offer)`, { url: url.href, reason: err.message }, true)));
    });
    req.end(body);
  });
}
