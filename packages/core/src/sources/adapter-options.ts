/**
 * What every broker adapter validates the same way: its options object, names (strings), `create`, and the ready
 * client or connection options it was given. Messages follow the project's formula.
 */
import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';
import { checkMs, checkObject, invalid } from '../options.ts';
import { currentLoop } from '../worker/index.ts';

export { checkMs, checkObject };

/** A non-empty string option; `required` makes undefined an error too. */
export function checkName(key: string, value: unknown, required: true): string;
export function checkName(key: string, value: unknown, required?: false): string | undefined;
export function checkName(key: string, value: unknown, required = false): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw invalid(key, 'a non-empty string', value);
  return value;
}

export function checkBoolean(key: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw invalid(key, 'a boolean', value);
  return value ?? false;
}

/** Only these keys, so a misspelt option fails instead of being ignored. */
export function checkKeys(options: Record<string, unknown>, keys: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!keys.includes(key)) throw new TypeError(`Unknown option \`${key}\``);
  }
}

/** Throws unless exactly one of the keys is given (a client, or how to connect). */
export function checkOneOf(options: Record<string, unknown>, keys: readonly string[]): void {
  const given = keys.filter((key) => options[key] !== undefined);
  if (given.length !== 1) {
    throw new TypeError(`Expected exactly one of ${keys.map((k) => `\`${k}\``).join(', ')}, got ${given.length === 0 ? 'none' : given.map((k) => `\`${k}\``).join(' and ')}`);
  }
}

/** A name for this consumer that tells its host, process and loop apart: `host:pid:loop`. */
export function consumerName(): string {
  let loop: string;
  try {
    loop = currentLoop().name;
  } catch {
    loop = `thread-${threadId}`;
  }
  return `${hostname()}:${process.pid}:${loop}`;
}

