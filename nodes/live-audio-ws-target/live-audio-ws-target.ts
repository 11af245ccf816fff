/**
 * Config node: one WebSocket target (URL, headers, TLS, keep-alive, reconnect, connection mode)
 * shared by base64-ws-out nodes. Header values are credentials: kept out of the flow file and of
 * every log, status and event.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { ConnectionMode } from '../../lib/ws';
import { mergeUrlSecrets, parseUrlSecrets } from '../../lib/ws/url-secrets';
import { configNumber } from '../shared/config';
import { localError } from '../shared/i18n';
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
  /** per-stream connections: seconds to wait after a stream's end for the receiver's last replies and close (default 5) */
  linger?: number | string;
}

export = function (RED: NodeAPI) {
  function LiveAudioWsTarget(this: Node<TargetCredentials>, def: TargetDef) {
    RED.nodes.createNode(this, def);
    const node = this as WsTargetNode;
    // the numbers, read once: a config node has no status, so a bad one is logged here and every
    // node using this target refuses with the same error (configError)
    let limits = { connectTimeoutMs: 10_000, pingIntervalMs: 15_000, backoffInitialMs: 500, backoffMaxMs: 30_000, maxReplyBytes: 1 << 20, lingerMs: 5000 };
    try {
      const s = (key: string, dflt: number, min: number, max: number) => Math.round(configNumber(def, key, { default: dflt, min, max }) * 1000);
      limits = {
        connectTimeoutMs: s('connectTimeout', 10, 0.001, 300),
        pingIntervalMs: s('pingInterval', 15, 0, 3600),
        backoffInitialMs: s('backoffInitial', 0.5, 0.001, 600),
        backoffMaxMs: s('backoffMax', 30, 0.001, 3600),
        maxReplyBytes: Math.round(configNumber(def, 'maxReply', { default: 1024, min: 1, max: 1_048_576 }) * 1024),
        lingerMs: s('linger', 5, 0, 600),
      };
    } catch (err) {
      node.configError = localError(RED, err);
      node.error(node.configError);
    }
    node.options = () => {
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
      return {
        url,
        maxReplyBytes: limits.maxReplyBytes,
        lingerMs: limits.lingerMs,
        mode: def.mode === 'per-stream' ? 'per-stream' : 'shared',
        headers,
        protocols: (def.protocols || '').split(',').map((p) => p.trim()).filter(Boolean),
        rejectUnauthorized: def.tlsVerify !== false,
        connectTimeoutMs: limits.connectTimeoutMs,
        pingIntervalMs: limits.pingIntervalMs,
        perMessageDeflate: def.deflate === true,
        zeroMask: def.zeroMask === true,
        backoffInitialMs: limits.backoffInitialMs,
        // a maximum below the first delay would be the first delay
        backoffMaxMs: Math.max(limits.backoffMaxMs, limits.backoffInitialMs),
      };
    };
  }
  RED.nodes.registerType<Node<TargetCredentials>, TargetDef, unknown, TargetCredentials>('live-audio-ws-target', LiveAudioWsTarget, {
    credentials: { headers: { type: 'text' }, authorization: { type: 'password' }, urlSecrets: { type: 'text' } },
  });
};
