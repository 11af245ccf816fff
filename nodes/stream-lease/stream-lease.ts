/**
 * stream-lease: makes this Node-RED process one worker of a cluster coordinated through an MQTT 5
 * broker. It takes start/stop requests from the broker, claims each stream it runs there, and
 * sends whep-in (dynamic) its start/stop messages; whep-in's events come back in and are published
 * as the stream's state. Glue only: the engine is lib/cluster (StreamLease).
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { StreamLease, type LeaseEvent } from '../../lib/cluster';
import { CodedError } from '../../lib/util/errors';
import { configNumber, refuseConfig } from '../shared/config';
import { localError } from '../shared/i18n';

interface StreamLeaseDef extends NodeDef {
  broker: string;
  prefix: string;
  group: string;
  workerId: string;
  maxStreams: string;
  leaseS: string;
  takeoverS: string;
}

export = function (RED: NodeAPI) {
  function StreamLeaseNode(this: Node<{ username?: string; password?: string }>, config: StreamLeaseDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    let lease: StreamLease | undefined;
    let last: LeaseEvent | undefined;

    function showStatus() {
      if (!lease) return; // an event while the engine is still being built
      const s = lease.summary();
      const load = RED._('stream-lease.status.load', { worker: s.workerId, n: s.running, max: s.maxStreams, workers: s.liveWorkers });
      if (!s.connected) return node.status({ fill: 'yellow', shape: 'ring', text: RED._('stream-lease.status.disconnected', { n: s.running }) });
      node.status({ fill: s.running >= s.maxStreams ? 'yellow' : 'green', shape: 'dot', text: s.running >= s.maxStreams ? `${load} (${RED._('stream-lease.status.full')})` : load });
    }

    try {
      lease = new StreamLease(
        {
          brokerUrl: config.broker || 'mqtt://127.0.0.1:1883',
          username: node.credentials?.username || undefined,
          password: node.credentials?.password || undefined,
          prefix: config.prefix || 'live-audio',
          group: config.group || 'workers',
          workerId: (config.workerId || '').trim() || undefined,
          maxStreams: configNumber(config, 'maxStreams', { default: 100, min: 1, max: 10_000, integer: true }),
          leaseMs: configNumber(config, 'leaseS', { default: 15, min: 3, max: 3600, integer: true }) * 1000,
          takeoverDelayMs: configNumber(config, 'takeoverS', { default: 2, min: 0, max: 3600, integer: true }) * 1000,
        },
        {
          start: (o) => node.send([{ action: 'start', stmId: o.stmId, url: o.url, traceId: o.traceId, token: o.token, topic: o.stmId, workerId: lease!.workerId, epoch: o.epoch, takeover: o.takeover } as NodeMessage, null]),
          stop: (stmId, reason) => node.send([{ action: 'stop', stmId, topic: stmId, workerId: lease!.workerId, reason } as NodeMessage, null]),
          event: (ev) => onEvent(ev),
        },
      );
      lease.open();
    } catch (err) {
      // built but not opened: nothing of it may outlive this node
      void lease?.close().catch(() => undefined);
      lease = undefined;
      refuseConfig(node, RED, err);
      return;
    }

    function onEvent(ev: LeaseEvent) {
      last = ev;
      const payload: Record<string, unknown> = { ...ev, error: undefined };
      if (ev.error) {
        const e = localError(RED, ev.error);
        payload.error = { message: e.message, code: ev.error.code };
        // a refused start or a broker error is the user's to act on; Catch nodes see it
        node.error(e, { topic: `cluster/${ev.event}`, stmId: ev.stmId, payload } as NodeMessage);
      }
      node.send([null, { topic: `cluster/${ev.event}`, stmId: ev.stmId, workerId: ev.workerId, payload } as NodeMessage]);
      showStatus();
    }
    showStatus();
    void last;

    node.on('input', (msg: NodeMessage & Record<string, unknown>, _send, done) => {
      // whep-in's second output: topic whep/<event>, payload {event, stmId, state, stats, error}
      const p = msg.payload as Record<string, unknown> | undefined;
      if (typeof msg.topic !== 'string' || !msg.topic.startsWith('whep/') || !p || typeof p !== 'object' || typeof p.event !== 'string') {
        return done(localError(RED, new CodedError('cluster.notEvent', 'stream-lease takes whep-in\'s events (its second output), topic "whep/<event>"', {})));
      }
      const stmId = p.stmId ?? msg.stmId;
      if (stmId === undefined || stmId === null) return done();
      lease?.onStreamEvent({ event: p.event, stmId: String(stmId), state: p.state as string | undefined, stats: p.stats, error: p.error as { code?: string; message: string } | undefined });
      done();
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (!lease) return done();
      lease.close().then(done, done);
    });
  }

  RED.nodes.registerType('stream-lease', StreamLeaseNode as never, { credentials: { username: { type: 'text' }, password: { type: 'password' } } });
};
