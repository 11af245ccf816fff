/**
 * base64-ws-out: PCM messages in, one frame per chunk out to a WebSocket target (live-audio-ws-target).
 * Output 1: what the server sends back. Output 2: connection and drop events. Engine: lib/ws.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { WsSender, type ExtraField, type SenderEvent, type SenderSummary } from '../../lib/ws';
import type { DropPolicy } from '../../lib/ws';
import { configNumber, refuseConfig } from '../shared/config';
import { localError } from '../shared/i18n';
import type { WsTargetNode } from '../live-audio-ws-target/types';

interface OutDef extends NodeDef {
  target: string;
  chunkSize: number | string;
  chunkUnit: 'ms' | 'bytes';
  frameMode: 'json' | 'binary';
  fieldTraceId: string;
  fieldStmId: string;
  fieldTimestamp: string;
  fieldData: string;
  extras: Array<{ name: string; type: string; value: string }>;
  wavHeader: boolean;
  endFrame: string;
  queueSeconds: number | string;
  policy: DropPolicy;
  closePolicy: 'flush' | 'drop';
  /** ack mode: the reply field that names the last seq (or timestamp) consumed; off when false/absent */
  ack?: boolean;
  ackField?: string;
  ackBy?: 'seq' | 'timestamp';
}

const SHOW: Record<SenderSummary['state'], { fill: 'green' | 'yellow' | 'grey' | 'red'; shape: 'dot' | 'ring' }> = {
  open: { fill: 'green', shape: 'dot' },
  connecting: { fill: 'yellow', shape: 'ring' },
  reconnecting: { fill: 'red', shape: 'ring' },
  idle: { fill: 'grey', shape: 'ring' },
  closed: { fill: 'grey', shape: 'ring' },
};

export = function (RED: NodeAPI) {
  function Base64WsOut(this: Node, def: OutDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const L = (err: unknown) => localError(RED as unknown as Parameters<typeof localError>[0], err);
    const target = RED.nodes.getNode(def.target) as WsTargetNode | null;
    if (!target) {
      refuseConfig(node, RED, new Error(RED._('base64-ws-out.errors.noTarget')), RED._('base64-ws-out.status.noTarget'));
      return;
    }
    // a target that cannot run refuses here too: its own error, so the user knows which node to fix
    if (target.configError) {
      refuseConfig(node, RED, target.configError);
      return;
    }
    let sender: WsSender;
    try {
      const extra: ExtraField[] = (def.extras || []).map((e) =>
        e.type === 'msg'
          ? { name: e.name, get: (m) => (m ? RED.util.getMessageProperty(m, e.value) : undefined) }
          : { name: e.name, value: RED.util.evaluateNodeProperty(e.value, e.type, node, {}) },
      );
      const size = configNumber(def, 'chunkSize', { default: 200, min: 1, max: 3_600_000, integer: true });
      const queueMs = configNumber(def, 'queueSeconds', { default: 30, min: 0.001, max: 3600 }) * 1000;
      sender = new WsSender({
        target: { ...target.options(), queueMs, policy: def.policy || 'drop-oldest' },
        chunk: def.chunkUnit === 'bytes' ? { bytes: size } : { ms: size },
        frame: {
          mode: def.frameMode === 'binary' ? 'binary' : 'json',
          fields: { traceId: def.fieldTraceId ?? 'traceId', stmId: def.fieldStmId ?? 'stmId', timestamp: def.fieldTimestamp ?? 'timestamp', data: def.fieldData || 'data' },
          extra,
          wavHeader: def.wavHeader === true,
          endFrame: def.endFrame,
        },
        closePolicy: def.closePolicy === 'drop' ? 'drop' : 'flush',
        ack: def.ack === true ? { field: (def.ackField || '').trim() || 'ack', by: def.ackBy === 'timestamp' ? 'timestamp' : 'seq' } : undefined,
      });
    } catch (err) {
      refuseConfig(node, RED, err);
      return;
    }
    let shown = '';
    const showStatus = () => {
      const s = sender.summary();
      const text =
        RED._(`base64-ws-out.status.${s.state}`, { ...s }) +
        (s.dropped ? RED._('base64-ws-out.status.dropped', { dropped: s.dropped }) : '') +
        (s.unconfirmed ? RED._('base64-ws-out.status.unconfirmed', { unconfirmed: s.unconfirmed }) : '');
      if (text !== shown) node.status({ ...SHOW[s.state], text });
      shown = text;
    };
    const refresh = setInterval(showStatus, 500); // queue depth moves with every chunk: sample it
    showStatus();
    let warned = '';
    sender.on('status', showStatus);
    sender.on('reply', (r) => node.send([r as NodeMessage, null]));
    sender.on('event', (e: SenderEvent) => {
      const { event, stmId, traceId, topic, error, ...rest } = e;
      const payload = { event, ...rest, ...(error ? { error: L(error).message } : {}) };
      node.send([null, { topic: event, payload, ...(stmId !== undefined ? { stmId, traceId } : {}), ...(topic !== undefined ? { streamTopic: topic } : {}) } as NodeMessage]);
      // one warning per distinct failure, not one per retry; never the headers (not in the event)
      if (event === 'error' && payload.error !== warned) node.warn(RED._('base64-ws-out.errors.connection', { url: e.url, error: (warned = payload.error!) }));
      if (event === 'connected') warned = '';
      // a receiver that keeps closing right after it opens (token, quota): say why, once per streak
      if (event === 'disconnected' && e.proven === false && e.earlyCloses === 3) {
        node.warn(RED._('base64-ws-out.errors.keepsClosing', { url: e.url, code: e.code ?? '', reason: e.reason || '-' }));
      }
    });
    node.on('input', (msg, _send, done) => {
      try {
        sender.push(msg as unknown as Record<string, unknown>);
        done();
      } catch (err) {
        done(L(err));
      }
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(refresh);
      sender.close().then(done, done);
    });
  }
  RED.nodes.registerType('base64-ws-out', Base64WsOut);
};
