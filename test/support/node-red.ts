/**
 * Node-RED node tests through node-red-node-test-helper (the Node-RED of test/support/which-node-red:
 * the devDependency, or the one LIVE_AUDIO_NODE_RED names; real flows, real message passing),
 * wrapped in promises for node:test.
 */
import { nodeRedMain } from './which-node-red';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const helper = require('node-red-node-test-helper');

helper.init(nodeRedMain);

export interface TestNode {
  id: string;
  type: string;
  on(event: string, cb: (...args: any[]) => void): void;
  receive(msg: Record<string, unknown>): void;
  status?: (...args: unknown[]) => void;
  [key: string]: any;
}

// NodeDef factories are the compiled dist/nodes/<type>/<type>.js modules
export type NodeModule = (RED: unknown) => void;

export async function startServer(): Promise<void> {
  await new Promise<void>((resolve) => helper.startServer(resolve));
}

export async function stopServer(): Promise<void> {
  await new Promise<void>((resolve) => helper.stopServer(resolve));
}

export async function load(nodes: NodeModule | NodeModule[], flow: unknown[], credentials?: Record<string, unknown>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    try {
      helper.load(nodes, flow, credentials ?? {}, () => resolve());
    } catch (err) {
      reject(err);
    }
  });
}

/** Stops the flow (closing every node, as a redeploy does) and clears it. */
export async function unload(): Promise<void> {
  await helper.unload();
}

export function getNode(id: string): TestNode {
  const n = helper.getNode(id);
  if (!n) throw new Error(`no node with id ${id} in the test flow`);
  return n as TestNode;
}

/** Collects the messages a helper node receives. */
export function collect(id: string): Array<Record<string, any>> {
  const got: Array<Record<string, any>> = [];
  getNode(id).on('input', (msg: Record<string, any>) => got.push(msg));
  return got;
}

export { until } from './processes';

/**
 * Collects the messages of the errors a node reports through done(err) or node.error(err, msg),
 * which is what Catch nodes see. Call before sending input.
 */
export function collectErrors(id: string): string[] {
  const got: string[] = [];
  getNode(id).on('call:error', (call: { args: unknown[] }) => {
    const e = call.args[0];
    got.push(e instanceof Error ? e.message : String(e));
  });
  return got;
}

export { helper };
export { nodeRedMain, coreNodesDir, nodeRedVersion } from './which-node-red';
