/**
 * whep-in: live audio from WHEP servers as PCM messages (output 1) and per-stream events with
 * stats (output 2). Glue only: the engine is lib/whep (WhepIn).
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { checkStmId, checkWhepUrl, installWeriftLayer, onWeriftFallback, WhepIn, type WeriftFallback, type WhepEvent, type WhepSummary } from '../../lib/whep';
import type { IceServer } from '../../lib/whep';
import { CodedError } from '../../lib/util/errors';
import { localError } from '../shared/i18n';
import { configNumber, refuseConfig } from '../shared/config';

interface WhepInDef extends NodeDef {
  mode: 'static' | 'dynamic';
  url: string;
  stmId: string;
  traceId: string;
  rate: string;
  channels: string;
  chunkMs: string;
  /** seconds without RTP before the stream is idle */
  idleS?: string;
  idleSilence: boolean;
  /** seconds between offers while the server answers 404 (nobody publishes) */
  pollS?: string;
  /** largest retry delay after errors, seconds */
  retryMaxS?: string;
  /** flows before 0.2 named the two above in "Ms" although they held seconds; read when the new one is absent */
  idleMs?: string;
  retryMaxMs?: string;
  maxStreams: string;
  iceServers?: string; // flows from before ICE servers became a credential
  iceHostAddresses: string;
  insecureTls: boolean;
}

// the werift layer's report is logged once per Node-RED process, each fallback warned once
let weriftLogged = false;
const weriftWarned = new Set<string>();

export = function (RED: NodeAPI) {
  function WhepInNode(this: Node<{ token?: string; iceServers?: string }>, config: WhepInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    // numbers first: a configuration the node cannot run is refused before anything starts
    let opts: { channels: 1 | 2; chunkMs: number; idleS: number; pollS: number; retryMaxS: number; maxStreams: number };
    try {
      const blank = (v: unknown) => v === undefined || v === null || v === '';
      opts = {
        channels: configNumber(config, 'channels', { default: 2, min: 1, max: 2, integer: true }) as 1 | 2,
        chunkMs: configNumber(config, 'chunkMs', { default: 20, min: 10, max: 1000, integer: true }),
        // the renamed fields: the new name wins, else the old one (a flow from before the rename)
        idleS: configNumber({ idleS: blank(config.idleS) ? config.idleMs : config.idleS }, 'idleS', { default: 5, min: 1, max: 86400 }),
        pollS: configNumber(config, 'pollS', { default: 1, min: 0.2, max: 60 }),
        retryMaxS: configNumber({ retryMaxS: blank(config.retryMaxS) ? config.retryMaxMs : config.retryMaxS }, 'retryMaxS', { default: 5, min: 1, max: 86400 }),
        maxStreams: configNumber(config, 'maxStreams', { default: 100, min: 1, max: 100000, integer: true }),
      };
    } catch (err) {
      refuseConfig(node, RED, err);
      return;
    }
    const werift = installWeriftLayer();
    const warnFallback = (f: WeriftFallback) => {
      if (weriftWarned.has(f.fastPath)) return;
      weriftWarned.add(f.fastPath);
      node.warn(RED._('whep-in.werift.fallback', { version: werift.weriftVersion, tested: werift.testedWith, path: f.fastPath, reason: f.reason }));
    };
    if (!weriftLogged) {
      weriftLogged = true;
      if (werift.active.length) node.log(RED._('whep-in.werift.active', { version: werift.weriftVersion, paths: werift.active.join(', ') }));
      for (const f of werift.fallbacks) warnFallback(f);
    }
    // a per-connection fast path can still fall back at a stream's first connection
    const stopWeriftWarnings = onWeriftFallback(warnFallback);
    const engine = new WhepIn(
      {
        token: node.credentials?.token || undefined,
        insecureTls: !!config.insecureTls,
        // a credential since TURN lines hold passwords; flows from before keep it in the config
        iceServers: parseIceServers(node.credentials?.iceServers || config.iceServers),
        iceHostAddresses: splitList(config.iceHostAddresses),
        // not num(): a rate that is no number must be reported (engine.configError), not replaced
        rate: (config.rate === '' || config.rate === undefined ? 48000 : Number(config.rate)) as 48000,
        channels: opts.channels,
        chunkMs: opts.chunkMs,
        idleMs: opts.idleS * 1000,
        idleSilence: !!config.idleSilence,
        pollMs: opts.pollS * 1000,
        retryMaxMs: opts.retryMaxS * 1000,
        maxStreams: opts.maxStreams,
      },
      {
        chunk: (msg) => node.send([msg as NodeMessage, null]),
        event: (ev) => onEvent(ev),
      },
    );

    // a setting no stream can run with (e.g. an output rate typed into an old flow): refused as any
    // bad configuration is, before the werift listener or a stream exists to clean up
    if (engine.configError) {
      stopWeriftWarnings();
      refuseConfig(node, RED, engine.configError);
      return;
    }

    let lastRetry: WhepEvent | undefined;
    function onEvent(ev: WhepEvent) {
      if (ev.event === 'reconnecting') lastRetry = ev;
      const out: Record<string, unknown> = { topic: `whep/${ev.event}`, stmId: ev.stmId, payload: { ...ev, error: undefined } };
      if (ev.traceId !== undefined) out.traceId = ev.traceId;
      if (ev.error) {
        const e = localError(RED, ev.error);
        (out.payload as Record<string, unknown>).error = { message: e.message, code: ev.error.code };
        if (ev.event === 'error') node.error(e, out);
      }
      node.send([null, out as NodeMessage]);
      showStatus(ev);
    }

    function showStatus(last?: WhepEvent) {
      if (urlError) return node.status({ fill: 'red', shape: 'ring', text: RED._('whep-in.status.badUrl') });
      const s: WhepSummary = engine.summary();
      if (s.total === 0) {
        const err = last?.event === 'stopped' && last.state === 'error';
        node.status(err ? { fill: 'red', shape: 'ring', text: RED._('whep-in.status.error') } : { fill: 'grey', shape: 'ring', text: RED._('whep-in.status.none') });
        return;
      }
      // one stream waiting to retry: why, the user's first question, then when
      if (s.total === 1 && s.reconnecting === 1 && lastRetry?.error) {
        const when = RED._('whep-in.status.retryIn', { s: Math.max(1, Math.round((lastRetry.retryInMs ?? 0) / 1000)) });
        return node.status({ fill: 'yellow', shape: 'ring', text: `${shortReason(lastRetry.error)} · ${when}` });
      }
      const parts = (['live', 'waiting', 'idle', 'connecting', 'reconnecting'] as const).filter((k) => s[k] > 0).map((k) => RED._(`whep-in.status.${k}`, { count: s[k] }));
      node.status({ fill: s.live > 0 ? 'green' : 'yellow', shape: s.live === s.total ? 'dot' : 'ring', text: parts.join(', ') });
    }

    /** A few words for the status: the catalog's short reason for the code, else the error's message (URL redacted). */
    function shortReason(err: CodedError): string {
      const code = err.code.replace(/^whep\./, '');
      const why = SHORT_REASONS.has(code) ? RED._(`whep-in.why.${code}`, err.params) : localError(RED, err).message;
      return why.length > 60 ? `${why.slice(0, 59)}…` : why;
    }

    // a configured URL that cannot work is reported at deploy, not retried: in static mode it is
    // the node's one stream (red status); in dynamic mode the default for messages without msg.url
    // (each such start message then fails with it too)
    let urlError: Error | undefined;
    if (config.url) {
      try {
        checkWhepUrl(config.url);
      } catch (err) {
        node.error(localError(RED, err));
        if (config.mode !== 'dynamic') urlError = localError(RED, err);
      }
    }
    // started once the flow is wired up, so the first events reach the nodes downstream
    const autostart = setImmediate(() => {
      if (config.mode === 'dynamic' || !config.url || urlError) return;
      try {
        engine.start({ url: config.url, stmId: config.stmId || node.id, traceId: config.traceId || undefined });
      } catch (err) {
        node.error(localError(RED, err));
      }
    });
    showStatus();

    node.on('input', (msg: NodeMessage & Record<string, unknown>, send, done) => {
      // the request may sit on msg or, as low-code flows often put it, in msg.payload
      const p = msg.payload && typeof msg.payload === 'object' && !Buffer.isBuffer(msg.payload) ? (msg.payload as Record<string, unknown>) : {};
      const pick = (k: string) => (msg[k] !== undefined ? msg[k] : p[k]);
      const action = String(pick('action') ?? 'start');
      try {
        // a name that is no string or number is refused: String() would make every object "[object Object]"
        const rawId = pick('stmId') ?? pick('topic');
        const stmId = rawId === undefined || rawId === null || rawId === '' ? '' : checkStmId(rawId);
        if (action === 'start') {
          const given = pick('url');
          const url = (given === undefined || given === null || given === '' ? config.url : given) as string;
          if (!stmId) throw new CodedError('whep.noStmId', 'a start message needs msg.stmId (or msg.topic) to name the stream', {});
          const traceId = pick('traceId');
          engine.start({ url, stmId, traceId: traceId === undefined ? undefined : String(traceId), token: (pick('token') as string) || undefined });
          showStatus();
          done();
        } else if (action === 'stop') {
          const stopping = stmId ? [engine.stop(stmId)] : [engine.stopAll().then(() => true)];
          Promise.all(stopping).then(([found]) => done(found ? undefined : localError(RED, new CodedError('whep.notRunning', `no stream "${stmId}" is running`, { stmId }))), done);
        } else {
          throw new CodedError('whep.badAction', `unknown action "${action}": use "start" or "stop"`, { action });
        }
      } catch (err) {
        done(localError(RED, err));
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      clearImmediate(autostart);
      stopWeriftWarnings();
      engine.close().then(done, done);
    });
  }

  RED.nodes.registerType('whep-in', WhepInNode as never, { credentials: { token: { type: 'password' }, iceServers: { type: 'text' } } });
};

/** the codes of retried errors that have a short text under whep-in.why in the catalogs */
const SHORT_REASONS = new Set(['notFound', 'tryLater', 'noReply', 'unreachable', 'timeout', 'connection', 'connectTimeout', 'serverGone', 'request', 'session']);

function splitList(s: string | undefined): string[] | undefined {
  const list = (s ?? '').split(/[\s,]+/).filter(Boolean);
  return list.length ? list : undefined;
}

/** One ICE server per line: `stun:host:port` or `turn:host:port username credential`. */
function parseIceServers(s: string | undefined): IceServer[] {
  return (s ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0])
    .map(([urls, username, credential]) => (username ? { urls, username, credential } : { urls }));
}
