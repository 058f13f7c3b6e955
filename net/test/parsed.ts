/**
 * The parsers of net/ return their errors as values (a message string), never
 * throw; a test that needs the parsed value fails with that message instead.
 */
export function parsed<T extends object>(r: T | string): T {
  if (typeof r === "string") throw new Error(r);
  return r;
}
