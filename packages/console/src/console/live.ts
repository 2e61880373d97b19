/**
 * The live view: counts per status, a searchable user list (presently/list_users) and a feed of
 * every status change (the admin stream). A change updates its row at once; the counts and the
 * list's devices are read again at most a few times a second.
 */
import type { StatusCounts, UserStatusInfo } from '@presently/protocol';
import { byId, errorText, fill, h, show } from '../lib/dom.js';
import { badge, clock, dateTime } from '../lib/status.js';
import { callRest, type Credentials } from './rest.js';
import { AdminStream, type StreamState } from './stream.js';

interface DeviceRow {
  platform: string;
  online: boolean;
  since: number;
}
interface UserRow {
  userID: string;
  statusType: number;
  customStatus: string;
  nick: string;
  devices: DeviceRow[];
}

const PAGE = 50;
const FEED_MAX = 100;
const REFRESH_MS = 400;

export class LiveView {
  private stream: AdminStream | null = null;
  private rows = new Map<string, HTMLTableRowElement>();
  private next = '';
  private loaded = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private searchTimer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped by every new search: answers to older ones are dropped. */
  private searchSeq = 0;
  private readonly el = {
    state: byId('stream-state'),
    online: byId('count-online'),
    offline: byId('count-offline'),
    unlogined: byId('count-unlogined'),
    q: byId<HTMLInputElement>('q'),
    filter: byId<HTMLSelectElement>('status-filter'),
    body: byId('users-body'),
    empty: byId('users-empty'),
    error: byId('users-error'),
    more: byId<HTMLButtonElement>('users-more'),
    feed: byId('feed'),
    feedEmpty: byId('feed-empty'),
  };

  constructor(
    private readonly creds: () => Credentials,
    private readonly onRestError: (err: unknown) => boolean,
  ) {
    byId<HTMLFormElement>('user-search').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.search();
    });
    this.el.q.addEventListener('input', () => {
      if (this.searchTimer) clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => void this.search(), 250);
    });
    this.el.filter.addEventListener('change', () => void this.search());
    this.el.more.addEventListener('click', () => void this.loadMore());
  }

  /** Starts for the signed-in admin: empty feed, fresh counts and list, a new stream. */
  start(): void {
    fill(this.el.feed);
    show(this.el.feedEmpty, true);
    for (const el of [this.el.online, this.el.offline, this.el.unlogined]) el.textContent = '–';
    void this.search();
    void this.refreshCounts();
    this.stream = new AdminStream(this.creds(), {
      onState: (s, detail) => this.showState(s, detail),
      onStart: (c) => this.showCounts(c),
      onChanges: (list) => this.onChanges(list),
    });
    this.stream.start();
  }

  stop(): void {
    this.stream?.stop();
    this.stream = null;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.searchTimer) clearTimeout(this.searchTimer);
  }

  private showState(s: StreamState, detail: string): void {
    const words: Record<StreamState, string> = {
      connecting: 'Connecting…',
      live: 'Live',
      reconnecting: 'Reconnecting…',
      refused: `Stream refused: ${detail}`,
      stopped: 'Stopped',
    };
    this.el.state.textContent = words[s];
    this.el.state.className = `pill ${s === 'live' ? 'live' : s === 'refused' ? 'down' : ''}`;
  }

  private showCounts(c: StatusCounts): void {
    this.el.online.textContent = String(c.online);
    this.el.offline.textContent = String(c.offline);
    this.el.unlogined.textContent = String(c.unlogined);
  }

  private async refreshCounts(): Promise<void> {
    try {
      const r = await callRest(this.creds(), 'presently/get_status_counts');
      this.showCounts(r.Counts as StatusCounts);
    } catch (err) {
      this.onRestError(err);
    }
  }

  // ---- the user list -------------------------------------------------------------------------

  private query(after: string, limit: number): Record<string, unknown> {
    const q: Record<string, unknown> = { Limit: limit };
    const prefix = this.el.q.value.trim();
    if (prefix) q.Prefix = prefix;
    if (this.el.filter.value) q.Status = this.el.filter.value;
    if (after) q.After = after;
    return q;
  }

  /** Reads the list again from its start; `keep` rows as many as are shown now (a refresh). */
  private async search(keep = false): Promise<void> {
    const seq = ++this.searchSeq;
    const limit = keep ? Math.min(200, Math.max(PAGE, this.loaded)) : PAGE;
    try {
      const r = await callRest(this.creds(), 'presently/list_users', this.query('', limit));
      if (seq !== this.searchSeq) return;
      this.rows.clear();
      this.loaded = 0;
      fill(this.el.body);
      this.addRows(r.Users as UserRow[], r.Next as string);
      this.el.error.textContent = '';
    } catch (err) {
      if (!this.onRestError(err) && seq === this.searchSeq) this.el.error.textContent = `Could not list users: ${errorText(err)}`;
    }
  }

  private async loadMore(): Promise<void> {
    const seq = this.searchSeq;
    try {
      const r = await callRest(this.creds(), 'presently/list_users', this.query(this.next, PAGE));
      if (seq !== this.searchSeq) return;
      this.addRows(r.Users as UserRow[], r.Next as string);
      const firstNew = this.el.body.children[this.loaded - (r.Users as UserRow[]).length] as HTMLElement | undefined;
      firstNew?.querySelector<HTMLElement>('th, td')?.focus();
    } catch (err) {
      if (!this.onRestError(err)) this.el.error.textContent = `Could not list users: ${errorText(err)}`;
    }
  }

  private addRows(users: UserRow[], next: string): void {
    for (const u of users) {
      const tr = this.renderRow(u);
      this.rows.set(u.userID, tr);
      this.el.body.appendChild(tr);
    }
    this.loaded += users.length;
    this.next = next;
    show(this.el.more, next !== '');
    show(this.el.empty, this.loaded === 0 && next === '');
  }

  private renderRow(u: UserRow): HTMLTableRowElement {
    const devices = u.devices.length
      ? h(
          'ul',
          { class: 'devices' },
          ...u.devices.map((d) => h('li', {}, `${d.platform} · ${d.online ? 'online' : 'offline'}`, d.since ? h('span', { class: 'muted' }, ` since ${dateTime(d.since)}`) : null)),
        )
      : h('span', { class: 'muted' }, 'none');
    const tr = h(
      'tr',
      { 'data-user': u.userID },
      h('td', { 'data-label': 'User', tabindex: -1 }, u.userID, u.nick ? h('span', { class: 'muted' }, ` (${u.nick})`) : null),
      h('td', { 'data-label': 'Status', class: 'status' }, badge(u.statusType)),
      h('td', { 'data-label': 'Custom status', class: 'cs' }, u.customStatus),
      h('td', { 'data-label': 'Devices' }, devices),
    );
    return tr;
  }

  // ---- changes -------------------------------------------------------------------------------

  private onChanges(list: UserStatusInfo[]): void {
    const now = Date.now();
    for (const c of list) {
      const row = this.rows.get(c.userID);
      if (row) {
        const status = row.querySelector('.status');
        const cs = row.querySelector('.cs');
        if (status) fill(status, badge(c.statusType));
        if (cs) cs.textContent = c.customStatus;
      }
      this.el.feed.insertBefore(
        h(
          'li',
          { 'data-user': c.userID, 'data-status': c.statusType },
          h('time', { datetime: new Date(now).toISOString() }, clock(now)),
          h('span', { class: 'who-id' }, c.userID),
          badge(c.statusType),
          c.customStatus ? h('span', { class: 'cs' }, `“${c.customStatus}”`) : null,
        ),
        this.el.feed.firstChild,
      );
    }
    while (this.el.feed.children.length > FEED_MAX) this.el.feed.lastElementChild?.remove();
    show(this.el.feedEmpty, this.el.feed.children.length === 0);
    this.scheduleRefresh();
  }

  /** Counts and the list's devices follow the changes, read again at most every REFRESH_MS. */
  private scheduleRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshCounts();
      void this.search(true);
    }, REFRESH_MS);
  }
}
