/**
 * `events`: a leaner `Event.execute` for werift (0.24), installed once per process by
 * `install()` (lib/whep/werift/index.ts).
 *
 * Why: werift passes every received datagram through three of its own `Event`s (the STUN
 * protocol's onDataReceived, the ICE connection's onData, the DTLS transport's onRtp), and each
 * `execute` calls its plain subscribers and then, always, starts an async function for its
 * "queuing" subscribers and attaches a catch to it: two promises, a closure and a microtask per
 * event per packet, although no werift path on the receive side uses queuing subscribers.
 *
 * What: werift's `Event` class is replaced, in werift's own module, by a subclass whose
 * `execute` calls the plain subscribers the same way and falls back to werift's `execute`
 * whenever queuing subscribers exist (or the switch is off), so what runs, in which order, with
 * which arguments, and which errors surface where, are unchanged. Only events created after the
 * install are affected: install it before the first peer connection (lib/whep/stream.ts does, at
 * load). If werift's Event no longer looks as expected, nothing is changed.
 * test/whep/werift/event.test.ts checks it.
 */
import path from 'node:path';

interface WeriftEvent {
  event: { stack: Array<{ execute: (...a: unknown[]) => void }>; promiseStack: unknown[] };
  ended: boolean;
  execute: (...a: unknown[]) => void;
}
type EventClass = new (...a: unknown[]) => WeriftEvent;

let eventModule: { Event: EventClass } | undefined;
let original: EventClass | undefined;
let enabled = true;

/** werift's event module, found by path: its package "exports" allow only its entry points */
function load(): { Event: EventClass } {
  if (eventModule) return eventModule;
  const file = path.join(path.dirname(require.resolve('werift')), '..', '..', 'common', 'src', 'event.js');
  let m: { Event?: EventClass };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    m = require(file) as { Event?: EventClass };
  } catch (err) {
    throw new Error(`werift's event module is not at ${file}: ${(err as Error).message}`);
  }
  if (typeof m.Event !== 'function') throw new Error(`werift's ${file} exports no Event class`);
  eventModule = m as { Event: EventClass };
  original = m.Event;
  return eventModule;
}

/** why werift's Event is not the one the lean execute mirrors, or undefined */
function mismatch(E: EventClass): string | undefined {
  try {
    const e = new E();
    if (typeof e.execute !== 'function') return 'its execute is no per-instance function';
    if (!Array.isArray(e.event?.stack) || !Array.isArray(e.event?.promiseStack)) return 'it keeps no event.stack and event.promiseStack';
    if (e.ended !== false) return 'it has no ended flag';
    return undefined;
  } catch (err) {
    return `constructing one failed: ${(err as Error).message}`;
  }
}

/** Installs the lean execute into werift (idempotent); throws why (nothing changed) if werift's Event is not shaped as expected. */
export function installLeanEvents(): void {
  const m = load();
  if (!original) throw new Error("werift's Event class was not found");
  if (m.Event !== original) return;
  const wrong = mismatch(original);
  if (wrong) throw new Error(`werift's Event changed: ${wrong}`);
  const Base = original;
  class LeanEvent extends Base {
    constructor(...a: unknown[]) {
      super(...a);
      const full = this.execute;
      this.execute = (...args: unknown[]) => {
        if (this.ended) return;
        const ev = this.event;
        if (!enabled || ev.promiseStack.length > 0) return full(...args);
        for (const item of ev.stack) item.execute(...args);
      };
    }
  }
  m.Event = LeanEvent;
}

/** Turns the lean execute off (werift's own runs) or on, also in events already created (the benchmark's A/B). */
export function setLeanEvents(on: boolean): void {
  enabled = on;
}

/** werift's own Event class (tests). */
export function weriftOriginalEvent(): EventClass | undefined {
  try {
    load();
  } catch {
    /* not found: undefined */
  }
  return original;
}
