/**
 * tts-rtsp-out in node-red-node-test-helper's runtime, as the node test files use it: the runtime
 * for the whole file, and a flow of the node (`tts`) wired to a helper node (`out`).
 */
import { after, before } from 'node:test';
import { startServer, stopServer, unload } from '../support/node-red';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const ttsNode = require('../../nodes/tts-rtsp-out/tts-rtsp-out');

/** Starts the test runtime before the file's tests, and unloads the last flow and stops it after. */
export function ttsNodeRuntime(): void {
  before(() => startServer());
  after(async () => {
    await unload();
    await stopServer();
  });
}

/** The node serving on 127.0.0.1 (any free port unless `extra` names one), embedded engine, no chime. */
export function ttsFlow(extra: Record<string, unknown>): Array<Record<string, unknown>> {
  return [
    { id: 'tts', type: 'tts-rtsp-out', mode: 'serve', host: '127.0.0.1', port: '0', path: 'announce', codec: 'opus', engine: 'embedded', chime: 'none', wires: [['out']], ...extra },
    { id: 'out', type: 'helper' },
  ];
}
