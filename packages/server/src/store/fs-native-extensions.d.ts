// The part of fs-native-extensions the store uses (lock.ts); the package ships no types.
declare module 'fs-native-extensions' {
  /** Takes an exclusive (or shared) lock on the file without waiting; false when another holds it. */
  export function tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
  export function unlock(fd: number, offset?: number, length?: number): void;
  const _default: { tryLock: typeof tryLock; unlock: typeof unlock };
  export default _default;
}
