/** The few DOM helpers the console and the demo share (no framework: see packages/console/README.md). */

/** The element with this id; throws when the page lacks it (a bug, not a user error). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

type Attrs = Record<string, string | number | boolean | undefined | null>;
type Child = Node | string | number | null | undefined | false;

/**
 * Makes an element. Attributes set with `setAttribute` (true → present, false/null/undefined →
 * absent); children are nodes or text (never parsed as HTML, so user data is always safe).
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces an element's children. */
export function fill(el: Node, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, ...children);
}

/** Shows or hides an element (the `hidden` attribute). */
export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

/** A message for people from anything thrown. */
export function errorText(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
    return `${String(err.message)} (${String(err.code)})`;
  }
  return err instanceof Error ? err.message : String(err);
}
