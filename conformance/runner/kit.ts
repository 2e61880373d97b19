/**
 * The conformance kit's engine: loads the scenarios, starts one real Presently server, starts the
 * SDK's adapter process, and plays each scenario's steps against both, checking what the SDK
 * reports (call results and events) against what the scenario expects. Language-neutral: the
 * SDK is only ever reached through the adapter's line protocol (conformance/README.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterProcess, type AdapterEvent, type AdapterResult } from './adapter.js';
import { CutProxy } from './proxy.js';
import { RawActor } from './raw.js';
import { rest, startServer, type ConformanceServer } from './server.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
const SCENARIO_DIR = join(ROOT, 'conformance/scenarios');

export interface ClientSpec {
  user: string;
  platform?: string;
  /** Route this client through a proxy the scenario can cut, block or freeze. */
  proxy?: boolean;
}

export type Step = Record<string, unknown>;

export interface Scenario {
  id: string;
  rules: string[];
  title: string;
  /** App profile (conformance/runner/server.ts APP_PROFILES); `default` when absent. */
  app?: string;
  clients: Record<string, ClientSpec>;
  steps: Step[];
  /** Set by the loader: the file it came from. */
  file?: string;
}

export interface ScenarioOutcome {
  id: string;
  rules: string[];
  title: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface RunOptions {
  /** The adapter's command line (argv), run from the repository root. */
  adapter: string[];
  /** Run only scenarios whose id or rules contain one of these strings. */
  only?: string[];
  /** Multiplies every wait bound (slow machines). */
  timeScale?: number;
  /** Writes a line per scenario (and the summary). */
  log?: (line: string) => void;
  /** Writes every adapter line exchanged. */
  trace?: boolean;
  /** Extra environment for the adapter process. */
  env?: Record<string, string>;
}

export interface RunReport {
  sdk: AdapterEvent | null;
  outcomes: ScenarioOutcome[];
  passed: number;
  failed: number;
}

export function loadScenarios(only: string[] = []): Scenario[] {
  const files = readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const all: Scenario[] = [];
  const ids = new Set<string>();
  for (const f of files) {
    const doc = JSON.parse(readFileSync(join(SCENARIO_DIR, f), 'utf8')) as { scenarios: Scenario[] };
    for (const s of doc.scenarios) {
      if (ids.has(s.id)) throw new Error(`scenario id ${s.id} appears twice (${f})`);
      ids.add(s.id);
      all.push({ ...s, file: f });
    }
  }
  if (only.length === 0) return all;
  // "S21" selects rules S21, S21a, ...; an id or the start of one ("S26-web") selects scenarios.
  const rule = (r: string, o: string): boolean => r === o || (r.startsWith(o) && /^[a-z]$/.test(r.slice(o.length)));
  return all.filter((s) => only.some((o) => s.id === o || s.id.startsWith(`${o}-`) || s.rules.some((r) => rule(r, o))));
}

/** Deep partial match: objects match on the keys the expectation names; arrays must have the same length. */
export function matches(expected: unknown, actual: unknown): boolean {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(e, actual[i]));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    return Object.entries(expected).every(([k, v]) => matches(v, a[k]));
  }
  return expected === actual;
}

interface StatusItem {
  userID: string;
  statusType: number;
  customStatus: string;
}

class Mark<T> {
  used = false;
  constructor(readonly value: T) {}
}

class ClientState {
  readonly statuses: Mark<StatusItem>[] = [];
  readonly kicks: Mark<string>[] = [];
  readonly netStates: Mark<string>[] = [];
  readonly log: string[] = [];
  proxy: CutProxy | null = null;
  constructor(
    readonly name: string,
    readonly wireName: string,
    readonly user: string,
    readonly userID: string,
  ) {}
}

class StepError extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs every selected scenario and reports each outcome. */
export async function runConformance(opts: RunOptions): Promise<RunReport> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const scale = opts.timeScale ?? Number(process.env.CONFORMANCE_TIME_SCALE ?? 1);
  const scenarios = loadScenarios(opts.only);
  if (scenarios.length === 0) throw new Error(`no scenario matches ${JSON.stringify(opts.only)}`);
  const runTag = Math.random().toString(36).slice(2, 5);
  const srv = await startServer();
  let listener: ((e: AdapterEvent) => void) | null = null;
  const startAdapter = async (): Promise<AdapterProcess> => {
    const a = new AdapterProcess(opts.adapter, (e) => listener?.(e), ROOT, opts.trace ? (l) => log(`  ${l}`) : undefined, opts.env);
    await a.ready(30_000 * scale);
    return a;
  };
  const outcomes: ScenarioOutcome[] = [];
  let adapter: AdapterProcess | null = null;
  try {
    adapter = await startAdapter();
    const sdk = adapter.hello;
    const name = typeof sdk?.sdk === 'string' ? sdk.sdk : 'an SDK';
    const version = typeof sdk?.version === 'string' ? sdk.version : '';
    log(`conformance: ${scenarios.length} scenarios against ${name} ${version} (server ${srv.ws})`);
    for (let i = 0; i < scenarios.length; i++) {
      const s = scenarios[i]!;
      if (!adapter.alive) adapter = await startAdapter();
      const started = Date.now();
      const prefix = `${runTag}${i.toString(36)}-`;
      const play = new Play(s, srv, adapter, prefix, `${i}`, scale);
      listener = (e) => play.onEvent(e);
      let error: string | undefined;
      try {
        await play.run();
      } catch (err) {
        error = `${err instanceof Error ? err.message : String(err)}${play.recent()}`;
      } finally {
        await play.cleanup().catch(() => undefined);
        listener = null;
      }
      const outcome: ScenarioOutcome = { id: s.id, rules: s.rules, title: s.title, ok: error === undefined, ms: Date.now() - started, ...(error ? { error } : {}) };
      outcomes.push(outcome);
      log(`${outcome.ok ? 'ok  ' : 'FAIL'} ${s.id} [${s.rules.join(' ')}] ${s.title} (${outcome.ms} ms)`);
      if (error) log(error.replace(/^/gm, '     '));
    }
    const passed = outcomes.filter((o) => o.ok).length;
    const failed = outcomes.length - passed;
    log(`conformance: ${passed} passed, ${failed} failed`);
    return { sdk, outcomes, passed, failed };
  } finally {
    await adapter?.stop().catch(() => undefined);
    await srv.stop().catch(() => undefined);
  }
}

/** One scenario being played. */
class Play {
  private readonly clients = new Map<string, ClientState>();
  private readonly byWire = new Map<string, ClientState>();
  private readonly actors = new Map<string, RawActor>();
  private readonly waiters = new Set<() => void>();
  private readonly profile: string;
  private readonly events: string[] = [];
  private step = 0;

  constructor(
    private readonly s: Scenario,
    private readonly srv: ConformanceServer,
    private readonly adapter: AdapterProcess,
    private readonly prefix: string,
    private readonly scope: string,
    private readonly scale: number,
  ) {
    this.profile = s.app ?? 'default';
  }

  private id(user: string): string {
    return `${this.prefix}${user}`;
  }

  /** Strips the scenario's prefix from every `userID` in a value (results and events). */
  private strip<T>(value: T): T {
    if (Array.isArray(value)) return (value as unknown[]).map((v) => this.strip(v)) as T;
    if (typeof value === 'object' && value !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        out[k] = k === 'userID' && typeof v === 'string' && v.startsWith(this.prefix) ? v.slice(this.prefix.length) : this.strip(v);
      }
      return out as T;
    }
    return value;
  }

  recent(): string {
    const tail = this.events.slice(-25);
    return tail.length === 0 ? '\n  (no adapter events)' : `\n  last adapter events:\n${tail.map((l) => `    ${l}`).join('\n')}`;
  }

  onEvent(e: AdapterEvent): void {
    const c = typeof e.client === 'string' ? this.byWire.get(e.client) : undefined;
    if (!c) return;
    const ev = this.strip(e);
    this.events.push(JSON.stringify({ ...ev, client: c.name }));
    if (e.event === 'statusChanged' && Array.isArray(ev.data)) {
      for (const item of ev.data as StatusItem[]) c.statuses.push(new Mark(item));
    } else if (e.event === 'kicked') {
      c.kicks.push(new Mark(String(ev.type)));
    } else if (e.event === 'netState') {
      c.netStates.push(new Mark(String(ev.state)));
    }
    for (const w of [...this.waiters]) w();
  }

  private client(name: unknown): ClientState {
    const c = typeof name === 'string' ? this.clients.get(name) : undefined;
    if (!c) throw new StepError(`step ${this.step}: unknown client ${JSON.stringify(name)}`);
    return c;
  }

  private ms(base: number): number {
    return Math.round(base * this.scale);
  }

  /** Resolves with check()'s first non-undefined value; fails the step after the bound. */
  private until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const bound: { timer?: ReturnType<typeof setTimeout> } = {};
      const done = (): void => {
        this.waiters.delete(tryNow);
        clearTimeout(bound.timer);
      };
      const tryNow = (): void => {
        let v: T | undefined;
        try {
          v = check();
        } catch (err) {
          done();
          reject(err instanceof Error ? err : new StepError(String(err)));
          return;
        }
        if (v === undefined) return;
        done();
        resolve(v);
      };
      this.waiters.add(tryNow);
      bound.timer = setTimeout(() => {
        done();
        reject(new StepError(`step ${this.step}: ${what} did not happen within ${timeoutMs} ms`));
      }, timeoutMs);
      tryNow();
    });
  }

  async run(): Promise<void> {
    for (const [name, spec] of Object.entries(this.s.clients ?? {})) {
      const c = new ClientState(name, `${this.scope}.${name}`, spec.user, this.id(spec.user));
      this.clients.set(name, c);
      this.byWire.set(c.wireName, c);
      if (spec.proxy) c.proxy = await new CutProxy(this.srv.port).start();
      const r = await this.adapter.command(
        'create',
        {
          client: c.wireName,
          url: c.proxy ? c.proxy.url : this.srv.ws,
          SDKAppID: this.srv.appId(this.profile),
          platform: spec.platform ?? 'Unity',
          backoffBaseMs: 50,
          backoffCapMs: 400,
          heartbeatGraceMs: 300,
          requestTimeoutMs: this.ms(5000),
          connectTimeoutMs: this.ms(3000),
        },
        this.ms(10_000),
      );
      if (!r.ok) throw new StepError(`create ${name}: ${r.code} ${r.message ?? ''}`);
    }
    for (const step of this.s.steps) {
      this.step++;
      const times = typeof step.repeat === 'number' ? step.repeat : 1;
      for (let n = 0; n < times; n++) await this.play(step);
    }
  }

  async cleanup(): Promise<void> {
    for (const a of this.actors.values()) a.close();
    if (this.clients.size > 0 && this.adapter.alive) {
      await this.adapter.command('reset', {}, this.ms(15_000)).catch(() => undefined);
    }
    for (const c of this.clients.values()) await c.proxy?.close();
  }

  private ticket(user: string, kind: unknown): string {
    const now = Math.floor(Date.now() / 1000);
    switch (kind ?? 'valid') {
      case 'valid':
        return this.srv.sig(this.profile, this.id(user));
      case 'old':
        return this.srv.sig(this.profile, this.id(user), { nowSec: now - 60 });
      case 'fresh':
        return this.srv.sig(this.profile, this.id(user), { nowSec: now + 1 });
      case 'expired':
        return this.srv.sig(this.profile, this.id(user), { nowSec: now - 100, expireSec: 10 });
      case 'wrongKey':
        return this.srv.sig(this.profile, this.id(user), { secretKey: 'not-the-secret-key-0123456789' });
      default:
        throw new StepError(`step ${this.step}: unknown ticket kind ${JSON.stringify(kind)}`);
    }
  }

  private ids(list: unknown): string[] {
    if (!Array.isArray(list)) throw new StepError(`step ${this.step}: userIDList must be a list`);
    return list.map((u) => this.id(String(u)));
  }

  private async call(c: ClientState, cmd: string, fields: Record<string, unknown>, expect: unknown): Promise<AdapterResult> {
    const r = await this.adapter.command(cmd, { client: c.wireName, ...fields }, this.ms(15_000));
    const res = this.strip(r);
    this.events.push(`result of ${cmd} on ${c.name}: ${JSON.stringify(res)}`);
    const e = (expect ?? { ok: true }) as { ok?: boolean; code?: number; data?: unknown };
    const wantOk = e.ok ?? e.code === undefined;
    if (res.ok !== wantOk) {
      throw new StepError(
        `step ${this.step}: ${cmd} on ${c.name} ${res.ok ? 'succeeded' : `failed with ${res.code} ${res.message ?? ''}`}, expected ${wantOk ? 'success' : `failure${e.code ? ` ${e.code}` : ''}`}`,
      );
    }
    if (e.code !== undefined && res.code !== e.code) {
      throw new StepError(`step ${this.step}: ${cmd} on ${c.name} failed with ${res.code}, expected ${e.code}`);
    }
    if (e.data !== undefined && !matches(e.data, res.data)) {
      throw new StepError(`step ${this.step}: ${cmd} on ${c.name} answered ${JSON.stringify(res.data)}, expected ${JSON.stringify(e.data)}`);
    }
    return res;
  }

  private actor(name: unknown): RawActor {
    const a = typeof name === 'string' ? this.actors.get(name) : undefined;
    if (!a) throw new StepError(`step ${this.step}: unknown raw actor ${JSON.stringify(name)}`);
    return a;
  }

  private async play(step: Step): Promise<void> {
    if (typeof step.await === 'string') return this.await(step);
    const action = step.do;
    switch (action) {
      case 'login': {
        const c = this.client(step.client);
        const user = typeof step.user === 'string' ? step.user : c.user;
        await this.call(c, 'login', { userID: this.id(user), userSig: this.ticket(user, step.ticket) }, step.expect);
        return;
      }
      case 'logout':
      case 'destroy':
        await this.call(this.client(step.client), action, {}, step.expect);
        return;
      case 'setSelfStatus':
        await this.call(this.client(step.client), 'setSelfStatus', { customStatus: step.customStatus ?? null }, step.expect);
        return;
      case 'getUserStatus':
      case 'subscribeUserStatus':
        await this.call(this.client(step.client), action, { userIDList: this.ids(step.userIDList) }, step.expect);
        return;
      case 'unsubscribeUserStatus':
        await this.call(this.client(step.client), action, step.userIDList === undefined ? {} : { userIDList: this.ids(step.userIDList) }, step.expect);
        return;
      case 'quiet':
        return this.quiet(step);
      case 'wait':
        await sleep(this.ms(Number(step.ms)));
        return;
      case 'proxy.cut':
      case 'proxy.block':
      case 'proxy.unblock':
      case 'proxy.freeze': {
        const c = this.client(step.client);
        if (!c.proxy) throw new StepError(`step ${this.step}: client ${c.name} has no proxy ("proxy": true)`);
        const op = action.slice('proxy.'.length) as 'cut' | 'block' | 'unblock' | 'freeze';
        c.proxy[op]();
        return;
      }
      case 'raw.login': {
        const name = String(step.actor);
        const a = await RawActor.connect(this.srv.ws);
        this.actors.set(name, a);
        const user = String(step.user);
        await a.login(this.srv.appId(this.profile), this.id(user), this.ticket(user, step.ticket), typeof step.platform === 'string' ? step.platform : 'Android');
        return;
      }
      case 'raw.setSelfStatus': {
        const r = await this.actor(step.actor).request('setSelfStatus', { customStatus: step.customStatus ?? '' });
        if (r.code !== 0) throw new StepError(`step ${this.step}: raw setSelfStatus refused ${r.code}`);
        return;
      }
      case 'raw.logout': {
        await this.actor(step.actor).request('logout');
        return;
      }
      case 'raw.drop':
        this.actor(step.actor).drop();
        return;
      case 'rest.importAccounts':
        for (const u of step.users as string[]) await rest(this.srv, this.profile, 'im_open_login_svc/account_import', { UserID: this.id(u) });
        return;
      case 'rest.befriend': {
        const user = String(step.user);
        const friends = step.friends as string[];
        for (const u of [user, ...friends]) await rest(this.srv, this.profile, 'im_open_login_svc/account_import', { UserID: this.id(u) });
        await rest(this.srv, this.profile, 'sns/friend_add', {
          From_Account: this.id(user),
          AddFriendItem: friends.map((f) => ({ To_Account: this.id(f) })),
          AddType: 'Add_Type_Single',
        });
        return;
      }
      case 'rest.kick':
        await rest(this.srv, this.profile, 'im_open_login_svc/kick', { UserID: this.id(String(step.user)) });
        return;
      default:
        throw new StepError(`step ${this.step}: unknown step ${JSON.stringify(step)}`);
    }
  }

  private async await(step: Step): Promise<void> {
    const c = this.client(step.client);
    const timeout = this.ms(Number(step.timeoutMs ?? 5000));
    switch (step.await) {
      case 'status': {
        const match = step.match as Record<string, unknown>;
        const about = typeof match?.userID === 'string' ? match.userID : undefined;
        await this.until(
          () => {
            for (const m of c.statuses) {
              if (m.used) continue;
              if (step.next === true && about !== undefined && m.value.userID !== about) continue;
              if (matches(match, m.value)) {
                m.used = true;
                return true;
              }
              if (step.next === true) {
                throw new StepError(`step ${this.step}: ${c.name} heard ${JSON.stringify(m.value)} next about ${about}, expected ${JSON.stringify(match)}`);
              }
            }
            return undefined;
          },
          timeout,
          `${c.name} hearing ${JSON.stringify(match)}`,
        );
        return;
      }
      case 'kicked': {
        await this.until(
          () => {
            const m = c.kicks.find((k) => !k.used);
            if (!m) return undefined;
            m.used = true;
            if (step.type !== undefined && m.value !== step.type)
              throw new StepError(`step ${this.step}: ${c.name} was kicked with ${m.value}, expected ${JSON.stringify(step.type)}`);
            return true;
          },
          timeout,
          `${c.name} being kicked`,
        );
        return;
      }
      case 'netState': {
        const want = String(step.state);
        await this.until(
          () => {
            const i = c.netStates.findIndex((m) => !m.used && m.value === want);
            if (i < 0) return undefined;
            for (let j = 0; j <= i; j++) c.netStates[j]!.used = true;
            return true;
          },
          timeout,
          `${c.name} reporting network state ${want}`,
        );
        return;
      }
      default:
        throw new StepError(`step ${this.step}: unknown await ${JSON.stringify(step.await)}`);
    }
  }

  /**
   * Proves a negative without a timed wait: a round trip on the client's own connection (a query
   * the server answers after every push it queued for that socket before it) is the barrier;
   * then the statuses the client heard about the named users must be exactly `heard` (none when
   * absent), and they are consumed.
   */
  private async quiet(step: Step): Promise<void> {
    const c = this.client(step.client);
    await this.adapter.command('getUserStatus', { client: c.wireName, userIDList: [this.id('zz-barrier')] }, this.ms(15_000));
    const about = Array.isArray(step.about) ? (step.about as string[]) : undefined;
    const heard = c.statuses.filter((m) => !m.used && (about === undefined || about.includes(m.value.userID)));
    const expected = (step.heard as unknown[] | undefined) ?? [];
    const got = heard.map((m) => m.value);
    if (!matches(expected, got)) {
      throw new StepError(`step ${this.step}: ${c.name} heard ${JSON.stringify(got)}${about ? ` about ${about.join(', ')}` : ''}, expected ${JSON.stringify(expected)}`);
    }
    for (const m of heard) m.used = true;
    if (step.noKick === true && c.kicks.some((k) => !k.used)) throw new StepError(`step ${this.step}: ${c.name} was kicked`);
  }
}
