/**
 * The set-up the whep-in node tests share: the compiled node, the settings every test node has,
 * a describe's werift source and Node-RED test runtime, a source for one test, and what a node
 * reported while it was deployed.
 */
import { after, afterEach, before } from 'node:test';
import { getNode, startServer, stopServer, unload } from '../support/node-red';
import { startWhepSource, type WhepSource, type WhepSourceOptions } from '../peers/whep-source';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const whepIn = require('../../nodes/whep-in/whep-in');

/** What every test node has: ICE on loopback only, 16 kHz mono in 20 ms chunks. */
export const loopbackNode = { type: 'whep-in', iceHostAddresses: '127.0.0.1', rate: '16000', channels: '1', chunkMs: 20 };

/**
 * For the tests of one describe: a source (`start`) and the Node-RED test runtime, started before
 * them; each test's flow unloaded after it (a redeploy: the node DELETEs its sessions while the
 * source still answers); the runtime, then the source (`stop`) stopped after the last. Returns the
 * source, to be read inside the tests.
 */
export function nodeSuite<S>(start: () => Promise<S>, stop: (src: S) => Promise<void>): () => S {
  let src: S | undefined;
  before(async () => {
    src = await start();
    await startServer();
  });
  afterEach(() => unload());
  after(async () => {
    await stopServer();
    if (src !== undefined) await stop(src);
  });
  return () => {
    if (src === undefined) throw new Error("the describe's source is not started: read it inside a test");
    return src;
  };
}

/** Runs `fn` with a werift source of its own; the flow is unloaded (its sessions DELETEd) before that source stops. */
export async function withSource(opts: WhepSourceOptions, fn: (src: WhepSource) => Promise<void>): Promise<void> {
  const src = await startWhepSource(opts);
  try {
    await fn(src);
  } finally {
    await unload();
    await src.stop();
  }
}

export interface Status {
  fill?: string;
  shape?: string;
  text?: string;
}

/**
 * The last status and the errors a node reported while it was created, before a test could
 * listen: read from the test helper's spies.
 */
export function deployReport(id: string): { status: Status; errors: string[] } {
  const n = getNode(id) as unknown as { status: { args: Array<[Status]> }; error: { args: unknown[][] } };
  return {
    status: n.status.args.at(-1)?.[0] ?? {},
    errors: n.error.args.map(([e]) => (e instanceof Error ? e.message : String(e))),
  };
}

/** Errors with the message they were reported for (done(err) → node.error(err, msg)), and statuses, from now on. */
export function watch(id: string) {
  const errors: Array<{ text: string; msg: Record<string, unknown> | undefined; at: number }> = [];
  const statuses: Status[] = [];
  const n = getNode(id);
  n.on('call:error', (call: { args: unknown[] }) => {
    const e = call.args[0];
    errors.push({ text: e instanceof Error ? e.message : String(e), msg: call.args[1] as Record<string, unknown> | undefined, at: Date.now() });
  });
  n.on('call:status', (call: { args: Status[] }) => statuses.push(call.args[0] ?? {}));
  return { errors, statuses };
}
