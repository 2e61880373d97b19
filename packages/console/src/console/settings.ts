/**
 * The settings form: reads presently/get_app_settings, sends only what changed to
 * presently/set_app_settings, and shows the server's refusal next to the field it names
 * ("Settings.limits.maxQueryIDs: must be an integer from 1 to 10000").
 */
import { byId, errorText, fill, h, show } from '../lib/dom.js';
import { clock, dateTime } from '../lib/status.js';
import { RestError, callRest, type Credentials, type Reply } from './rest.js';

type Obj = Record<string, unknown>;

interface WebhookView {
  url: string;
  timeoutMs: number;
  maxAttempts: number;
  HasSecret: boolean;
}

/** Labels of the limits (the heartbeat timeout has its own place); unknown ones show their key. */
const LIMIT_LABELS: Readonly<Record<string, [string, boolean]>> = {
  maxQueryIDs: ['IDs per status query', false],
  maxSubscribeIDsPerCall: ['IDs per subscribe call', false],
  maxSubscriptions: ['Subscriptions per user', false],
  rateLimitCalls: ['Calls per window', false],
  rateLimitWindowSec: ['Rate-limit window (s)', true],
  subscriptionExpiryHours: ['Subscription expiry (h)', true],
  customStatusMaxBytes: ['Custom status bytes', false],
  maxFriends: ['Friends per user', false],
  announceWindowSec: ['Announce window (s, 0 = off)', true],
};

function get(o: Obj, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Obj)[k] : undefined;
  return cur;
}

function put(o: Obj, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = o;
  for (const k of keys.slice(0, -1)) cur = (cur[k] ??= {}) as Obj;
  cur[keys[keys.length - 1]!] = value;
}

type Field = HTMLInputElement | HTMLSelectElement;

class LocalError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export class SettingsView {
  private loaded: Obj | null = null;
  private readonly form = byId<HTMLFormElement>('settings-form');
  private readonly error = byId('settings-error');
  private readonly ok = byId('settings-ok');
  private readonly updated = byId('settings-updated');
  private readonly removeSecret = byId<HTMLInputElement>('s-wh-remove');
  private busy = false;

  constructor(
    private readonly creds: () => Credentials,
    private readonly onRestError: (err: unknown) => boolean,
  ) {
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.save();
    });
    byId('settings-discard').addEventListener('click', () => {
      if (this.loaded) this.populate(this.loaded);
      this.message('', 'Changes discarded.');
    });
    byId('settings-reset').addEventListener('click', () => void this.reset());
    byId<HTMLSelectElement>('s-policy').addEventListener('change', () => this.policyFields());
    this.form.addEventListener('input', (e) => {
      const t = e.target as HTMLElement;
      if (t.getAttribute('aria-invalid') === 'true') t.removeAttribute('aria-invalid');
    });
  }

  private fields(): Field[] {
    return Array.from(this.form.querySelectorAll<Field>('[data-path]'));
  }

  private message(error: string, ok = ''): void {
    this.error.textContent = error;
    this.ok.textContent = ok;
  }

  async load(): Promise<boolean> {
    try {
      const r = await callRest(this.creds(), 'presently/get_app_settings');
      this.apply(r);
      return true;
    } catch (err) {
      if (!this.onRestError(err)) this.message(`Could not read the settings: ${errorText(err)}`);
      return false;
    }
  }

  private apply(r: Reply): void {
    this.loaded = r.Settings as Obj;
    this.populate(this.loaded);
    const at = r.UpdatedAt as number;
    const stored = Object.keys((r.StoredChanges as Obj) ?? {});
    this.updated.textContent = at ? `Last changed ${dateTime(at)}; values changed at run time: ${stored.join(', ') || 'none'}.` : 'All values come from the config file.';
  }

  private populate(s: Obj): void {
    const grid = byId('limits-grid');
    const limits = (s.limits ?? {}) as Obj;
    fill(
      grid,
      ...Object.keys(limits)
        .filter((k) => k !== 'heartbeatTimeoutSec')
        .map((k) => {
          const [label, fractional] = LIMIT_LABELS[k] ?? [k, true];
          const id = `s-limit-${k}`;
          return h(
            'div',
            { class: 'field' },
            h('label', { for: id }, label),
            h('input', { id, type: 'number', min: 0, step: fractional ? 'any' : 1, 'data-path': `limits.${k}`, 'data-kind': 'number' }),
          );
        }),
    );
    const wh = s.webhook as WebhookView | null;
    for (const f of this.fields()) {
      f.removeAttribute('aria-invalid');
      const path = f.dataset.path!;
      const kind = f.dataset.kind;
      const v = get(s, path);
      if (kind === 'bool') (f as HTMLInputElement).checked = v === true;
      else if (kind === 'secret') {
        f.value = '';
        (f as HTMLInputElement).placeholder = wh?.HasSecret ? '•••••• (set; type to replace)' : 'none';
      } else f.value = typeof v === 'string' || typeof v === 'number' ? String(v) : '';
    }
    this.removeSecret.checked = false;
    show(byId('s-wh-remove-label'), wh?.HasSecret === true);
    this.policyFields();
  }

  private policyFields(): void {
    const multi = byId<HTMLSelectElement>('s-policy').value === 'multi';
    for (const el of Array.from(this.form.querySelectorAll<HTMLElement>('[data-when-multi]'))) show(el, multi);
  }

  /** The change: only values that differ from what was read. */
  private patch(): Obj {
    const s = this.loaded ?? {};
    const patch: Obj = {};
    const wh: Obj = {};
    const loadedWh = s.webhook as WebhookView | null;
    for (const f of this.fields()) {
      const path = f.dataset.path!;
      const kind = f.dataset.kind;
      const before = get(s, path);
      let value: unknown;
      if (kind === 'bool') value = (f as HTMLInputElement).checked;
      else if (kind === 'number') {
        if ((f as HTMLInputElement).validity.badInput) throw new LocalError(path, `Settings.${path}: must be a number`);
        value = f.value.trim() === '' ? null : Number(f.value);
      } else if (kind === 'secret') {
        if (f.value !== '') wh.secret = f.value;
        continue;
      } else value = f.value.trim();
      if (path.startsWith('webhook.')) {
        const key = path.slice('webhook.'.length);
        if (value === (before ?? null) || (value === '' && before === undefined)) continue;
        wh[key] = value;
        continue;
      }
      if (value === (before ?? null)) continue;
      put(patch, path, value);
    }
    const url = byId<HTMLInputElement>('s-wh-url').value.trim();
    if (url === '') {
      if (loadedWh) patch.webhook = null;
    } else {
      if (this.removeSecret.checked) wh.secret = null;
      if (!loadedWh) wh.url = url;
      if (Object.keys(wh).length > 0) patch.webhook = wh;
    }
    return patch;
  }

  private markInvalid(message: string): void {
    const m = /^Settings\.([A-Za-z0-9_.]+)/.exec(message);
    if (!m) return;
    const field = this.fields().find((f) => f.dataset.path === m[1]);
    if (!field) return;
    field.setAttribute('aria-invalid', 'true');
    field.setAttribute('aria-errormessage', 'settings-error');
    field.focus();
  }

  private async save(): Promise<void> {
    if (this.busy) return;
    let patch: Obj;
    try {
      patch = this.patch();
    } catch (err) {
      this.message(err instanceof Error ? err.message : String(err));
      if (err instanceof LocalError) this.markInvalid(err.message);
      return;
    }
    const changed = Object.keys(patch);
    if (changed.length === 0) {
      this.message('', 'Nothing to save: no value changed.');
      return;
    }
    this.busy = true;
    this.message('', 'Saving…');
    try {
      const r = await callRest(this.creds(), 'presently/set_app_settings', { Settings: patch });
      this.apply(r);
      this.message('', `Saved at ${clock(Date.now())}: ${describe(patch)}.`);
    } catch (err) {
      if (!this.onRestError(err)) {
        this.message(err instanceof RestError ? `Not saved (${err.code}): ${err.message}` : `Not saved: ${errorText(err)}`);
        this.markInvalid(err instanceof Error ? err.message : '');
      }
    } finally {
      this.busy = false;
    }
  }

  private async reset(): Promise<void> {
    if (!confirm('Forget every change made here and go back to the config file’s settings?')) return;
    try {
      const r = await callRest(this.creds(), 'presently/reset_app_settings');
      this.apply(r);
      this.message('', `Reset to the config file at ${clock(Date.now())}.`);
    } catch (err) {
      if (!this.onRestError(err)) this.message(`Not reset: ${errorText(err)}`);
    }
  }
}

/** "userStatus.queryAndNotify, limits.maxQueryIDs" */
function describe(patch: Obj, prefix = ''): string {
  const out: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v && typeof v === 'object' && k !== 'webhook') out.push(describe(v as Obj, `${prefix}${k}.`));
    else out.push(`${prefix}${k}`);
  }
  return out.join(', ');
}
