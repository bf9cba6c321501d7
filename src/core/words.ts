// Counted words in the summaries people read: '1 file', '2 files', '1 entry', '3 entries'.
// Pure.

/** `n` and the noun in the number it takes (the plural: `many`, else the noun and an s). */
export function count(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}
