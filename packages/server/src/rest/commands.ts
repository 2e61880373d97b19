/**
 * The REST admin commands (compat.md §3) on top of the presence engine. The HTTP layer
 * (http.ts) authenticates the admin and parses JSON; this module validates one body, runs one
 * command against the app's engine and builds the reply body, envelope included.
 *
 * Every request is validated completely before anything changes (S32): a bad field refuses the
 * whole call and leaves state untouched; per-account outcomes (unknown account, already a
 * friend, ...) are reported per item and the rest of the call still runs.
 *
 * Choices where compat.md is silent or says "(inferred)", following the hosted service's public
 * REST docs as closely as they go:
 * - Envelope: `ActionStatus`, `ErrorCode`, `ErrorInfo`; every `sns/*` command (also an unknown
 *   one) adds `ErrorDisplay: ""`. List fields of a reply (`ErrorList`, `FailAccounts`,
 *   `Fail_Account`) are always present, `[]` when nothing failed.
 * - Bad shape: 70402 (friend APIs 30001) with an ErrorInfo naming the field. JSON `null` reads as
 *   an absent field. Unknown fields are ignored (`AddWording`, `RemarkTime`, `CustomItem`,
 *   `ForceAddFlags`, `StandardSequence`, ... are type-checked where the hosted docs type them,
 *   then ignored: there is no friend verification and no custom friend data here).
 * - An empty id list is a bad request (70402 / 30001): there is nothing to do.
 * - `kick` and `account_import` also take the older `Identifier` field when `UserID` is absent.
 * - query_online_status: at most 500 ids per call whatever the app's SDK limit (the REST contract),
 *   more is 72002. A string that is not a valid userID is reported like an unknown account
 *   (70107 in ErrorList). Duplicates are answered as asked.
 * - kick: an unknown (or malformed) UserID fails the call with 70107.
 * - account_import: importing an existing account succeeds and updates the Nick/FaceUrl given.
 * - account_delete: a malformed or unknown UserID gets ResultCode 70107.
 * - account_check: a malformed UserID is `NotImported` with ResultCode 0.
 * - multiaccount_import: `AccountList` wins when both forms are given; ids that fail the userID
 *   rule land in `FailAccounts`.
 * - Friend APIs: a missing or malformed From_Account is 30001, a well-formed one that is not an
 *   account is 30003, for every `sns/*` command. A malformed To_Account is a per-item 30001.
 * - friend_add / friend_import: at most 100 AddFriendItem per call (the hosted batch size), more
 *   is 30001. `AddSource` is optional but, when given, must start with `AddSource_Type_` (30001).
 *   `AddTime` is Unix seconds (the hosted `Tag_SNS_IM_AddTime`), `now` unless friend_import gives
 *   one. friend_add takes `GroupName` as one string (hosted), friend_import as a list; empty and
 *   repeated group names are dropped.
 * - friend_add Add_Type_Both: the reverse entry (To -> From) gets no remark and no group (those
 *   belong to From's side) but the same AddSource and AddTime. If From already has To the item
 *   fails with 30001 and nothing changes. If the reverse side refuses for any reason other than
 *   "already a friend" (To's list is full: 30010), the forward entry is rolled back and the item
 *   fails with that code, so a Both add never leaves half a friendship it created.
 * - friend_delete Delete_Type_Both removes both directions; the item is 0 when at least one
 *   direction existed, else 31704. friend_delete_all with Delete_Type_Both also removes From
 *   from the list of each of From's friends.
 * - friend_get: pages of 100 in friend-add order; `StandardSequence` and `CustomSequence` are
 *   always 0 (no sequence is kept, so every page carries full data); on the last page
 *   `CompleteFlag` is 1 and `NextStartIndex` 0 (as in the hosted sample). Every friend carries
 *   the four tags Remark, Group (a list, maybe empty), AddSource, AddTime.
 * - friend_check: `CheckType` defaults to CheckResult_Type_Both. A To_Account that is well formed
 *   but not an account is NoRelation with ResultCode 0; a malformed one gets ResultCode 30001 and
 *   is listed in Fail_Account.
 * - Friendships take effect for notifications at once (S21c): the engine updates its fan-out
 *   sets in addFriend/removeFriend; nothing here is deferred.
 */
import { ErrorCode, PresentlyError, isValidUserID, isWellFormed, messageFor, utf8Length } from '@presently/protocol';
import type { AppEngine } from '../engine/engine.js';
import type { FriendMeta } from '../engine/types.js';

/** What the REST commands use of an engine: nothing that depends on its session type. */
export type RestEngine = Pick<
  AppEngine<unknown>,
  'hasAccount' | 'importAccount' | 'deleteAccount' | 'kickUser' | 'addFriend' | 'removeFriend' | 'isFriend' | 'friendList' | 'queryOnline'
>;

export interface RestContext {
  engine: RestEngine;
  /** ms since the epoch. */
  now: number;
}

/** The full reply body, envelope included. */
export type RestReply = Record<string, unknown>;

type Fields = Record<string, unknown>;

/** Limits of the REST contract (compat.md §3). */
const MAX_QUERY_IDS = 500;
const MAX_ACCOUNT_ITEMS = 100;
const MAX_FRIEND_ITEMS = 100;
const MAX_FRIEND_IDS = 1000;

/**
 * Longest stored texts, bytes of UTF-8 (the hosted service's documented sizes): every string the
 * REST API keeps has a bound (docs/rest.md). Longer ones are refused, nothing stored.
 */
export const TEXT_LIMITS = {
  Nick: 500,
  FaceUrl: 500,
  Remark: 96,
  GroupName: 30,
  AddSource: 40,
  AddWording: 256,
} as const;
/** Most groups one friend is put in. */
const MAX_FRIEND_GROUPS = 32;
const FRIEND_PAGE = 100;
const ADD_SOURCE_PREFIX = 'AddSource_Type_';

const Relation = {
  NONE: 'CheckResult_Type_NoRelation',
  A_WITH_B: 'CheckResult_Type_AWithB',
  B_WITH_A: 'CheckResult_Type_BWithA',
  BOTH: 'CheckResult_Type_BothWay',
} as const;

// ---- reading a body ------------------------------------------------------------------------------

/**
 * Reads the fields of one JSON object; any bad field throws PresentlyError(`code`) with a
 * message naming the field (`where` prefixes nested items, e.g. `AddFriendItem[2].To_Account`).
 */
class Reader {
  constructor(
    private readonly obj: Fields,
    readonly code: number,
    private readonly where = '',
  ) {}

  static of(body: unknown, code: number): Reader {
    if (!isObject(body)) throw new PresentlyError(code, 'the request body must be a JSON object');
    return new Reader(body, code);
  }

  name(field: string): string {
    return this.where ? `${this.where}.${field}` : field;
  }

  fail(message: string): never {
    throw new PresentlyError(this.code, message);
  }

  private raw(field: string): unknown {
    const v = Object.hasOwn(this.obj, field) ? this.obj[field] : undefined;
    return v === null ? undefined : v;
  }

  has(field: string): boolean {
    return this.raw(field) !== undefined;
  }

  optString(field: string): string | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(`${this.name(field)} must be a string`);
    if (!isWellFormed(v)) this.fail(`${this.name(field)} must be well-formed Unicode (no lone surrogate)`);
    return v;
  }

  /** An optional string of at most TEXT_LIMITS[field] bytes of UTF-8. */
  optText(field: keyof typeof TEXT_LIMITS): string | undefined {
    const v = this.optString(field);
    if (v !== undefined && utf8Length(v) > TEXT_LIMITS[field]) this.fail(`${this.name(field)} is longer than ${TEXT_LIMITS[field]} bytes`);
    return v;
  }

  string(field: string): string {
    const v = this.optString(field);
    if (v === undefined) this.fail(`${this.name(field)} is required`);
    return v;
  }

  /** A non-negative integer (times, indexes, sequences, flags). */
  optInt(field: string): number | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(`${this.name(field)} must be a non-negative integer`);
    return v;
  }

  oneOf<T extends string | number>(field: string, values: readonly T[], dflt: T): T {
    const v = this.raw(field);
    if (v === undefined) return dflt;
    if (!(values as readonly unknown[]).includes(v)) this.fail(`${this.name(field)} must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
    return v as T;
  }

  /** A list of 1..max entries; more than max is refused with `tooMany` (default: this reader's code). */
  list(field: string, max: number, tooMany = this.code): unknown[] {
    const v = this.raw(field);
    if (v === undefined) this.fail(`${this.name(field)} is required`);
    if (!Array.isArray(v)) this.fail(`${this.name(field)} must be an array`);
    if (v.length === 0) this.fail(`${this.name(field)} must not be empty`);
    if (v.length > max) throw new PresentlyError(tooMany, `${this.name(field)} holds ${v.length} entries, at most ${max} are allowed`);
    return v;
  }

  strings(field: string, max: number, tooMany = this.code): string[] {
    const v = this.list(field, max, tooMany);
    v.forEach((x, i) => {
      if (typeof x !== 'string') this.fail(`${this.name(field)}[${i}] must be a string`);
      if (!isWellFormed(x)) this.fail(`${this.name(field)}[${i}] must be well-formed Unicode (no lone surrogate)`);
    });
    return v as string[];
  }

  objects(field: string, max: number): Reader[] {
    return this.list(field, max).map((x, i) => {
      const at = `${this.name(field)}[${i}]`;
      if (!isObject(x)) this.fail(`${at} must be an object`);
      return new Reader(x, this.code, at);
    });
  }

  /** An optional list of strings (may be empty). */
  optStringList(field: string): string[] | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail(`${this.name(field)} must be an array of strings`);
    if (!v.every((x: string) => isWellFormed(x))) this.fail(`${this.name(field)} must hold well-formed Unicode (no lone surrogate)`);
    return v;
  }

  /** The account a user command is about: `UserID`, or the older `Identifier` when absent. */
  userField(): string {
    return this.has('UserID') || !this.has('Identifier') ? this.string('UserID') : this.string('Identifier');
  }
}

function isObject(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- commands ----------------------------------------------------------------------------------

/** Commands that change nothing: their reply needs no durable write. */
export const READ_ONLY_COMMANDS: ReadonlySet<string> = new Set(['openim/query_online_status', 'im_open_login_svc/account_check', 'sns/friend_get', 'sns/friend_check']);

interface Command {
  /** `sns/*`: ErrorDisplay in the envelope and 30001 for bad parameters. */
  friend: boolean;
  run(ctx: RestContext, r: Reader): Fields;
}

function item(To_Account: string, code: number, info = code === 0 ? '' : messageFor(code)): Fields {
  return { To_Account, ResultCode: code, ResultInfo: info };
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

/** S29: online status with per-device detail. */
function queryOnlineStatus(ctx: RestContext, r: Reader): Fields {
  const ids = r.strings('To_Account', MAX_QUERY_IDS, ErrorCode.TOO_MANY_IDS);
  const detail = r.oneOf('IsNeedDetail', [0, 1], 0) === 1;
  const QueryResult: Fields[] = [];
  const ErrorList: Fields[] = [];
  for (const id of ids) {
    const found = ctx.engine.queryOnline(id, detail);
    if (found) QueryResult.push({ ...found });
    else ErrorList.push({ To_Account: id, ErrorCode: ErrorCode.ACCOUNT_NOT_FOUND });
  }
  return { QueryResult, ErrorList };
}

/** S28: kicks every session of the user and invalidates its older tickets. */
function kick(ctx: RestContext, r: Reader): Fields {
  const id = r.userField();
  if (!ctx.engine.kickUser(id, ctx.now)) throw new PresentlyError(ErrorCode.ACCOUNT_NOT_FOUND, `account ${JSON.stringify(id)} does not exist`);
  return {};
}

function accountImport(ctx: RestContext, r: Reader): Fields {
  const id = r.userField();
  const nick = r.optText('Nick');
  const faceUrl = r.optText('FaceUrl');
  if (!isValidUserID(id)) r.fail('UserID must be 1-32 bytes of UTF-8 without control characters');
  ctx.engine.importAccount(id, nick, faceUrl);
  return {};
}

function multiAccountImport(ctx: RestContext, r: Reader): Fields {
  let accounts: Array<{ id: string; nick?: string | undefined; faceUrl?: string | undefined }>;
  if (r.has('AccountList') || !r.has('Accounts')) {
    accounts = r.objects('AccountList', MAX_ACCOUNT_ITEMS).map((a) => ({ id: a.string('UserID'), nick: a.optText('Nick'), faceUrl: a.optText('FaceUrl') }));
  } else {
    accounts = r.strings('Accounts', MAX_ACCOUNT_ITEMS).map((id) => ({ id }));
  }
  const FailAccounts: string[] = [];
  for (const a of accounts) {
    if (isValidUserID(a.id)) ctx.engine.importAccount(a.id, a.nick, a.faceUrl);
    else FailAccounts.push(a.id);
  }
  return { FailAccounts };
}

function accountDelete(ctx: RestContext, r: Reader): Fields {
  const ids = r.objects('DeleteItem', MAX_ACCOUNT_ITEMS).map((d) => d.string('UserID'));
  const ResultItem = ids.map((UserID) => {
    const code = ctx.engine.deleteAccount(UserID, ctx.now) ? 0 : ErrorCode.ACCOUNT_NOT_FOUND;
    return { ResultCode: code, ResultInfo: code === 0 ? '' : messageFor(code), UserID };
  });
  return { ResultItem };
}

function accountCheck(ctx: RestContext, r: Reader): Fields {
  const ids = r.objects('CheckItem', MAX_ACCOUNT_ITEMS).map((c) => c.string('UserID'));
  const ResultItem = ids.map((UserID) => ({
    UserID,
    ResultCode: 0,
    ResultInfo: '',
    AccountStatus: ctx.engine.hasAccount(UserID) ? 'Imported' : 'NotImported',
  }));
  return { ResultItem };
}

/** From_Account of a friend API: well formed (30001) and an account (30003). */
function fromAccount(ctx: RestContext, r: Reader): string {
  const from = r.string('From_Account');
  if (!isValidUserID(from)) r.fail('From_Account must be 1-32 bytes of UTF-8 without control characters');
  if (!ctx.engine.hasAccount(from)) throw new PresentlyError(ErrorCode.FRIEND_ACCOUNT_NOT_FOUND, `From_Account ${JSON.stringify(from)} does not exist`);
  return from;
}

function addSource(r: Reader): string {
  const s = r.optText('AddSource') ?? '';
  if (s !== '' && !s.startsWith(ADD_SOURCE_PREFIX)) r.fail(`${r.name('AddSource')} must start with ${ADD_SOURCE_PREFIX}`);
  return s;
}

function groupList(names: readonly string[]): string[] {
  return [...new Set(names.filter((g) => g !== ''))];
}

interface AddRequest {
  to: string;
  meta: FriendMeta;
}

/** Adds each request one way (or both ways); returns ResultItem and Fail_Account. */
function addFriends(ctx: RestContext, from: string, adds: AddRequest[], both: boolean): Fields {
  const { engine } = ctx;
  const ResultItem: Fields[] = [];
  const Fail_Account: string[] = [];
  for (const { to, meta } of adds) {
    let code: number;
    let info: string | undefined;
    if (!isValidUserID(to)) {
      code = ErrorCode.FRIEND_INVALID;
      info = 'To_Account is not a valid UserID';
    } else {
      code = engine.addFriend(from, to, meta);
      if (code === ErrorCode.FRIEND_INVALID) info = from === to ? 'cannot add oneself as a friend' : 'already a friend';
      if (code === 0 && both) {
        const reverse = engine.addFriend(to, from, { remark: '', groups: [], addSource: meta.addSource, addTime: meta.addTime });
        // To already having From is fine; any other refusal undoes the forward entry.
        if (reverse !== 0 && reverse !== ErrorCode.FRIEND_INVALID) {
          engine.removeFriend(from, to);
          code = reverse;
          info = reverse === ErrorCode.FRIEND_LIMIT ? "To_Account's friend list is full" : undefined;
        }
      }
    }
    ResultItem.push(item(to, code, info));
    if (code !== 0) Fail_Account.push(to);
  }
  return { ResultItem, Fail_Account };
}

/** S21c: takes effect for notifications at once. */
function friendAdd(ctx: RestContext, r: Reader): Fields {
  const from = fromAccount(ctx, r);
  const addTime = seconds(ctx.now);
  const adds = r.objects('AddFriendItem', MAX_FRIEND_ITEMS).map((a): AddRequest => {
    const to = a.string('To_Account');
    const remark = a.optText('Remark') ?? '';
    const group = a.optText('GroupName') ?? '';
    a.optText('AddWording');
    return { to, meta: { remark, groups: groupList([group]), addSource: addSource(a), addTime } };
  });
  const both = r.oneOf('AddType', ['Add_Type_Both', 'Add_Type_Single'], 'Add_Type_Both') === 'Add_Type_Both';
  r.optInt('ForceAddFlags');
  return addFriends(ctx, from, adds, both);
}

function friendImport(ctx: RestContext, r: Reader): Fields {
  const from = fromAccount(ctx, r);
  const adds = r.objects('AddFriendItem', MAX_FRIEND_ITEMS).map((a): AddRequest => {
    const to = a.string('To_Account');
    const remark = a.optText('Remark') ?? '';
    const groups = groupList(a.optStringList('GroupName') ?? []);
    if (groups.length > MAX_FRIEND_GROUPS) a.fail(`${a.name('GroupName')} holds ${groups.length} groups, at most ${MAX_FRIEND_GROUPS} are allowed`);
    for (const g of groups) if (utf8Length(g) > TEXT_LIMITS.GroupName) a.fail(`${a.name('GroupName')} has a group longer than ${TEXT_LIMITS.GroupName} bytes`);
    const source = addSource(a);
    const addTime = a.optInt('AddTime') ?? seconds(ctx.now);
    a.optText('AddWording');
    a.optInt('RemarkTime');
    return { to, meta: { remark, groups, addSource: source, addTime } };
  });
  return addFriends(ctx, from, adds, false);
}

const deleteBoth = (r: Reader): boolean => r.oneOf('DeleteType', ['Delete_Type_Single', 'Delete_Type_Both'], 'Delete_Type_Single') === 'Delete_Type_Both';

function friendDelete(ctx: RestContext, r: Reader): Fields {
  const from = fromAccount(ctx, r);
  const ids = r.strings('To_Account', MAX_FRIEND_IDS);
  const both = deleteBoth(r);
  const ResultItem = ids.map((to) => {
    if (!isValidUserID(to)) return item(to, ErrorCode.FRIEND_INVALID, 'To_Account is not a valid UserID');
    const removed = ctx.engine.removeFriend(from, to);
    const removedBack = both && ctx.engine.removeFriend(to, from);
    return item(to, removed || removedBack ? 0 : ErrorCode.FRIEND_NOT_FRIEND);
  });
  return { ResultItem };
}

function friendDeleteAll(ctx: RestContext, r: Reader): Fields {
  const from = fromAccount(ctx, r);
  const both = deleteBoth(r);
  for (const { to } of ctx.engine.friendList(from)) {
    ctx.engine.removeFriend(from, to);
    if (both) ctx.engine.removeFriend(to, from);
  }
  return {};
}

function friendGet(ctx: RestContext, r: Reader): Fields {
  const from = fromAccount(ctx, r);
  const start = r.optInt('StartIndex') ?? 0;
  r.optInt('StandardSequence');
  r.optInt('CustomSequence');
  const all = ctx.engine.friendList(from);
  const end = start + FRIEND_PAGE;
  const complete = end >= all.length;
  return {
    UserDataItem: all.slice(start, end).map((f) => ({
      To_Account: f.to,
      ValueItem: [
        { Tag: 'Tag_SNS_IM_Remark', Value: f.remark },
        { Tag: 'Tag_SNS_IM_Group', Value: [...f.groups] },
        { Tag: 'Tag_SNS_IM_AddSource', Value: f.addSource },
        { Tag: 'Tag_SNS_IM_AddTime', Value: f.addTime },
      ],
    })),
    StandardSequence: 0,
    CustomSequence: 0,
    FriendNum: all.length,
    CompleteFlag: complete ? 1 : 0,
    NextStartIndex: complete ? 0 : end,
  };
}

function friendCheck(ctx: RestContext, r: Reader): Fields {
  const from = fromAccount(ctx, r);
  const ids = r.strings('To_Account', MAX_FRIEND_IDS);
  const both = r.oneOf('CheckType', ['CheckResult_Type_Single', 'CheckResult_Type_Both'], 'CheckResult_Type_Both') === 'CheckResult_Type_Both';
  const InfoItem: Fields[] = [];
  const Fail_Account: string[] = [];
  for (const to of ids) {
    if (!isValidUserID(to)) {
      InfoItem.push({ To_Account: to, Relation: Relation.NONE, ResultCode: ErrorCode.FRIEND_INVALID, ResultInfo: 'To_Account is not a valid UserID' });
      Fail_Account.push(to);
      continue;
    }
    const aWithB = ctx.engine.isFriend(from, to);
    const bWithA = both && ctx.engine.isFriend(to, from);
    const relation = aWithB ? (bWithA ? Relation.BOTH : Relation.A_WITH_B) : bWithA ? Relation.B_WITH_A : Relation.NONE;
    InfoItem.push({ To_Account: to, Relation: relation, ResultCode: 0, ResultInfo: '' });
  }
  return { InfoItem, Fail_Account };
}

const COMMANDS = new Map<string, Command>([
  ['openim/query_online_status', { friend: false, run: queryOnlineStatus }],
  ['im_open_login_svc/kick', { friend: false, run: kick }],
  ['im_open_login_svc/account_import', { friend: false, run: accountImport }],
  ['im_open_login_svc/multiaccount_import', { friend: false, run: multiAccountImport }],
  ['im_open_login_svc/account_delete', { friend: false, run: accountDelete }],
  ['im_open_login_svc/account_check', { friend: false, run: accountCheck }],
  ['sns/friend_add', { friend: true, run: friendAdd }],
  ['sns/friend_import', { friend: true, run: friendImport }],
  ['sns/friend_delete', { friend: true, run: friendDelete }],
  ['sns/friend_delete_all', { friend: true, run: friendDeleteAll }],
  ['sns/friend_get', { friend: true, run: friendGet }],
  ['sns/friend_check', { friend: true, run: friendCheck }],
]);

/** Every command runCommand knows, as `service/command`. */
export const REST_COMMANDS: readonly string[] = Object.freeze([...COMMANDS.keys()]);

function envelope(friend: boolean, code: number, info: string): RestReply {
  const r: RestReply = { ActionStatus: code === 0 ? 'OK' : 'FAIL', ErrorCode: code, ErrorInfo: info };
  if (friend) r.ErrorDisplay = '';
  return r;
}

/**
 * Runs one command (the path after /v4/, e.g. 'openim/query_online_status') on an
 * already-authenticated admin request. Refusals come back as FAIL replies; an error that is not
 * a PresentlyError is a bug and is rethrown for the HTTP layer to log.
 */
export function runCommand(ctx: RestContext, command: string, body: unknown): RestReply {
  const cmd = COMMANDS.get(command);
  const friend = cmd?.friend ?? command.startsWith('sns/');
  if (!cmd) return envelope(friend, ErrorCode.REST_BAD_URL, `unknown command ${JSON.stringify(command.slice(0, 100))}`);
  const badCode = friend ? ErrorCode.FRIEND_INVALID : ErrorCode.INVALID_PARAMETERS;
  try {
    const fields = cmd.run(ctx, Reader.of(body, badCode));
    return { ...envelope(friend, 0, ''), ...fields };
  } catch (err) {
    if (err instanceof PresentlyError) return envelope(friend, err.code, err.message);
    throw err;
  }
}
