/**
 * Guards lib/whep/werift/event.ts: werift's Event with the lean execute behaves as werift's own:
 * plain subscribers in order with the same arguments, queuing subscribers still awaited in turn,
 * nothing after complete(), an unsubscribed handler no longer called, and a subscriber's error
 * thrown to the caller of execute as before.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Event } from 'werift';
import '../../../lib/whep'; // installs it, as whep-in does
import { installLeanEvents, setLeanEvents, weriftOriginalEvent } from '../../../lib/whep/werift/event';
import { sleep, until } from '../../support/processes';

type Ev = { subscribe(f: (...a: unknown[]) => void): { unSubscribe(): void }; queuingSubscribe(f: (...a: unknown[]) => Promise<void>): unknown; execute(...a: unknown[]): void; complete(): void };
const make = () => new (Event as unknown as new () => Ev)();

describe('werift lean Event.execute (lib/whep/werift/event.ts)', () => {
  test("is installed: werift's Event is the lean subclass", () => {
    assert.doesNotThrow(installLeanEvents);
    const Original = weriftOriginalEvent()!;
    assert.notEqual(Event, Original);
    assert.ok(make() instanceof Original, 'still an instance of werift Event');
  });

  for (const lean of [true, false]) {
    test(`behaves as werift's own (${lean ? 'lean' : 'switched off'})`, async () => {
      setLeanEvents(lean);
      try {
        const e = make();
        const calls: string[] = [];
        e.subscribe((a, b) => calls.push(`one ${a} ${b}`));
        const two = e.subscribe((a) => calls.push(`two ${a}`));
        e.execute(1, 'x');
        assert.deepEqual(calls, ['one 1 x', 'two 1']);
        two.unSubscribe();
        e.execute(2, 'y');
        assert.deepEqual(calls.slice(2), ['one 2 y']);
        // queuing subscribers: awaited one after the other, after the plain ones
        e.queuingSubscribe(async (a) => {
          await sleep(5);
          calls.push(`q1 ${a}`);
        });
        e.queuingSubscribe(async (a) => {
          calls.push(`q2 ${a}`);
        });
        e.execute(3);
        assert.deepEqual(calls.slice(3), ['one 3 undefined']);
        await until(() => calls.length >= 6, 5000, 'the queuing subscribers');
        assert.deepEqual(calls.slice(4), ['q1 3', 'q2 3']);
        // a plain subscriber's error reaches the caller of execute
        const bad = make();
        bad.subscribe(() => {
          throw new Error('boom');
        });
        assert.throws(() => bad.execute(), /boom/);
        // nothing after complete
        e.complete();
        e.execute(4);
        // nothing may come: give a queued subscriber (were one called) time to run
        await sleep(50);
        assert.equal(calls.length, 6);
      } finally {
        setLeanEvents(true);
      }
    });
  }
});
