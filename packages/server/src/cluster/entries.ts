/**
 * The entries of an app's command log. Every node applies every entry, in log order, to its own
 * engine: all replicas go through the same states, so every rule (aggregation over sessions of
 * every node, per-user order, rate windows, the subscription FIFO) holds across the cluster as it
 * does in one process. `t` is the origin's clock, so time-based rules decide alike everywhere.
 */
import type { Platform } from '@presently/protocol';
import type { AppSettings } from '../config/settings.js';
import type { DisconnectReason } from '../engine/types.js';

/** A live session as the registry keeps it and a `sync` entry lists it. */
export interface SessionRecord {
  /** Session id (unique in the cluster: it starts with the node key). */
  s: string;
  u: string;
  p: Platform;
  /** instanceId */
  n: string;
  /** The ticket's time (S28). */
  tt: number;
  ip: string;
  /** Login time, ms. */
  t: number;
}

export type EntryBody =
  | ({ k: 'login' } & SessionRecord)
  | { k: 'logout'; s: string }
  | { k: 'disc'; s: string; r: DisconnectReason }
  /** A session of the origin ended by another entry (a kick, a newer login): registry cleanup. */
  | { k: 'gone'; s: string }
  | { k: 'custom'; s: string; v: string | null }
  | { k: 'get'; s: string; ids: string[] }
  | { k: 'sub'; s: string; ids: string[] }
  | { k: 'unsub'; s: string; ids: string[] | null }
  | { k: 'rest'; c: string; b: unknown }
  | { k: 'settings'; v: AppSettings }
  /** `node` is dead: its sessions end. */
  | { k: 'down'; node: string }
  /** `node` is leaving (SIGTERM): its sessions stay until `until`, then it is declared down. */
  | { k: 'drain'; node: string; until: number }
  /** `node`'s complete session list (after Redis came back): replicas reconcile to it. */
  | { k: 'sync'; node: string; ss: SessionRecord[] }
  /** Time passing (S10 windows, S19 expiry), appended by the leader. */
  | { k: 'tick' };

export type Entry = EntryBody & {
  /** Origin node key. */
  o: string;
  /** Origin's request number awaiting the result; 0 when nobody waits. */
  i: number;
  /** Origin's clock, ms. */
  t: number;
};
