/**
 * Cluster v2, fan-out by interest (docs/cluster.md, "Cluster v2"): a node subscribes to the
 * sharded channel of each user its own sessions must hear (themselves, their subscriptions,
 * their friends under auto-notify), once however many of its sessions watch that user, and only
 * while one does. A change then crosses Redis once per interested node, never to the others.
 *
 * Messages carry the user's announcement number `n` (records.ts): a number at or below the last
 * one seen on the channel is a repeat and is dropped; one further ahead than the next means
 * messages were missed (a reconnection): `onGap` tells the owner of the view to read the record.
 */
import type { RedisClient } from '../redis.js';

export interface InterestMessage {
  channel: string;
  /** The user's announcement number. */
  n: number;
  body: string;
}

export interface InterestHandlers {
  /** A change, in the order of `n`, at most once. */
  message(m: InterestMessage): void;
  /** Messages of `channel` between the last seen and `n` never arrived: read the record again. */
  gap(channel: string, lastSeen: number, n: number): void;
  /** The subscriber connection came back: anything may have been missed on every channel. */
  reconnected?(): void;
}

interface ChannelState {
  refs: number;
  /** Last announcement number seen (or read); -1 until known. */
  last: number;
  /** Resolves once Redis confirmed the subscription. */
  ready: Promise<void>;
}

export class Interest {
  private readonly channels = new Map<string, ChannelState>();
  private connectedOnce = false;
  /** Messages delivered, repeats dropped and gaps found (for tests and metrics). */
  readonly counters = { messages: 0, repeats: 0, gaps: 0 };

  constructor(
    private readonly sub: RedisClient,
    private readonly handlers: InterestHandlers,
  ) {
    sub.on('smessage', (channel: string, message: string) => this.onMessage(channel, message));
    sub.on('ready', () => {
      if (this.connectedOnce) this.handlers.reconnected?.();
      this.connectedOnce = true;
    });
  }

  /** How many channels this node listens to. */
  get size(): number {
    return this.channels.size;
  }

  has(channel: string): boolean {
    return this.channels.has(channel);
  }

  /**
   * One more local reason to hear `channel`; subscribes on the first. Resolves once Redis
   * confirmed it: a record read after that misses no change.
   */
  add(channel: string): Promise<void> {
    const st = this.channels.get(channel);
    if (st) {
      st.refs++;
      return st.ready;
    }
    const ready = this.sub.ssubscribe(channel).then(() => undefined);
    this.channels.set(channel, { refs: 1, last: -1, ready });
    return ready;
  }

  /** One reason less; unsubscribes after the last. */
  async remove(channel: string): Promise<void> {
    const st = this.channels.get(channel);
    if (!st) return;
    if (--st.refs > 0) return;
    this.channels.delete(channel);
    await st.ready.catch(() => undefined);
    // Re-added while the subscription was being confirmed: keep it.
    if (this.channels.has(channel)) return;
    await this.sub.sunsubscribe(channel);
  }

  /** The record was read at announcement `n`: older messages still in flight are repeats. */
  known(channel: string, n: number): void {
    const st = this.channels.get(channel);
    if (st && n > st.last) st.last = n;
  }

  /** Redis lost its data: announcement numbers start again, so the last ones seen mean nothing. */
  forgetNumbers(): void {
    for (const st of this.channels.values()) st.last = -1;
  }

  /** The channels listened to. */
  list(): string[] {
    return [...this.channels.keys()];
  }

  /** Resolves once a message numbered `n` or later was seen on `channel` (or the channel is dropped). */
  reached(channel: string, n: number): Promise<void> {
    if (this.last(channel) >= n || !this.channels.has(channel)) return Promise.resolve();
    return new Promise((resolve) => this.reachWaiters.push({ channel, n, resolve }));
  }

  private reachWaiters: Array<{ channel: string; n: number; resolve: () => void }> = [];

  /** The last announcement number seen or read on `channel` (-1: none yet). */
  last(channel: string): number {
    return this.channels.get(channel)?.last ?? -1;
  }

  async close(): Promise<void> {
    this.channels.clear();
    this.sub.disconnect();
  }

  private onMessage(channel: string, message: string): void {
    const st = this.channels.get(channel);
    if (!st) return;
    const space = message.indexOf(' ');
    const n = Number(message.slice(0, space));
    if (!Number.isSafeInteger(n) || space < 0) return;
    if (n <= st.last) {
      this.counters.repeats++;
      return;
    }
    if (st.last >= 0 && n > st.last + 1) {
      this.counters.gaps++;
      this.handlers.gap(channel, st.last, n);
    }
    st.last = n;
    this.counters.messages++;
    this.handlers.message({ channel, n, body: message.slice(space + 1) });
    if (this.reachWaiters.length > 0) {
      const still = [];
      for (const w of this.reachWaiters) {
        if (w.channel === channel && n >= w.n) w.resolve();
        else still.push(w);
      }
      this.reachWaiters = still;
    }
  }
}
