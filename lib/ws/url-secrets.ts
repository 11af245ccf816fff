/**
 * Secrets written into a target URL (`wss://user:pass@host/…`, `…?token=abc`) kept out of the
 * flow file: the flow stores the URL with `***` in their place and the config node's credentials
 * store the secrets; at run time they are put back. Works on the URL as text (not `new URL`),
 * because a per-stream URL holds `{{stmId}}` placeholders that URL serialisation would encode,
 * and a secret must come back byte for byte as the user typed it.
 * The editor (nodes/live-audio-ws-target/live-audio-ws-target.html) has the same split in plain JS.
 */
import { isSecretParam } from '../util/redact';

export interface UrlSecrets {
  /** what stood before the '@' of the authority */
  userinfo?: string;
  /** secret query parameters, raw name and value, in order */
  params?: Array<[string, string]>;
}

export const PLACEHOLDER = '***';

interface Parts {
  scheme: string;
  userinfo?: string;
  rest: string;
  query?: string;
  fragment: string;
}

function parts(url: string): Parts | undefined {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i.exec(url);
  if (!m) return undefined;
  const [, scheme, authority, tail] = m;
  const at = authority.lastIndexOf('@');
  const hash = tail.indexOf('#');
  const beforeHash = hash >= 0 ? tail.slice(0, hash) : tail;
  const fragment = hash >= 0 ? tail.slice(hash) : '';
  const q = beforeHash.indexOf('?');
  return {
    scheme,
    userinfo: at >= 0 ? authority.slice(0, at) : undefined,
    rest: (at >= 0 ? authority.slice(at + 1) : authority) + (q >= 0 ? beforeHash.slice(0, q) : beforeHash),
    query: q >= 0 ? beforeHash.slice(q + 1) : undefined,
    fragment,
  };
}

function join(p: Parts): string {
  return p.scheme + (p.userinfo !== undefined ? p.userinfo + '@' : '') + p.rest + (p.query !== undefined ? '?' + p.query : '') + p.fragment;
}

function paramName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** The URL with its userinfo and secret query values replaced by `***`, and what they were. */
export function splitUrlSecrets(url: string): { url: string; secrets: UrlSecrets } {
  const p = parts(url);
  const secrets: UrlSecrets = {};
  if (!p) return { url, secrets };
  if (p.userinfo !== undefined && p.userinfo !== '' && p.userinfo !== PLACEHOLDER) {
    secrets.userinfo = p.userinfo;
    p.userinfo = PLACEHOLDER;
  }
  if (p.query !== undefined) {
    p.query = p.query
      .split('&')
      .map((kv) => {
        const eq = kv.indexOf('=');
        if (eq < 0) return kv;
        const name = kv.slice(0, eq);
        const value = kv.slice(eq + 1);
        if (!isSecretParam(paramName(name)) || value === PLACEHOLDER || value === '') return kv;
        (secrets.params ??= []).push([name, value]);
        return `${name}=${PLACEHOLDER}`;
      })
      .join('&');
  }
  return { url: join(p), secrets };
}

/** Whether the URL holds a secret in plain text (userinfo or a secret parameter's value). */
export function hasUrlSecrets(url: string): boolean {
  const { secrets } = splitUrlSecrets(url);
  return secrets.userinfo !== undefined || (secrets.params?.length ?? 0) > 0;
}

/** Puts the secrets back where the URL holds `***` (a `***` without a stored secret stays). */
export function mergeUrlSecrets(url: string, secrets: UrlSecrets | undefined): string {
  if (!secrets) return url;
  const p = parts(url);
  if (!p) return url;
  if (p.userinfo === PLACEHOLDER && secrets.userinfo !== undefined) p.userinfo = secrets.userinfo;
  if (p.query !== undefined && secrets.params?.length) {
    const left = [...secrets.params];
    p.query = p.query
      .split('&')
      .map((kv) => {
        const eq = kv.indexOf('=');
        if (eq < 0 || kv.slice(eq + 1) !== PLACEHOLDER) return kv;
        const name = kv.slice(0, eq);
        const i = left.findIndex(([n]) => n === name);
        if (i < 0) return kv;
        const [[, value]] = left.splice(i, 1);
        return `${name}=${value}`;
      })
      .join('&');
  }
  return join(p);
}

/** Reads the credential's JSON (an unreadable one holds nothing). */
export function parseUrlSecrets(json: string | undefined): UrlSecrets | undefined {
  if (!json) return undefined;
  try {
    const v = JSON.parse(json) as UrlSecrets;
    return v && typeof v === 'object' ? v : undefined;
  } catch {
    return undefined;
  }
}
