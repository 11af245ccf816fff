/**
 * Builds the demo's flows.json from the example flows in examples/: each example becomes a tab,
 * and the demo peers' default addresses in it are rewritten to the ports actually in use.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface DemoPorts {
  nodeRed: number;
  whep: number;
  asr: number;
  rtsp: number;
}

/** The addresses the examples use by default (they work with `npm start` as they are). */
export const DEFAULT_PORTS: DemoPorts = { nodeRed: 1880, whep: 8889, asr: 8080, rtsp: 8554 };

/** The examples `npm start` deploys, in tab order. */
export const DEMO_EXAMPLES = ['demo-listen-pipeline.json', 'tts-rtsp-out-queue-calling.json'];

type FlowNode = Record<string, unknown> & { id: string; type: string };

export function loadExample(file: string): FlowNode[] {
  const nodes = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(nodes)) throw new Error(`${file} is not a flow export (an array of nodes)`);
  return nodes as FlowNode[];
}

/** One tab per example; flow nodes moved onto it, config nodes left global. */
export function demoFlows(examplesDir: string, ports: DemoPorts, files = DEMO_EXAMPLES): FlowNode[] {
  const out: FlowNode[] = [];
  for (const file of files) {
    let text = fs.readFileSync(path.join(examplesDir, file), 'utf8');
    // the examples point at the demo peers on their default ports; follow any override
    text = text
      .replaceAll(`127.0.0.1:${DEFAULT_PORTS.whep}`, `127.0.0.1:${ports.whep}`)
      .replaceAll(`127.0.0.1:${DEFAULT_PORTS.asr}`, `127.0.0.1:${ports.asr}`)
      .replaceAll(`127.0.0.1:${DEFAULT_PORTS.rtsp}`, `127.0.0.1:${ports.rtsp}`)
      .replace(/"port"\s*:\s*"?8554"?/g, `"port": "${ports.rtsp}"`);
    const nodes = JSON.parse(text) as FlowNode[];
    let tab = nodes.find((n) => n.type === 'tab');
    if (!tab) {
      tab = { id: `demo-tab-${out.length}`, type: 'tab', label: file.replace(/\.json$/, ''), disabled: false, info: '' };
      out.push(tab);
    }
    for (const n of nodes) {
      const isFlowNode = n.type !== 'tab' && ('wires' in n || 'x' in n);
      if (isFlowNode && !n.z) n.z = tab.id;
      out.push(n);
    }
  }
  return out;
}
