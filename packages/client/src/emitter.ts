/** A small typed event emitter with an optional `this` context per listener (compat.md §1). */

type StoredHandler = (this: unknown, event: never) => void;
interface Listener {
  fn: StoredHandler;
  ctx: unknown;
}

export class Emitter<M extends object> {
  private readonly listeners = new Map<keyof M, Listener[]>();

  /** Adds a listener. The same (handler, context) pair twice is one listener. */
  on<K extends keyof M, C>(name: K, fn: (this: C, event: { name: K; data: M[K] }) => void, ctx?: C): void {
    if (typeof fn !== 'function') throw new TypeError('handler must be a function');
    const stored = fn as unknown as StoredHandler;
    const list = this.listeners.get(name) ?? [];
    if (list.some((l) => l.fn === stored && l.ctx === ctx)) return;
    // Copy on write: an emit in progress keeps iterating its own snapshot.
    this.listeners.set(name, [...list, { fn: stored, ctx }]);
  }

  /**
   * Removes a listener. With a context, only the listener added with that context goes; without
   * one, every listener using that handler goes (EventEmitter3 semantics).
   */
  off<K extends keyof M, C>(name: K, fn: (this: C, event: { name: K; data: M[K] }) => void, ctx?: C): void {
    const list = this.listeners.get(name);
    if (!list) return;
    const stored = fn as unknown as StoredHandler;
    const kept = list.filter((l) => !(l.fn === stored && (ctx === undefined || l.ctx === ctx)));
    if (kept.length === 0) this.listeners.delete(name);
    else this.listeners.set(name, kept);
  }

  emit<K extends keyof M>(name: K, data: M[K]): void {
    const list = this.listeners.get(name);
    if (!list) return;
    const event = { name, data };
    for (const l of list) {
      try {
        l.fn.call(l.ctx, event as never);
      } catch (err) {
        // A throwing handler must not leave the SDK half-way through a state change; the error
        // still surfaces (uncaught, as if the handler had been called from a timer).
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
