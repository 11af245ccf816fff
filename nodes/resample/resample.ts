/**
 * `resample` node: Node-RED glue around lib/resample's ResampleStreams (config -> engine,
 * msg -> engine -> msgs, status, close). Everything else lives in the engine.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { Mix, OutChannels, Quality } from '../../lib/resample';
import { ResampleStreams } from '../../lib/resample';
import { configNumber, refuseConfig } from '../shared/config';
import { localError } from '../shared/i18n';

interface ResampleDef extends NodeDef {
  outRate: string | number;
  outChannels: string;
  mix: Mix;
  quality: Quality;
  idleTimeout: string | number;
}

/** 48000 -> "48k", 44100 -> "44.1k", 8000 -> "8k" */
function khz(rate: number): string {
  return `${Math.round(rate / 100) / 10}k`;
}

export = function (RED: NodeAPI) {
  function ResampleNode(this: Node, config: ResampleDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    let streams: ResampleStreams;
    try {
      streams = new ResampleStreams({
        outRate: configNumber(config, 'outRate', { default: 16000, min: 8000, max: 192000, integer: true }),
        outChannels: (config.outChannels === 'same' ? 'same' : Number(config.outChannels || 1)) as OutChannels,
        mix: config.mix || 'average',
        quality: config.quality || 'standard',
        idleMs: configNumber(config, 'idleTimeout', { default: 60, min: 0, max: 86400 }) * 1000,
        // a stream that went quiet without `complete`: its filter tail still goes out
        onIdleTail: (msg) => {
          node.send(msg as NodeMessage);
          showStatus();
        },
      });
    } catch (err) {
      refuseConfig(node, RED, err);
      return;
    }
    // what the status shows, as a key compared on every message: translating the text (RED._,
    // i18next) for every message was 12 % of a Node-RED process's time in bench/whep --node-red,
    // as much as decoding the Opus, for a status that changes only when a stream comes or goes
    let shown: [number, number, number] | undefined;
    function showStatus(): void {
      const c = streams.lastConversion;
      const from = c ? c.from.rate : 0;
      const to = c ? c.to.rate : 0;
      if (shown && shown[0] === streams.size && shown[1] === from && shown[2] === to) return;
      shown = [streams.size, from, to];
      const text =
        streams.size === 0 && !c
          ? RED._('resample.status.idle')
          : RED._('resample.status.streams', { count: streams.size, from: c ? khz(c.from.rate) : '', to: c ? khz(c.to.rate) : '' });
      node.status({ fill: streams.size ? 'green' : 'grey', shape: streams.size ? 'dot' : 'ring', text });
    }
    showStatus();

    node.on('input', (msg, send, done) => {
      let out: NodeMessage[];
      try {
        out = streams.handle(msg as unknown as Record<string, unknown>) as NodeMessage[];
      } catch (err) {
        done(localError(RED, err));
        return;
      }
      for (const m of out) send(m);
      showStatus();
      done();
    });

    node.on('close', (done: () => void) => {
      streams.close();
      node.status({});
      done();
    });
  }
  RED.nodes.registerType('resample', ResampleNode);
};
