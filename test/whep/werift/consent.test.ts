/**
 * lib/whep/werift-consent.ts reads werift's ICE consent counters (never changes them): unanswered
 * checks are counted from the last answer, the check still awaiting its answer is not, and a
 * werift without those counters gives no probe (whep-in then relies on werift's own 30 s expiry).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RTCPeerConnection } from 'werift';
import { watchConsent } from '../../../lib/whep/werift/consent';

test('consent probe: counts unanswered checks since the last answer; none for a werift of another shape', () => {
  const pair = { consentRequestsSent: 3, responsesReceived: 3 };
  const pc = { iceTransports: [{ connection: { nominated: pair } }] } as unknown as RTCPeerConnection;
  const probe = watchConsent(pc, 1500)!;
  assert.ok(probe);
  assert.equal(probe(0), 0);
  pair.consentRequestsSent = 4; // sent, answer not yet due
  assert.equal(probe(5000), 0);
  assert.equal(probe(6600), 1, 'unanswered once its answer is overdue');
  pair.consentRequestsSent = 5;
  assert.equal(probe(10_000), 1, 'the new one is still pending');
  assert.equal(probe(11_600), 2);
  pair.responsesReceived = 4; // the server answers again
  assert.equal(probe(11_700), 0);
  assert.equal(watchConsent({} as unknown as RTCPeerConnection), undefined);
  assert.equal(watchConsent({ iceTransports: [{ connection: { nominated: { rtt: 1 } } }] } as unknown as RTCPeerConnection), undefined);
  const throwing = { get iceTransports() { throw new Error('changed'); } } as unknown as RTCPeerConnection;
  assert.equal(watchConsent(throwing), undefined);
});
