/**
 * A leaner `Event.execute` for werift (0.24), installed once per process.
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
 * test/whep/werift-event.test.ts checks it.
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

function load(): { Event: EventClass } | undefined {
  if (eventModule) return eventModule;
  try {
    // werift's package "exports" allow only its entry points: reach the module by file path
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    eventModule = require(path.join(path.dirname(require.resolve('werift')), '..', '..', 'common', 'src', 'event.js')) as { Event: EventClass };
    original = eventModule.Event;
    return eventModule;
  } catch {
    return undefined;
  }
}

function looksRight(E: EventClass): boolean {
  try {
    const e = new E();
    return typeof e.execute === 'function' && Array.isArray(e.event?.stack) && Array.isArray(e.event?.promiseStack) && e.ended === false;
  } catch {
    return false;
  }
}

/** Installs the lean execute into werift (idempotent); false (nothing changed) if werift's Event is not shaped as expected. */
export function installLeanEvents(): boolean {
  const m = load();
  if (!m || !original) return false;
  if (m.Event !== original) return true;
  if (!looksRight(original)) return false;
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
  return true;
}

/** Turns the lean execute off (werift's own runs) or on, also in events already created (the benchmark's A/B). */
export function setLeanEvents(on: boolean): void {
  enabled = on;
}

/** werift's own Event class (tests). */
export function weriftOriginalEvent(): EventClass | undefined {
  load();
  return original;
}
