/**
 * A small event emitter with an optional `this` context per listener (compat.md §1). Listeners
 * are kept by any string name, as the hosted SDK takes them: a name nothing emits is kept and
 * never called. `emit` is typed by the map of the events that are emitted.
 */

/**
 * Any function, as the hosted SDK's `on(eventName: string, handler: Function)` takes it.
 * The handler is called with one argument, `{ name, data }`.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- the hosted SDK's own parameter type: apps that pass a `Function` must compile unchanged.
export type AnyHandler = Function;

interface Listener {
  fn: AnyHandler;
  ctx: unknown;
}

export class Emitter<M extends object> {
  private readonly listeners = new Map<string, Listener[]>();

  /** Adds a listener. The same (handler, context) pair twice is one listener. */
  on(name: string, fn: AnyHandler, ctx?: unknown): void {
    if (typeof fn !== 'function') throw new TypeError('handler must be a function');
    const list = this.listeners.get(name) ?? [];
    if (list.some((l) => l.fn === fn && l.ctx === ctx)) return;
    // Copy on write: an emit in progress keeps iterating its own snapshot.
    this.listeners.set(name, [...list, { fn, ctx }]);
  }

  /**
   * Removes a listener. With a context, only the listener added with that context goes; without
   * one, every listener using that handler goes (EventEmitter3 semantics).
   */
  off(name: string, fn: AnyHandler, ctx?: unknown): void {
    const list = this.listeners.get(name);
    if (!list) return;
    const kept = list.filter((l) => !(l.fn === fn && (ctx === undefined || l.ctx === ctx)));
    if (kept.length === 0) this.listeners.delete(name);
    else this.listeners.set(name, kept);
  }

  emit<K extends keyof M & string>(name: K, data: M[K]): void {
    const list = this.listeners.get(name);
    if (!list) return;
    const event = { name, data };
    for (const l of list) {
      try {
        Reflect.apply(l.fn, l.ctx, [event]);
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
