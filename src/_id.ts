/**
 * Ids that do not collide across processes and hosts: 96 random bits
 * drawn once per process, then a per-process counter.
 *
 * @module
 */

/** Random hex digits naming this process in every id it hands out. */
let prefix: string | undefined;

/**
 * This process's random prefix (24 hex digits), drawn on first use.
 *
 * @returns The prefix.
 */
export function processIdPrefix(): string {
  return prefix ??= randomHex(12);
}

function randomHex(bytes: number): string {
  const values = new Uint8Array(bytes);
  try {
    crypto.getRandomValues(values);
  } catch {
    for (let i = 0; i < bytes; i++) {
      values[i] = Math.floor(Math.random() * 256);
    }
  }
  let hex = "";
  for (const value of values) hex += value.toString(16).padStart(2, "0");
  return hex;
}
