/** The webhook delivery log: presently/get_webhook_log, read again every few seconds while shown. */
import { byId, errorText, fill, h, show } from '../lib/dom.js';
import { dateTime } from '../lib/status.js';
import { callRest, type Credentials } from './rest.js';
import type { AttemptRecord, DeadLetter } from '@presently/server';

/** The reply shapes of presently/get_webhook_log are the server's own records (types only). */
type Attempt = Pick<AttemptRecord, 'eventId' | 'userID' | 'attempt' | 'at' | 'durationMs' | 'status' | 'outcome' | 'error'>;
type Dead = Pick<DeadLetter, 'id' | 'userID' | 'attempts' | 'lastError' | 'deadAt' | 'body'>;

const OUTCOME_WORDS: Record<Attempt['outcome'], string> = { delivered: 'Delivered', retry: 'Failed, will retry', dead: 'Failed, dead letter' };
const STAT_WORDS: ReadonlyArray<[string, string]> = [
  ['state', 'Dispatcher'],
  ['delivered', 'Delivered'],
  ['failedAttempts', 'Failed attempts'],
  ['deadLettered', 'Dead letters'],
  ['inFlight', 'In flight'],
  ['queued', 'Waiting to be stored'],
  ['inMemory', 'Pending'],
];

export class WebhooksView {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly el = {
    target: byId('wh-target'),
    stats: byId('wh-stats'),
    error: byId('wh-error'),
    attempts: byId('wh-attempts').querySelector('tbody')!,
    attemptsEmpty: byId('wh-attempts-empty'),
    dead: byId('wh-dead').querySelector('tbody')!,
    deadEmpty: byId('wh-dead-empty'),
  };

  constructor(
    private readonly creds: () => Credentials,
    private readonly onRestError: (err: unknown) => boolean,
  ) {
    byId('wh-refresh').addEventListener('click', () => void this.load());
  }

  /** Reads the log now and every 3 s until `hide`. */
  showing(): void {
    void this.load();
    this.timer ??= setInterval(() => {
      if (document.visibilityState === 'visible') void this.load();
    }, 3000);
  }

  hide(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async load(): Promise<void> {
    try {
      const r = await callRest(this.creds(), 'presently/get_webhook_log', { Limit: 50 });
      this.render(r.Webhook as { url: string; hasSecret: boolean } | null, r.Dispatcher as Record<string, unknown>, r.Attempts as Attempt[], r.DeadLetters as Dead[]);
      this.el.error.textContent = '';
    } catch (err) {
      if (!this.onRestError(err)) this.el.error.textContent = `Could not read the webhook log: ${errorText(err)}`;
    }
  }

  private render(wh: { url: string; hasSecret: boolean } | null, stats: Record<string, unknown>, attempts: Attempt[], dead: Dead[]): void {
    fill(
      this.el.target,
      ...(wh
        ? ['Callbacks go to ', h('code', {}, wh.url), wh.hasSecret ? ', signed.' : ', not signed.']
        : ['No webhook is set for this app: set its URL in ', h('a', { href: '#settings' }, 'Settings'), '.']),
    );
    fill(this.el.stats, ...STAT_WORDS.filter(([k]) => k in stats).map(([k, label]) => h('div', {}, h('dt', {}, label), h('dd', { 'data-stat': k }, String(stats[k])))));
    fill(
      this.el.attempts,
      ...attempts.map((a) =>
        h(
          'tr',
          { 'data-outcome': a.outcome },
          h('td', { 'data-label': 'Time' }, dateTime(a.at)),
          h('td', { 'data-label': 'User' }, a.userID),
          h('td', { 'data-label': 'Attempt', class: 'num' }, a.attempt),
          h('td', { 'data-label': 'HTTP', class: 'num' }, a.status || '—'),
          h('td', { 'data-label': 'Outcome' }, OUTCOME_WORDS[a.outcome] ?? a.outcome),
          h('td', { 'data-label': 'Error' }, a.error || '—'),
          h('td', { 'data-label': 'ms', class: 'num' }, a.durationMs),
        ),
      ),
    );
    show(this.el.attemptsEmpty, attempts.length === 0);
    fill(
      this.el.dead,
      ...dead.map((d) =>
        h(
          'tr',
          {},
          h('td', { 'data-label': 'Failed at' }, dateTime(d.deadAt)),
          h('td', { 'data-label': 'User' }, d.userID),
          h('td', { 'data-label': 'Attempts', class: 'num' }, d.attempts),
          h('td', { 'data-label': 'Last error' }, d.lastError),
          h('td', { 'data-label': 'Event' }, h('code', {}, summary(d.body))),
        ),
      ),
    );
    show(this.el.deadEmpty, dead.length === 0);
  }
}

/** "Login Web" from a State.StateChange body; the raw text when it is not one. */
function summary(body: string): string {
  try {
    const b = JSON.parse(body) as { Info?: { Action?: string; Reason?: string }; EventTime?: number };
    if (b.Info?.Action) return `${b.Info.Action}${b.Info.Reason ? ` (${b.Info.Reason})` : ''}`;
  } catch {
    /* not JSON */
  }
  return body.length > 80 ? `${body.slice(0, 80)}…` : body;
}
