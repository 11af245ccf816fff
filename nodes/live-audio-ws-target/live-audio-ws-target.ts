/**
 * Config node: one WebSocket target (URL, headers, TLS, keep-alive, reconnect, connection mode)
 * shared by base64-ws-out nodes. Header values are credentials: kept out of the flow file and of
 * every log, status and event.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { ConnectionMode } from '../../lib/ws';
import { mergeUrlSecrets, parseUrlSecrets } from '../../lib/ws/url-secrets';
import type { TargetCredentials, WsTargetNode } from './types';

interface TargetDef extends NodeDef {
  url: string;
  mode: ConnectionMode;
  protocols: string;
  tlsVerify: boolean;
  connectTimeout: number | string;
  pingInterval: number | string;
  deflate: boolean;
  zeroMask: boolean;
  backoffInitial: number | string;
  backoffMax: number | string;
  /** largest reply taken from the server, KiB (default 1024) */
  maxReply?: number | string;
}

/** Seconds from the editor to ms, with a default for blanks and nonsense. */
function ms(v: number | string | undefined, dflt: number): number {
  const n = Number(v);
  return v === '' || v === undefined || !Number.isFinite(n) || n < 0 ? dflt : Math.round(n * 1000);
}

export = function (RED: NodeAPI) {
  function LiveAudioWsTarget(this: Node<TargetCredentials>, def: TargetDef) {
    RED.nodes.createNode(this, def);
    (this as WsTargetNode).options = () => {
      const headers: Record<string, string> = {};
      try {
        for (const h of JSON.parse(this.credentials?.headers || '[]') as Array<{ name?: string; value?: string }>) {
          if (h && h.name) headers[String(h.name)] = String(h.value ?? '');
        }
      } catch {
        /* unreadable header list: none (the editor always writes valid JSON) */
      }
      if (this.credentials?.authorization) headers.Authorization = this.credentials.authorization;
      // the flow holds the URL with *** where its secrets were; the credentials hold them. A flow
      // from before (secrets still in the URL) works as it is; the editor moves them on its next save.
      const url = mergeUrlSecrets(def.url, parseUrlSecrets(this.credentials?.urlSecrets));
      const maxReplyKiB = Number(def.maxReply);
      return {
        url,
        maxReplyBytes: def.maxReply === '' || def.maxReply === undefined || !(maxReplyKiB > 0) ? 1 << 20 : Math.round(maxReplyKiB * 1024),
        mode: def.mode === 'per-stream' ? 'per-stream' : 'shared',
        headers,
        protocols: (def.protocols || '').split(',').map((p) => p.trim()).filter(Boolean),
        rejectUnauthorized: def.tlsVerify !== false,
        connectTimeoutMs: ms(def.connectTimeout, 10_000) || 10_000,
        pingIntervalMs: ms(def.pingInterval, 15_000),
        perMessageDeflate: def.deflate === true,
        zeroMask: def.zeroMask === true,
        backoffInitialMs: ms(def.backoffInitial, 500) || 500,
        backoffMaxMs: Math.max(ms(def.backoffMax, 30_000), ms(def.backoffInitial, 500) || 500),
      };
    };
  }
  RED.nodes.registerType<Node<TargetCredentials>, TargetDef, unknown, TargetCredentials>('live-audio-ws-target', LiveAudioWsTarget, {
    credentials: { headers: { type: 'text' }, authorization: { type: 'password' }, urlSecrets: { type: 'text' } },
  });
};
