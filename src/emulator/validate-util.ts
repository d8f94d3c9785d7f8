import { invalidType, invalidValue, missingParameter, unknownParameter } from './api-error.js';

/** Small checkers that throw the API's 400s, naming the parameter by its path (`input[2].call_id`). */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function expectObject(value: unknown, param: string): JsonObject {
  if (!isObject(value)) throw invalidType(param, 'an object', value);
  return value;
}

export function expectString(value: unknown, param: string): string {
  if (typeof value !== 'string') throw invalidType(param, 'a string', value);
  return value;
}

export function expectBoolean(value: unknown, param: string): boolean {
  if (typeof value !== 'boolean') throw invalidType(param, 'a boolean', value);
  return value;
}

export function expectNumber(value: unknown, param: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidType(param, 'a number', value);
  return value;
}

export function expectInteger(value: unknown, param: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(param, 'an integer', value);
  return value;
}

export function required(object: JsonObject, key: string, prefix: string): unknown {
  const value = object[key];
  if (value === undefined) throw missingParameter(join(prefix, key));
  return value;
}

export function oneOf<const T extends string>(value: unknown, param: string, allowed: readonly T[]): T {
  const text = expectString(value, param);
  if (!(allowed as readonly string[]).includes(text)) throw invalidValue(param, text, allowed);
  return text as T;
}

/** Rejects the first key not in `known` as an unknown parameter. */
export function rejectUnknown(object: JsonObject, known: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(object)) {
    if (!known.has(key)) throw unknownParameter(join(prefix, key));
  }
}

export function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

/** `value` unless it is undefined or null, in which case `fallback`. */
export function orDefault<T>(value: unknown, fallback: T, check: (v: unknown) => T): T {
  return value === undefined || value === null ? fallback : check(value);
}
