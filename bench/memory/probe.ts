/**
 * Loaded into the measured Node-RED with `--require`: when the file `<LIVE_AUDIO_MEM_PROBE>.req`
 * appears (Node-RED stops on SIGUSR2, so no signal is used) it deletes it, runs a full garbage
 * collection (the process is started with --expose-gc) and writes the process's memory and V8's
 * heap figures as JSON to the file named by LIVE_AUDIO_MEM_PROBE.
 */
import fs from 'node:fs';
import v8 from 'node:v8';

const out = process.env.LIVE_AUDIO_MEM_PROBE;
if (out) {
  setInterval(() => {
    if (!fs.existsSync(`${out}.req`)) return;
    fs.rmSync(`${out}.req`, { force: true });
    const before = process.memoryUsage();
    (globalThis as { gc?: () => void }).gc?.();
    const after = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
    fs.writeFileSync(`${out}.tmp`, JSON.stringify({ before, after, heap: v8.getHeapStatistics(), spaces }));
    fs.renameSync(`${out}.tmp`, out);
  }, 200).unref();
}
