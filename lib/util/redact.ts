/**
 * Secrets out of anything a user or a log sees: statuses, events, errors. A URL's userinfo and
 * the values of token-like query parameters (`token`, `sign`, `key`, `secret`, `auth`…) become
 * `***`; SRS passes play tokens in the query, WebSocket ASR services put keys there.
 */
const SECRET_PARAM = /token|key|secret|auth|sign|pass|ticket|credential/i;

/** Whether a query parameter's name says it holds a secret. */
export function isSecretParam(name: string): boolean {
  return SECRET_PARAM.test(name);
}

/** The URL with its userinfo and token-like query values replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = u.username ? '***' : '';
      u.password = u.password ? '***' : '';
    }
    for (const k of [...u.searchParams.keys()]) {
      if (isSecretParam(k)) u.searchParams.set(k, '***');
    }
    return u.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    // not a URL: still hide what looks like userinfo or a secret parameter
    return url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&][^=&#]*(?:token|key|secret|auth|sign|pass|ticket|credential)[^=&#]*=)[^&#]*/gi, '$1***');
  }
}
