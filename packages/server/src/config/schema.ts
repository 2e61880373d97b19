/**
 * The one validation path of every configuration input: the config file (its apps and `server`),
 * the environment variables and the settings API's bodies are each described by a TypeBox schema
 * (JSON Schema with static types), compiled once, and checked here. A refused value gives one
 * `Problem`: the path of the field ("apps[0].limits.maxQueryIDs") and what it must be, written
 * from the schema itself (its range, its allowed values) or from the schema's `errorMessage`.
 * An unknown key is refused everywhere, with the nearest valid name as a suggestion.
 *
 * Callers turn a Problem into their own error: ConfigError at start-up, 70402 from the API.
 */
import { FormatRegistry, Kind, Type, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { isValidUserID } from '@presently/protocol';
import { parseCidr } from '../net/cidr.js';

// ---- formats -------------------------------------------------------------------------------------

/** Fewest distinct characters, whitespace not counted, of a secret key. */
export const SECRET_KEY_MIN_DISTINCT = 8;

/**
 * A secret key strong enough to sign tickets with: (its length is the schema's) at least
 * SECRET_KEY_MIN_DISTINCT distinct characters other than whitespace, and no control characters.
 * Eight spaces, 'k' sixteen times or "password" twice are refused; a key from `openssl rand -hex 16`
 * passes.
 */
export function isStrongSecretKey(key: string): boolean {
  // \p{Cc}: the C0 and C1 control characters, U+0000-U+001F and U+007F-U+009F.
  if (/\p{Cc}/u.test(key)) return false;
  return new Set(key.replace(/\s/gu, '')).size >= SECRET_KEY_MIN_DISTINCT;
}

FormatRegistry.Set('presently-userid', (v) => isValidUserID(v));
FormatRegistry.Set('presently-cidr', (v) => parseCidr(v) !== null);
FormatRegistry.Set('presently-secret-key', isStrongSecretKey);
FormatRegistry.Set('presently-http-url', (v) => /^https?:\/\/[^\s]+$/.test(v));

// ---- schema helpers ------------------------------------------------------------------------------

/** Options every schema may carry: `errorMessage` replaces the message written from the schema. */
export interface Described {
  errorMessage?: string;
  description?: string;
}

/** An integer within [min, max]. */
export function int(min: number, max: number, o: Described = {}) {
  return Type.Integer({ minimum: min, maximum: max, ...o });
}

/** A number (fractions allowed) within [min, max]. */
export function num(min: number, max: number, o: Described = {}) {
  return Type.Number({ minimum: min, maximum: max, ...o });
}

/** A list of CIDRs (or single addresses) such as "10.0.0.0/8", at most `max` of them. */
export function cidrList(max = 1000) {
  return Type.Array(Type.String({ maxLength: 64, format: 'presently-cidr', errorMessage: 'must be a CIDR such as "10.0.0.0/8" or an IP address' }), {
    maxItems: max,
    errorMessage: `must be a list of at most ${max} CIDRs such as "10.0.0.0/8"`,
  });
}

/** The range of a number schema, for WEBHOOK_BOUNDS-style tables and clamps. */
export function rangeOf(schema: { minimum?: number; maximum?: number }): Readonly<{ min: number; max: number }> {
  return Object.freeze({ min: schema.minimum ?? -Infinity, max: schema.maximum ?? Infinity });
}

/** Compiles a schema once (at module load); `check` then runs the generated validator. */
export function compile<T extends TSchema>(schema: T): TypeCheck<T> {
  return TypeCompiler.Compile(schema);
}

// ---- problems --------------------------------------------------------------------------------------

export interface Problem {
  /** Where, as a person writes it: `limits.maxQueryIDs`, `admins[0]`; '' for the value itself. */
  path: string;
  /** What is wrong: "must be an integer from 1 to 10000", "unknown key; did you mean admins?". */
  message: string;
}

/** `prefix` and a Problem as one line: "apps[0].admns: unknown key; did you mean admins?". */
export function describeProblem(prefix: string, p: Problem): string {
  const at = prefix === '' ? p.path.replace(/^\./, '') : p.path === '' ? prefix : `${prefix}${p.path}`;
  return `${at || 'value'}: ${p.message}`;
}

/** The first problem of `value` against a compiled schema, or undefined when it is valid. */
export function firstProblem<T extends TSchema>(check: TypeCheck<T>, value: unknown): Problem | undefined {
  if (check.Check(value)) return undefined;
  const e = pick([...check.Errors(value)]);
  return e ? explain(e) : { path: '', message: 'is not valid' };
}

/** An unknown key says most (a misspelt required key also shows as "missing"); else the first. */
function pick(errors: ValueError[]): ValueError | undefined {
  return errors.find((e) => e.type === ValueErrorType.ObjectAdditionalProperties) ?? errors[0];
}

function explain(e: ValueError): Problem {
  const path = personPath(e.path);
  switch (e.type) {
    case ValueErrorType.Union: {
      // A value that is one of several shapes (an object or null): the branch error that goes
      // deepest names the field inside it; at the same depth, the union's own description.
      const branchErrors = e.errors.map((it) => [...it]).filter((list) => list.length > 0);
      const unknown = branchErrors.flat().find((b) => b.type === ValueErrorType.ObjectAdditionalProperties);
      if (unknown) return explain(unknown);
      let deepest: ValueError | undefined;
      for (const list of branchErrors) {
        const first = list[0]!;
        if (first.path.length > e.path.length && (!deepest || first.path.length > deepest.path.length)) deepest = first;
      }
      return deepest ? explain(deepest) : { path, message: mustBe(e.schema) };
    }
    case ValueErrorType.ObjectAdditionalProperties: {
      const key = lastSegment(e.path);
      const known = Object.keys((e.schema as { properties?: Record<string, unknown> }).properties ?? {});
      const near = nearest(key, known);
      return { path, message: near ? `unknown key; did you mean ${near}?` : 'unknown key' };
    }
    case ValueErrorType.ObjectRequiredProperty:
      return { path, message: 'is required' };
    default:
      return { path, message: mustBe(e.schema) };
  }
}

/** "must be …" from the schema: its errorMessage, or its kind and range. */
function mustBe(schema: TSchema): string {
  const custom = (schema as Described).errorMessage;
  return custom ?? `must be ${noun(schema)}`;
}

function noun(schema: TSchema): string {
  const s = schema as TSchema & Record<string, unknown>;
  switch (s[Kind]) {
    case 'Integer':
      return `an integer from ${s.minimum} to ${s.maximum}`;
    case 'Number':
      return `a number from ${s.minimum} to ${s.maximum}`;
    case 'Boolean':
      return 'true or false';
    case 'Null':
      return 'null';
    case 'Object':
      return 'an object';
    case 'Literal':
      return JSON.stringify(s.const);
    case 'String':
      return `a string of ${s.minLength ?? 0} to ${s.maxLength} characters`;
    case 'Array':
      return `a list of at most ${s.maxItems}`;
    case 'Union': {
      const parts = (s.anyOf as TSchema[]).map(noun);
      return parts.length < 2 ? (parts[0] ?? 'valid') : `${parts.slice(0, -1).join(', ')} or ${parts.at(-1)}`;
    }
    default:
      return 'valid';
  }
}

/** "/apps/0/limits/x" -> "apps[0].limits.x" (a leading "." or "[" to join onto a prefix). */
function personPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg.slice(0, 64))}]`))
    .join('');
}

function lastSegment(pointer: string): string {
  const seg = pointer.slice(pointer.lastIndexOf('/') + 1);
  return seg.replace(/~1/g, '/').replace(/~0/g, '~');
}

// ---- suggestions ---------------------------------------------------------------------------------

/** Levenshtein distance (insert, delete, substitute; a swap of two neighbours counts as one). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The valid name nearest to a misspelt one, or undefined when none is near: case ignored, at
 * most a third of the name's letters wrong (at least 2 allowed), a name closer than any other.
 */
export function nearest(key: string, known: readonly string[]): string | undefined {
  if (key.length > 100) return undefined;
  const k = key.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const name of known) {
    const dist = editDistance(k, name.toLowerCase());
    if (dist < bestD) [best, bestD] = [name, dist];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}
