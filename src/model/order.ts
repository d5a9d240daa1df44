/**
 * String order for everything netpath prints or writes: by UTF-16 code unit, as `Array.prototype.sort` without a
 * comparator. `localeCompare` follows the user's locale (ICU reads LANG / LC_ALL: under da_DK `aa` sorts after
 * `z`), so the same node state would print in a different order on another machine or shell.
 */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
