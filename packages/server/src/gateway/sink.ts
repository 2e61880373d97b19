/**
 * What a session's engine talks to. On one process every session is a local `Connection`; in a
 * cluster, the replica of a session held by another node is a `RemoteSink`, which receives
 * nothing here (its own node delivers to it from its own replica).
 */
import type { KickTypeValue } from '@presently/protocol';
import type { AppEngine } from '../engine/engine.js';
import type { Session, StatusChange } from '../engine/types.js';

export interface Sink {
  /** The node key holding the socket; '' for a session of this process. */
  readonly node: string;
  readonly remoteAddress: string;
  session: Session<Sink> | null;
  /** False once this process's socket is gone (always true for a remote session). */
  readonly open: boolean;
  deliver(change: StatusChange): void;
  kick(type: KickTypeValue): void;
  close(code: number, reason: string): void;
}

export type Engine = AppEngine<Sink>;
export type SinkSession = Session<Sink>;

/** A session held by another node of the cluster. */
export class RemoteSink implements Sink {
  session: Session<Sink> | null = null;
  readonly open = true;
  constructor(
    readonly node: string,
    readonly remoteAddress: string,
  ) {}
  deliver(): void {}
  kick(): void {}
  close(): void {}
}
