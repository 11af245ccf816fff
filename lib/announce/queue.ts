/**
 * The announcement queue: higher `priority` first, arrival order among equals. Small (tens of
 * items), so a sorted array is simplest and fastest.
 */
export interface Queued {
  priority: number;
  /** arrival order, set by the queue */
  seq: number;
}

export class PriorityQueue<T extends Queued> {
  private items: T[] = [];
  private nextSeq = 0;

  get length(): number {
    return this.items.length;
  }

  /** Adds an item (assigning its arrival order) and returns its 0-based position. */
  push(item: Omit<T, 'seq'> & { seq?: number }): number {
    const it = item as T;
    if (it.seq === undefined || it.seq < 0) it.seq = this.nextSeq++;
    return this.insert(it);
  }

  /** Puts back an item that already had its place (e.g. an announcement cut off mid-way). */
  restore(item: T): number {
    return this.insert(item);
  }

  peek(): T | undefined {
    return this.items[0];
  }

  shift(): T | undefined {
    return this.items.shift();
  }

  remove(item: T): boolean {
    const i = this.items.indexOf(item);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  /** Removes and returns every item, in queue order. */
  clear(): T[] {
    const all = this.items;
    this.items = [];
    return all;
  }

  /** The items in play order (a copy). */
  toArray(): T[] {
    return [...this.items];
  }

  find(pred: (t: T) => boolean): T | undefined {
    return this.items.find(pred);
  }

  private insert(it: T): number {
    // first position whose item comes after `it`
    let i = this.items.findIndex((x) => x.priority < it.priority || (x.priority === it.priority && x.seq > it.seq));
    if (i < 0) i = this.items.length;
    this.items.splice(i, 0, it);
    return i;
  }
}
