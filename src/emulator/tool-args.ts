/**
 * Arguments for a function tool the brain does not know, made from the tool's JSON schema alone:
 * deterministic, and valid against the schema for the keywords function tools use (types, enum,
 * const, required properties, bounds, lengths, formats, patterns tried against a few candidates,
 * `$ref` into `$defs`, `anyOf`/`oneOf`/`allOf`). Values come from the customer's words where a
 * property asks for them (a query, a place, a number), else from the schema.
 */

type Schema = Record<string, unknown>;

/** What the context offers to fill arguments with. */
export interface ArgumentHints {
  /** The customer's latest message. */
  text: string;
}

const MAX_DEPTH = 8;
const FREE_TEXT =
  /^(q|query|text|message|prompt|input|question|content|search|search_query|keywords?|body)$/i;
const PLACE = /^(location|city|place|address|destination|origin|region|country)$/i;
const FORMATS: Record<string, string> = {
  email: 'customer@example.com',
  uri: 'https://example.com/',
  url: 'https://example.com/',
  'uri-reference': 'https://example.com/',
  date: '2024-01-01',
  'date-time': '2024-01-01T00:00:00Z',
  time: '00:00:00Z',
  uuid: '00000000-0000-4000-8000-000000000000',
  hostname: 'example.com',
  ipv4: '127.0.0.1',
  ipv6: '::1',
  duration: 'P1D',
};
const PATTERN_CANDIDATES = ['example', 'a', 'A', 'abc', 'ABC', '0', '1', '123', 'a1', 'A1', 'x_1', 'item-1'];

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class ArgumentMaker {
  constructor(
    private readonly root: Schema,
    private readonly hints: ArgumentHints,
  ) {}

  value(schema: unknown, name: string, depth: number): unknown {
    if (!isSchema(schema)) return 'example';
    const resolved = this.resolve(schema);
    if (resolved.const !== undefined) return resolved.const;
    if (Array.isArray(resolved.enum) && resolved.enum.length > 0) return resolved.enum[0];
    const branch = Array.isArray(resolved.anyOf)
      ? resolved.anyOf
      : Array.isArray(resolved.oneOf)
        ? resolved.oneOf
        : null;
    if (branch && branch.length > 0) return this.value(this.preferNonNull(branch), name, depth);
    if (Array.isArray(resolved.allOf)) return this.value(this.merge(resolved), name, depth);
    switch (this.typeOf(resolved)) {
      case 'object':
        return depth >= MAX_DEPTH ? {} : this.object(resolved, depth);
      case 'array':
        return depth >= MAX_DEPTH ? [] : this.array(resolved, name, depth);
      case 'integer':
        return this.number(resolved, name, true);
      case 'number':
        return this.number(resolved, name, false);
      case 'boolean':
        return true;
      case 'null':
        return null;
      default:
        return this.string(resolved, name);
    }
  }

  /** Follows `$ref`s into the root schema (`#`, `#/$defs/…`, `#/definitions/…`). */
  private resolve(schema: Schema, seen = 0): Schema {
    const ref = schema.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#') || seen > MAX_DEPTH) return schema;
    let target: unknown = this.root;
    for (const key of ref
      .slice(1)
      .split('/')
      .filter((k) => k !== '')) {
      target = isSchema(target) ? target[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    }
    if (!isSchema(target)) return schema;
    const { $ref: _ref, ...rest } = schema;
    return this.resolve({ ...target, ...rest }, seen + 1);
  }

  private preferNonNull(branches: unknown[]): unknown {
    return branches.find((b) => !(isSchema(b) && b.type === 'null')) ?? branches[0];
  }

  /** `allOf`: the branches' keywords together (properties and required merged). */
  private merge(schema: Schema): Schema {
    const merged: Schema = { ...schema, allOf: undefined };
    const properties: Schema = isSchema(schema.properties) ? { ...schema.properties } : {};
    const required = new Set<string>(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    for (const branch of schema.allOf as unknown[]) {
      if (!isSchema(branch)) continue;
      const part = this.resolve(branch);
      Object.assign(merged, part, { allOf: undefined });
      if (isSchema(part.properties)) Object.assign(properties, part.properties);
      if (Array.isArray(part.required)) for (const key of part.required as string[]) required.add(key);
    }
    if (Object.keys(properties).length > 0) merged.properties = properties;
    if (required.size > 0) merged.required = [...required];
    delete merged.allOf;
    return merged;
  }

  private typeOf(schema: Schema): string {
    const type = schema.type;
    if (typeof type === 'string') return type;
    if (Array.isArray(type)) return (type.find((t) => t !== 'null') ?? type[0] ?? 'string') as string;
    if (isSchema(schema.properties) || schema.required !== undefined) return 'object';
    if (schema.items !== undefined || schema.prefixItems !== undefined) return 'array';
    if (typeof schema.minimum === 'number' || typeof schema.maximum === 'number') return 'number';
    return 'string';
  }

  private object(schema: Schema, depth: number): Record<string, unknown> {
    const properties = isSchema(schema.properties) ? schema.properties : {};
    const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
    const names = new Set(required);
    // Optional properties the customer's words can fill are filled too.
    for (const key of Object.keys(properties)) {
      if (FREE_TEXT.test(key) || (PLACE.test(key) && this.place() !== null)) names.add(key);
    }
    const minProperties = typeof schema.minProperties === 'number' ? schema.minProperties : 0;
    for (const key of Object.keys(properties)) if (names.size < minProperties) names.add(key);
    const result: Record<string, unknown> = {};
    for (const key of names) result[key] = this.value(properties[key] ?? {}, key, depth + 1);
    return result;
  }

  private array(schema: Schema, name: string, depth: number): unknown[] {
    const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
    const max = typeof schema.maxItems === 'number' ? schema.maxItems : Number.POSITIVE_INFINITY;
    const prefix: unknown[] = Array.isArray(schema.prefixItems)
      ? schema.prefixItems
      : Array.isArray(schema.items)
        ? schema.items
        : [];
    const count = Math.min(Math.max(min, prefix.length, 1), max);
    const items: unknown[] = [];
    for (let i = 0; i < count; i += 1) {
      const itemSchema: unknown = i < prefix.length ? prefix[i] : isSchema(schema.items) ? schema.items : {};
      items.push(
        this.distinct(this.value(itemSchema, name, depth + 1), itemSchema, i, schema.uniqueItems === true),
      );
    }
    return items;
  }

  /** The i-th of unique items: enum values in turn, or the value with its index appended. */
  private distinct(value: unknown, schema: unknown, i: number, unique: boolean): unknown {
    if (!unique || i === 0 || !isSchema(schema)) return value;
    const resolved = this.resolve(schema);
    if (Array.isArray(resolved.enum)) return resolved.enum[i % resolved.enum.length];
    if (typeof value === 'string') return `${value}${i}`;
    if (typeof value === 'number')
      return value + i * (typeof resolved.multipleOf === 'number' ? resolved.multipleOf : 1);
    return value;
  }

  private number(schema: Schema, name: string, integer: boolean): number {
    const min = typeof schema.minimum === 'number' ? schema.minimum : null;
    const max = typeof schema.maximum === 'number' ? schema.maximum : null;
    const exMin = typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum : null;
    const exMax = typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum : null;
    const step = typeof schema.multipleOf === 'number' && schema.multipleOf > 0 ? schema.multipleOf : null;
    const fits = (n: number): boolean =>
      Number.isFinite(n) &&
      (!integer || Number.isInteger(n)) &&
      (min === null || n >= min) &&
      (max === null || n <= max) &&
      (exMin === null || n > exMin) &&
      (exMax === null || n < exMax) &&
      (step === null || Math.abs(n / step - Math.round(n / step)) < 1e-9);
    const said = this.numbersSaid().find(fits);
    if (said !== undefined && !FREE_TEXT.test(name)) return said;
    const low = min ?? (exMin !== null ? exMin + (integer ? 1 : Math.min(1, step ?? 1)) : null);
    const high = max ?? exMax;
    const lowest = min ?? exMin;
    const middle = lowest !== null && high !== null ? (lowest + high) / 2 : null;
    const candidates = [low, 1, 0, middle, max, exMax !== null ? exMax - 1 : null].filter(
      (n): n is number => n !== null,
    );
    for (const candidate of candidates) {
      let n = integer ? Math.ceil(candidate) : candidate;
      if (step !== null) n = Math.ceil(n / step) * step;
      if (fits(n)) return n;
    }
    return low ?? 1;
  }

  private string(schema: Schema, name: string): string {
    const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
    const maxLength = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
    const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined;
    const said = FREE_TEXT.test(name) ? this.hints.text.trim() : PLACE.test(name) ? this.place() : null;
    const sample = typeof schema.pattern === 'string' ? sampleOf(schema.pattern) : null;
    const candidates = [
      format,
      said,
      name.replace(/[^A-Za-z0-9]+/g, ' ').trim() || null,
      sample,
      ...PATTERN_CANDIDATES,
    ];
    const pattern = typeof schema.pattern === 'string' ? safeRegExp(schema.pattern) : null;
    for (const candidate of candidates) {
      if (candidate === null || candidate === undefined || candidate === '') continue;
      const text = fitLength(candidate, minLength, maxLength);
      if (!pattern || pattern.test(text)) return text;
    }
    return fitLength('example', minLength, maxLength);
  }

  /** The place the customer named: capitalised words after "in", "at", "for", "to" or "from". */
  private place(): string | null {
    const match = /\b(?:in|at|for|to|from|near)\s+((?:[A-Z][\p{L}'-]*\s?){1,3})/u.exec(this.hints.text);
    return match?.[1]?.trim() ?? null;
  }

  private numbersSaid(): number[] {
    return (this.hints.text.match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number);
  }
}

/**
 * A string a simple regular expression matches: literals, escapes (`\\d`, `\\w`, `\\s`, `\\.`),
 * classes (`[A-Z0-9_]`), `.`, groups with alternatives (the first taken) and quantifiers (the
 * least count taken, one for `+`). Null for anything it does not read (lookarounds, backreferences).
 */
export function sampleOf(pattern: string): string | null {
  let i = 0;
  const atomAt = (): string | null => {
    const ch = pattern[i]!;
    if (ch === '\\') {
      const next = pattern[i + 1];
      i += 2;
      if (next === undefined) return null;
      if (next === 'd') return '0';
      if (next === 'w') return 'a';
      if (next === 's') return ' ';
      if (/[DWSbB]/.test(next) || /[0-9]/.test(next)) return null;
      return next;
    }
    if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0 || pattern[i + 1] === '^') return null;
      const body = pattern.slice(i + 1, end);
      i = end + 1;
      if (body.startsWith('\\d')) return '0';
      if (body.startsWith('\\w')) return 'a';
      return body[0] === '\\' ? (body[1] ?? null) : (body[0] ?? null);
    }
    if (ch === '(') {
      let depth = 0;
      let end = i;
      for (; end < pattern.length; end += 1) {
        if (pattern[end] === '\\') end += 1;
        else if (pattern[end] === '(') depth += 1;
        else if (pattern[end] === ')' && --depth === 0) break;
      }
      if (end >= pattern.length) return null;
      let inner = pattern.slice(i + 1, end);
      if (inner.startsWith('?:')) inner = inner.slice(2);
      else if (inner.startsWith('?')) return null;
      i = end + 1;
      const first = splitAlternatives(inner)[0] ?? '';
      return sampleOf(first);
    }
    i += 1;
    if (ch === '.') return 'a';
    if ('*+?{|)'.includes(ch)) return null;
    return ch;
  };
  let out = '';
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === '^' || ch === '$') {
      i += 1;
      continue;
    }
    if (ch === '|') break;
    const atom = atomAt();
    if (atom === null) return null;
    let count = 1;
    const quantifier = /^(?:[*?]|\+|\{(\d+)(?:,(\d*))?\})\??/.exec(pattern.slice(i));
    if (quantifier) {
      i += quantifier[0].length;
      const q = quantifier[0][0];
      count = q === '*' || q === '?' ? 0 : q === '+' ? 1 : Number(quantifier[1]);
    }
    out += atom.repeat(count);
  }
  return out;
}

function splitAlternatives(pattern: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < pattern.length; i += 1) {
    const ch = pattern[i];
    if (ch === '\\') i += 1;
    else if (ch === '(' || ch === '[') depth += 1;
    else if (ch === ')' || ch === ']') depth -= 1;
    else if (ch === '|' && depth === 0) {
      parts.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(pattern.slice(start));
  return parts;
}

function safeRegExp(pattern: string): RegExp | null {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return null;
  }
}

function fitLength(text: string, min: number, max: number): string {
  const padded = text.length < min ? text + 'x'.repeat(min - text.length) : text;
  return padded.length > max ? padded.slice(0, max) : padded;
}

/**
 * Arguments for a call of a tool whose parameters are `parameters` (a JSON schema; none or an
 * empty one gives `{}`).
 *
 * @example
 * argumentsFor({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, { text: 'Weather in Paris?' });
 * // { city: 'Paris' }
 */
export function argumentsFor(parameters: Record<string, unknown> | null, hints: ArgumentHints): unknown {
  if (!parameters || Object.keys(parameters).length === 0) return {};
  return new ArgumentMaker(parameters, hints).value(parameters, '', 0);
}
