/** How both pages show a status: a word and a badge (never colour alone). */

export const STATUS_WORDS: Readonly<Record<number, string>> = Object.freeze({
  0: 'Unknown',
  1: 'Online',
  2: 'Offline',
  3: 'Not logged in',
});

export function statusWord(statusType: number): string {
  return STATUS_WORDS[statusType] ?? `Status ${statusType}`;
}

/** `<span class="badge s1">Online</span>` */
export function badge(statusType: number): HTMLSpanElement {
  const el = document.createElement('span');
  el.className = `badge s${[0, 1, 2, 3].includes(statusType) ? statusType : 0}`;
  el.textContent = statusWord(statusType);
  return el;
}

/** 13:04:05 (local time). */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** 13:04:05 today, else 2025-01-31 13:04:05 (local time); '' for 0. */
export function dateTime(ms: number): string {
  if (!ms) return '';
  const d = new Date(ms);
  if (d.toDateString() === new Date().toDateString()) return clock(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${clock(ms)}`;
}
