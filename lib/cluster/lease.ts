/**
 * StreamLease: one worker's part in a cluster of stream workers coordinated through an MQTT 5
 * broker. It decides which streams this worker runs and tells its owner (the node glue, which
 * passes it on to whep-in) to start and stop them; it never touches audio.
 *
 * On the broker (prefix P, default "live-audio"):
 * - P/request: start/stop requests from a dispatcher. Starts are taken through the shared
 *   subscription $share/<group>/P/request, so the broker hands each to one worker; a worker at
 *   its maximum unsubscribes (the broker does not know load) unless no other worker has room,
 *   and passes a start that still reaches it to the worker with the most room
 *   (P/worker/<id>/request), or refuses it when there is none. A stop is acted on by whichever worker gets it: it empties the stream's claim,
 *   and the worker running the stream stops it when it sees that.
 * - P/stream/<stmId> (retained): the claim: worker, epoch, since, and the request, so another
 *   worker can restart the stream. The owner stops its copy when it sees a claim that beats its
 *   own (fencing), and republishes its own when it sees a weaker one, so the retained claim ends
 *   on the winner.
 * - P/stream/<stmId>/state (retained): the owner's last whep-in event with stats.
 * - P/worker/<id> (retained): presence, capacity and load, renewed every heartbeat; the last
 *   will empties it when the worker's connection dies.
 * A worker whose record is empty, or was not renewed within the lease, is dead; after the
 * takeover delay its streams go to the live workers with room by one deterministic rule
 * (assignOrphans), which every worker computes alike, so each orphan is claimed once.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { CodedError } from '../util/errors';
import { redactUrl } from '../util/redact';
import { assignOrphans, compareClaims, parseRecord, topicLevel, type ClaimRecord, type StateRecord, type StreamRequest, type WorkerRecord } from './records';

export interface LeaseOptions {
  /** mqtt://host:port, mqtts://…, ws(s)://… */
  brokerUrl: string;
  username?: string;
  password?: string;
  /** first topic level(s) of every topic of this cluster */
  prefix?: string;
  /** shared-subscription group of the workers */
  group?: string;
  /** this worker's name; default <hostname>-<pid> */
  workerId?: string;
  /** most streams this worker runs (keep it ≤ whep-in's Max streams) */
  maxStreams?: number;
  /** a worker not renewing its record for this long is dead */
  leaseMs?: number;
  /** how long a dead worker's streams wait before others restart them */
  takeoverDelayMs?: number;
  /** MQTT keepalive, s (the broker sends the last will after 1.5 × this without a packet) */
  keepaliveS?: number;
  /** passed to MQTT.js (TLS files, …) */
  mqtt?: IClientOptions;
}

export interface StartOrder {
  stmId: string;
  url: string;
  traceId?: string;
  token?: string;
  epoch: number;
  /** restarted here because its worker died (or released it) */
  takeover: boolean;
}

export type StopReason = 'request' | 'fenced';

export interface LeaseEvent {
  event: 'connected' | 'disconnected' | 'claimed' | 'takeover' | 'stopped' | 'fenced' | 'ended' | 'forwarded' | 'refused' | 'full' | 'room' | 'error';
  workerId: string;
  stmId?: string;
  epoch?: number;
  /** for takeover: the worker that had the stream */
  from?: string;
  running: number;
  maxStreams: number;
  error?: CodedError;
}

export interface LeaseHandlers {
  start(order: StartOrder): void;
  stop(stmId: string, reason: StopReason): void;
  event(ev: LeaseEvent): void;
}

export interface LeaseSummary {
  workerId: string;
  connected: boolean;
  running: number;
  maxStreams: number;
  liveWorkers: number;
}

/** a stop request that found no claim yet: a claim arriving soon after is the stopped start */
const PENDING_STOP_MS = 1000;
/** after (re)connecting, time for the retained records to arrive before our claims are checked */
const SYNC_MS = 1000;

export class StreamLease {
  readonly workerId: string;
  readonly maxStreams: number;
  private readonly prefix: string;
  private readonly group: string;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly takeoverDelayMs: number;
  private readonly settleMs: number;
  /** tells this process's record from another process that was given the same worker id */
  private readonly instance = randomBytes(6).toString('hex');
  private client: MqttClient | undefined;
  private connected = false;
  private connectedAt = 0;
  private startedAt = new Date().toISOString();
  private shared = false;
  private closing = false;
  private warnedDuplicate = false;
  /** one broker error per outage, not one per reconnect attempt */
  private brokerErrorShown = false;
  /** the latest claim seen per stream (rebuilt from the retained ones after each connect) */
  private readonly claims = new Map<string, ClaimRecord>();
  /** live workers' records and when we last heard from each (our clock) */
  private readonly workers = new Map<string, { rec: WorkerRecord; seenAt: number }>();
  /** the streams this worker runs, with its claim on each */
  private readonly running = new Map<string, ClaimRecord>();
  private readonly orphanSince = new Map<string, number>();
  private readonly pendingStops = new Map<string, number>();
  /** claims of ours whose stream ended here (whep-in gave up): never resumed as "ours, not running" */
  private readonly ended = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];
  private syncTimer: NodeJS.Timeout | undefined;
  private announce: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: LeaseOptions,
    private readonly handlers: LeaseHandlers,
  ) {
    this.prefix = (opts.prefix ?? 'live-audio').replace(/\/+$/, '');
    if (!this.prefix || /[+#]/.test(this.prefix) || this.prefix.startsWith('$')) {
      throw new CodedError('cluster.badPrefix', `"${this.prefix}" cannot be a topic prefix: no +, # or leading $`, { prefix: this.prefix });
    }
    this.group = opts.group || 'workers';
    if (/[+#/]/.test(this.group)) throw new CodedError('cluster.badGroup', `"${this.group}" cannot be a shared-subscription group: no /, + or #`, { group: this.group });
    this.workerId = opts.workerId || `${os.hostname()}-${process.pid}`;
    this.maxStreams = Math.max(1, Math.floor(opts.maxStreams ?? 100));
    this.leaseMs = Math.max(3000, opts.leaseMs ?? 15000);
    this.heartbeatMs = Math.floor(this.leaseMs / 3);
    this.takeoverDelayMs = Math.max(0, opts.takeoverDelayMs ?? 2000);
    // other workers reconnecting after a broker restart get this long to reappear before their
    // streams count as orphans
    this.settleMs = Math.max(this.takeoverDelayMs, this.heartbeatMs);
  }

  private topic = {
    request: () => `${this.prefix}/request`,
    worker: (id: string) => `${this.prefix}/worker/${topicLevel(id)}`,
    claim: (stmId: string) => `${this.prefix}/stream/${topicLevel(stmId)}`,
    state: (stmId: string) => `${this.prefix}/stream/${topicLevel(stmId)}/state`,
  };

  /** Connects (and keeps reconnecting) to the broker. */
  open(): void {
    let url: URL;
    try {
      url = new URL(this.opts.brokerUrl);
    } catch {
      throw new CodedError('cluster.badBroker', `"${this.opts.brokerUrl}" is not a broker URL: expected mqtt://host:1883 (or mqtts, ws, wss)`, { url: this.opts.brokerUrl });
    }
    if (!/^(mqtts?|wss?|tcp|ssl):$/.test(url.protocol)) {
      throw new CodedError('cluster.badBroker', `"${this.opts.brokerUrl}" is not a broker URL: expected mqtt://host:1883 (or mqtts, ws, wss)`, { url: this.opts.brokerUrl });
    }
    const client = mqtt.connect(this.opts.brokerUrl, {
      protocolVersion: 5,
      clientId: `${this.prefix}-${this.workerId}-${this.instance}`.slice(0, 200),
      clean: true,
      keepalive: this.opts.keepaliveS ?? 10,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      // subscriptions are made again on each connect by us: the shared one depends on load
      resubscribe: false,
      username: this.opts.username || undefined,
      password: this.opts.password || undefined,
      will: { topic: this.topic.worker(this.workerId), payload: Buffer.alloc(0), qos: 1, retain: true },
      ...this.opts.mqtt,
    });
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onDisconnect());
    client.on('error', (err) => {
      if (this.brokerErrorShown || this.closing) return;
      this.brokerErrorShown = true;
      this.emit('error', { error: new CodedError('cluster.broker', `broker ${redactUrl(this.opts.brokerUrl)}: ${err.message}`, { url: redactUrl(this.opts.brokerUrl), reason: err.message }) });
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    this.timers.push(setInterval(() => this.heartbeat(), this.heartbeatMs));
    this.timers.push(setInterval(() => this.checkOrphans(), 500));
  }

  summary(): LeaseSummary {
    return { workerId: this.workerId, connected: this.connected, running: this.running.size, maxStreams: this.maxStreams, liveWorkers: this.liveWorkers().size };
  }

  /** whep-in's event for one of our streams: its state goes to the broker; 'stopped' ends the claim. */
  onStreamEvent(ev: { event: string; stmId: string; state?: string; stats?: unknown; error?: { code?: string; message: string } }): void {
    const claim = this.running.get(ev.stmId);
    if (!claim || this.closing) return;
    if (ev.event === 'stopped') {
      // whep-in ended it by itself (given up, or stopped by a message that did not come from us):
      // the stream is over, not orphaned
      this.running.delete(ev.stmId);
      this.ended.set(ev.stmId, claim.epoch);
      const latest = this.claims.get(ev.stmId);
      if (latest && latest.workerId === this.workerId && latest.epoch === claim.epoch) this.clear(ev.stmId);
      this.emit('ended', { stmId: ev.stmId, epoch: claim.epoch });
      this.afterLoadChange();
      return;
    }
    const rec: StateRecord = { stmId: ev.stmId, workerId: this.workerId, state: ev.state ?? ev.event, since: claim.since, at: new Date().toISOString(), stats: ev.stats };
    if (ev.error) rec.error = { code: ev.error.code, message: ev.error.message };
    this.publish(this.topic.state(ev.stmId), rec, true);
  }

  /**
   * Leaves the cluster: our presence record is emptied, so the others restart our streams after
   * the takeover delay (or we take them back if we return sooner, as after a redeploy). The
   * streams themselves are whep-in's to stop.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    clearTimeout(this.syncTimer);
    clearTimeout(this.announce);
    const client = this.client;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => client.end(true, {}, () => resolve()), 3000);
      const end = () =>
        client.end(false, {}, () => {
          clearTimeout(force);
          resolve();
        });
      if (this.connected) client.publish(this.topic.worker(this.workerId), Buffer.alloc(0), { qos: 1, retain: true }, end);
      else end();
    });
  }

  // --- broker connection ---

  private onConnect(): void {
    if (this.closing) return;
    this.connected = true;
    this.brokerErrorShown = false;
    this.connectedAt = Date.now();
    // the broker may have lost everything (restart without persistence): rebuild from what it has
    this.claims.clear();
    this.workers.clear();
    this.orphanSince.clear();
    this.shared = false;
    this.client!.subscribe([`${this.prefix}/worker/+`, `${this.prefix}/stream/+`, `${this.topic.worker(this.workerId)}/request`], { qos: 1 });
    this.publishWorker();
    this.updateShared();
    clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => this.resync(), SYNC_MS);
    this.emit('connected', {});
  }

  private onDisconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    this.shared = false;
    clearTimeout(this.syncTimer);
    // our streams keep running: a broker restart must not stop the audio
    if (!this.closing) this.emit('disconnected', {});
  }

  /**
   * After a (re)connect: our claims are on the broker again unless someone else's newer claim is
   * there, in which case that worker took the stream over while we were away and ours stops.
   */
  private resync(): void {
    if (!this.connected || this.closing) return;
    for (const [stmId, mine] of [...this.running]) {
      const seen = this.claims.get(stmId);
      if (seen && seen.workerId !== this.workerId && compareClaims(seen, mine) > 0) this.fence(stmId, seen);
      else if (!seen || compareClaims(seen, mine) < 0) {
        this.claims.set(stmId, mine);
        this.publish(this.topic.claim(stmId), mine, true);
      }
    }
  }

  private heartbeat(): void {
    if (this.connected) this.publishWorker();
  }

  private publishWorker(): void {
    const rec: WorkerRecord & { instance: string } = {
      workerId: this.workerId,
      maxStreams: this.maxStreams,
      running: this.running.size,
      since: this.startedAt,
      at: new Date().toISOString(),
      instance: this.instance,
    };
    this.publish(this.topic.worker(this.workerId), rec, true);
  }

  /** Load changed: the shared subscription follows room, the others learn our load soon. */
  private afterLoadChange(): void {
    this.updateShared();
    if (!this.announce && this.connected) {
      this.announce = setTimeout(() => {
        this.announce = undefined;
        if (this.connected && !this.closing) this.publishWorker();
      }, 200);
    }
  }

  /**
   * In the shared subscription while we have room, or while no other worker has any: a start
   * published when nobody is subscribed would be dropped by the broker unseen, so when the whole
   * cluster is full every worker stays in to refuse it (cluster.full) where the dispatcher sees it.
   */
  private updateShared(): void {
    if (!this.client || !this.connected || this.closing) return;
    const room = this.running.size < this.maxStreams;
    const want = room || this.roomiest() === undefined;
    if (want === this.shared) return;
    this.shared = want;
    const t = `$share/${this.group}/${this.topic.request()}`;
    if (want) this.client.subscribe(t, { qos: 1 });
    else this.client.unsubscribe(t);
    if (!room) this.emit('full', {});
    else if (this.running.size > 0) this.emit('room', {});
  }

  /** The other live worker with the most free streams by its last record, if any has room. */
  private roomiest(): string | undefined {
    const now = Date.now();
    let best: string | undefined;
    let most = 0;
    for (const [id, w] of this.workers) {
      const free = (Number(w.rec.maxStreams) || 0) - (Number(w.rec.running) || 0);
      if (now - w.seenAt < this.leaseMs && free > most) {
        best = id;
        most = free;
      }
    }
    return best;
  }

  // --- messages ---

  private onMessage(topic: string, payload: Buffer): void {
    if (this.closing) return;
    const rest = topic.startsWith(`${this.prefix}/`) ? topic.slice(this.prefix.length + 1) : undefined;
    if (rest === undefined) return;
    if (rest === 'request') return this.onRequest(payload);
    const [kind, level, extra, more] = rest.split('/');
    if (kind === 'worker' && level === topicLevel(this.workerId) && extra === 'request' && more === undefined) return this.onRequest(payload);
    if (extra !== undefined || level === undefined) return;
    let id: string;
    try {
      id = decodeURIComponent(level);
    } catch {
      return;
    }
    if (kind === 'worker') this.onWorker(id, parseRecord<WorkerRecord & { instance?: string }>(payload));
    else if (kind === 'stream') this.onClaim(id, parseRecord<ClaimRecord>(payload));
  }

  private onWorker(id: string, rec: (WorkerRecord & { instance?: string }) | undefined): void {
    if (id === this.workerId) {
      if (!rec && this.connected) {
        // the last will of a connection of ours the broker only now noticed was dead: we are alive
        this.publishWorker();
      } else if (rec?.instance && rec.instance !== this.instance && !this.warnedDuplicate) {
        this.warnedDuplicate = true;
        this.emit('error', { error: new CodedError('cluster.duplicateWorker', `another process uses the worker id "${id}": give each worker its own`, { workerId: id }) });
      }
      return;
    }
    if (!rec) this.workers.delete(id);
    else this.workers.set(id, { rec, seenAt: Date.now() });
    // whether anyone else has room decides whether a full worker stays in the shared subscription
    this.updateShared();
  }

  private onClaim(stmId: string, rec: ClaimRecord | undefined): void {
    if (!rec) {
      this.claims.delete(stmId);
      this.orphanSince.delete(stmId);
      this.ended.delete(stmId);
      if (this.running.has(stmId)) {
        this.stopLocal(stmId, 'request');
        this.publish(this.topic.state(stmId), undefined, true);
        this.emit('stopped', { stmId });
      }
      return;
    }
    rec = { ...rec, stmId };
    if (rec.workerId !== this.workerId) this.ended.delete(stmId);
    const stoppedAt = this.pendingStops.get(stmId);
    if (stoppedAt !== undefined) {
      this.pendingStops.delete(stmId);
      // the start this stop was meant for was claimed after the stop passed: stop it now
      if (Date.now() - stoppedAt < PENDING_STOP_MS) return this.clear(stmId);
    }
    const mine = this.running.get(stmId);
    if (!mine) {
      this.claims.set(stmId, rec);
      return;
    }
    if (rec.workerId === this.workerId) {
      // the echo of our claim, or an older one of ours the broker had kept
      if (rec.epoch < mine.epoch) this.publish(this.topic.claim(stmId), mine, true);
      this.claims.set(stmId, mine);
      return;
    }
    if (compareClaims(rec, mine) > 0) this.fence(stmId, rec);
    else {
      // a weaker claim (a worker that had not seen ours): it stops its copy; make ours the retained one
      this.claims.set(stmId, mine);
      this.publish(this.topic.claim(stmId), mine, true);
    }
  }

  private fence(stmId: string, winner: ClaimRecord): void {
    this.claims.set(stmId, winner);
    this.stopLocal(stmId, 'fenced');
    this.emit('fenced', { stmId, epoch: winner.epoch, from: winner.workerId });
  }

  private onRequest(payload: Buffer): void {
    const req = parseRecord<StreamRequest>(payload);
    if (!req) return this.emit('error', { error: new CodedError('cluster.badRequest', `a request on ${this.topic.request()} is not a JSON object`, { topic: this.topic.request() }) });
    const action = req.action ?? 'start';
    const stmId = req.stmId === undefined || req.stmId === null || req.stmId === '' ? undefined : String(req.stmId);
    if (action === 'stop') return this.onStop(stmId);
    if (action !== 'start') return this.emit('error', { stmId, error: new CodedError('cluster.badAction', `unknown action "${action}": use "start" or "stop"`, { action: String(action) }) });
    if (!stmId) return this.emit('error', { error: new CodedError('cluster.noStmId', 'a start request needs stmId to name the stream', {}) });
    if (typeof req.url !== 'string' || !/^https?:\/\//.test(req.url)) {
      return this.refuse(stmId, new CodedError('cluster.noUrl', `the start request of "${stmId}" needs url: the http(s) URL of its WHEP endpoint`, { stmId }));
    }
    // a repeated delivery of a start we run
    if (this.running.has(stmId)) return;
    const seen = this.claims.get(stmId);
    if (seen && seen.workerId && (seen.workerId === this.workerId || this.liveWorkers().has(seen.workerId))) {
      return this.emit('error', { stmId, error: new CodedError('cluster.alreadyRunning', `stream "${stmId}" already runs on worker "${seen.workerId}"`, { stmId, workerId: seen.workerId }) });
    }
    if (this.running.size >= this.maxStreams) {
      // on its way when we unsubscribed, or the cluster is full: straight to the worker with the
      // most room (its own topic, so it cannot be dropped for want of a subscriber), else refused
      const hops = (Number(req.hops) || 0) + 1;
      const to = this.roomiest();
      if (to === undefined || hops > this.liveWorkers().size) {
        return this.refuse(stmId, new CodedError('cluster.full', `no worker has room for stream "${stmId}" (each runs its maximum)`, { stmId }));
      }
      this.publish(`${this.topic.worker(to)}/request`, { ...req, hops }, false);
      return this.emit('forwarded', { stmId, from: to });
    }
    this.claim({ stmId, url: req.url, traceId: req.traceId === undefined ? undefined : String(req.traceId), token: req.token || undefined }, undefined);
  }

  private refuse(stmId: string, error: CodedError): void {
    const rec: StateRecord = { stmId, workerId: this.workerId, state: 'refused', since: new Date().toISOString(), at: new Date().toISOString(), error: { code: error.code, message: error.message } };
    // not retained: a refusal is news for the dispatcher, not the state of a stream
    this.publish(this.topic.state(stmId), rec, false);
    this.emit('refused', { stmId, error });
  }

  private onStop(stmId: string | undefined): void {
    const ids = stmId !== undefined ? [stmId] : [...new Set([...this.claims.keys(), ...this.running.keys()])];
    for (const id of ids) {
      if (stmId !== undefined && !this.claims.has(id) && !this.running.has(id)) this.pendingStops.set(id, Date.now());
      this.clear(id);
    }
  }

  /** Empties the stream's retained claim and state: its owner stops it on seeing that. */
  private clear(stmId: string): void {
    this.publish(this.topic.claim(stmId), undefined, true);
    this.publish(this.topic.state(stmId), undefined, true);
  }

  private claim(req: { stmId: string; url: string; traceId?: string; token?: string }, from: string | undefined): void {
    const prev = this.claims.get(req.stmId);
    const rec: ClaimRecord = { stmId: req.stmId, workerId: this.workerId, epoch: (prev?.epoch ?? 0) + 1, since: new Date().toISOString(), url: req.url };
    if (req.traceId !== undefined) rec.traceId = req.traceId;
    if (req.token) rec.token = req.token;
    this.claims.set(req.stmId, rec);
    this.running.set(req.stmId, rec);
    this.ended.delete(req.stmId);
    this.orphanSince.delete(req.stmId);
    this.publish(this.topic.claim(req.stmId), rec, true);
    this.handlers.start({ stmId: rec.stmId, url: rec.url, traceId: rec.traceId, token: rec.token, epoch: rec.epoch, takeover: from !== undefined });
    this.emit(from !== undefined ? 'takeover' : 'claimed', { stmId: rec.stmId, epoch: rec.epoch, from });
    this.afterLoadChange();
  }

  private stopLocal(stmId: string, reason: StopReason): void {
    if (!this.running.delete(stmId)) return;
    this.handlers.stop(stmId, reason);
    this.afterLoadChange();
  }

  // --- takeover ---

  private liveWorkers(): Set<string> {
    const now = Date.now();
    const live = new Set<string>([this.workerId]);
    for (const [id, w] of this.workers) if (now - w.seenAt < this.leaseMs) live.add(id);
    return live;
  }

  /** Streams whose worker is gone (or released them) go to the live workers with room. */
  private checkOrphans(): void {
    if (!this.connected || this.closing || Date.now() - this.connectedAt < this.settleMs) return;
    const now = Date.now();
    const live = this.liveWorkers();
    const due: string[] = [];
    for (const [stmId, c] of this.claims) {
      if (c.workerId === this.workerId) {
        // ours but not running: this worker restarted (same id) before anyone took them over
        if (!this.running.has(stmId)) {
          // it ended here while the broker was away, and the broker kept the claim: end it there too
          if (this.ended.get(stmId) === c.epoch) this.clear(stmId);
          else if (this.running.size < this.maxStreams) this.claim(c, this.workerId);
          else {
            // no room for it here: release it to the others
            const released: ClaimRecord = { ...c, workerId: '', epoch: c.epoch + 1 };
            this.claims.set(stmId, released);
            this.publish(this.topic.claim(stmId), released, true);
          }
        }
        continue;
      }
      if (live.has(c.workerId)) {
        this.orphanSince.delete(stmId);
        continue;
      }
      const since = this.orphanSince.get(stmId) ?? now;
      this.orphanSince.set(stmId, since);
      if (now - since >= this.takeoverDelayMs) due.push(stmId);
    }
    if (!due.length) return;
    const free = new Map<string, number>();
    for (const id of live) {
      if (id === this.workerId) free.set(id, this.maxStreams - this.running.size);
      else {
        const r = this.workers.get(id)!.rec;
        free.set(id, Math.max(0, (Number(r.maxStreams) || 0) - (Number(r.running) || 0)));
      }
    }
    for (const [stmId, w] of assignOrphans(due, free)) {
      const c = this.claims.get(stmId);
      if (w === this.workerId && c) this.claim(c, c.workerId);
    }
  }

  // --- helpers ---

  private publish(topic: string, body: unknown, retain: boolean): void {
    if (!this.client || this.closing) return;
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    this.client.publish(topic, payload, { qos: 1, retain });
  }

  private emit(event: LeaseEvent['event'], extra: Partial<LeaseEvent>): void {
    this.handlers.event({ event, workerId: this.workerId, running: this.running.size, maxStreams: this.maxStreams, ...extra });
  }
}
