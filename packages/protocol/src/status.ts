/** General status of a user (rule S1). Numbers match the hosted service's SDK `TYPES`. */
export const UserStatus = {
  UNKNOWN: 0,
  ONLINE: 1,
  OFFLINE: 2,
  UNLOGINED: 3,
} as const;
export type StatusType = (typeof UserStatus)[keyof typeof UserStatus];

/** Platforms a session may declare at login (user-status.md, "Words"). */
export const PLATFORMS = ['Web', 'Android', 'iPhone', 'iPad', 'Windows', 'Mac', 'Linux', 'Unity', 'Unknown'] as const;
export type Platform = (typeof PLATFORMS)[number];

export function isPlatform(value: unknown): value is Platform {
  return typeof value === 'string' && (PLATFORMS as readonly string[]).includes(value);
}

/** One user's status as every API shows it (S11, S20). */
export interface UserStatusInfo {
  userID: string;
  statusType: StatusType;
  /** '' when absent (user-status.md: "A custom status that is absent reads as ''"). */
  customStatus: string;
}

/** Why a session was kicked (compat.md §1, `KICKED_OUT` data.type). */
export const KickType = {
  MULT_ACCOUNT: 'multipleAccount',
  MULT_DEVICE: 'multipleDevice',
  USERSIG_EXPIRED: 'userSigExpired',
  REST_API: 'REST_API_Kick',
} as const;
export type KickTypeValue = (typeof KickType)[keyof typeof KickType];

/** Byte length of a string as UTF-8, without allocating (works in browsers and Node). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** A UTF-16 surrogate without its partner: text that has no UTF-8 form (it would turn into U+FFFD). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Well-formed Unicode: no lone surrogate. Such text cannot be stored or signed as it is (UTF-8
 * turns every lone surrogate into U+FFFD), so two different strings would become one.
 */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * A valid userID: a string of 1-32 bytes UTF-8 without control characters and well-formed
 * (user-status.md, "Words").
 */
export function isValidUserID(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0) return false;
  // \p{Cc}: the C0 and C1 control characters, U+0000-U+001F and U+007F-U+009F.
  if (/\p{Cc}/u.test(value)) return false;
  return utf8Length(value) <= 32 && isWellFormed(value);
}
