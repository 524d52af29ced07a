/**
 * The cursors of paged lists (works, mutexes, semaphores, event objects): the position
 * of the last item of a page, its creation number, in base 36.
 */
export const encodeCursor = (seq: number): string => seq.toString(36);

/**
 * The position a list cursor stands for, or null when it is not one this process could
 * have issued (malformed, or past the last position handed out): junk gets a 400, not
 * a quietly empty page.
 */
export function decodeCursor(cursor: string | undefined, lastIssued: number): number | null {
  if (cursor === undefined) return 0;
  if (!/^[0-9a-z]{1,11}$/.test(cursor)) return null;
  const seq = parseInt(cursor, 36);
  return seq <= lastIssued ? seq : null;
}
