/**
 * A StreamLease in a process of its own, for tests that freeze a worker (SIGSTOP) or kill it:
 *   node dist/test/cluster/lease-worker-cli.js '<LeaseOptions as JSON>'
 * Prints one JSON line per start, stop and lease event: {"ev":"start"|"stop"|"event", …}.
 */
import { StreamLease } from '../../lib/cluster';

const lease = new StreamLease(JSON.parse(process.argv[2] ?? '{}'), {
  start: (o) => out({ ev: 'start', stmId: o.stmId, epoch: o.epoch, takeover: o.takeover }),
  stop: (stmId, reason) => out({ ev: 'stop', stmId, reason }),
  event: (e) => out({ ev: 'event', event: e.event, stmId: e.stmId, error: e.error?.code }),
});
function out(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ...o, at: Date.now() }) + '\n');
}
lease.open();
const stop = () => void lease.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
