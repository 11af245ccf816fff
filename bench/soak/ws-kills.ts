/**
 * Soak part for base64-ws-out (called by bench/soak/index.ts): a real receiver process killed with
 * SIGKILL 10 times mid-stream and restarted on the same port, once with ack mode on and once
 * without (test/ws/receiver-kills.ts runs the scenario). Bounded: each run ends once its 10 kills
 * are done (well under a minute on a loaded machine; every wait inside is bounded).
 *   lostWithAck            chunks never consumed by any receiver, ack mode on (must be 0)
 *   unconfirmedWithoutAck  chunks counted unconfirmed without ack mode (maybe received, maybe not)
 *   lostWithoutAck         chunks never consumed, ack mode off
 *   silentlyLostWithoutAck lost and counted neither unconfirmed nor dropped (must be 0)
 *   chunksSent             chunks fed in both runs together
 */
import { killRun } from '../../test/ws/receiver-kills';

export async function run(): Promise<Record<string, number>> {
  const withAck = await killRun({ ack: true, kills: 10 });
  const without = await killRun({ ack: false, kills: 10 });
  return {
    chunksSent: withAck.chunksSent + without.chunksSent,
    lostWithAck: withAck.lost,
    silentlyLostWithAck: withAck.silentlyLost,
    duplicatesWithAck: withAck.duplicates,
    resentWithAck: withAck.resent,
    unconfirmedWithAck: withAck.unconfirmed,
    lostWithoutAck: without.lost,
    unconfirmedWithoutAck: without.unconfirmed,
    silentlyLostWithoutAck: without.silentlyLost,
    confirmedWithoutAck: without.confirmed,
    writtenWithoutAck: without.written,
    receiverKills: withAck.kills + without.kills,
  };
}

// alone: `node dist/bench/soak/ws-kills.js` prints the figures as one JSON line
if (require.main === module) {
  run().then(
    (r) => {
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
