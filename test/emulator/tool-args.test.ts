import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { createShopTools, createMemoryShop } from '../../src/demo/shop/index.js';
import { argumentsFor, sampleOf } from '../../src/emulator/tool-args.js';
import { toolSpec } from '../../src/tools/define-tool.js';

const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv2020) => void }).default;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

const SCHEMAS: Record<string, Record<string, unknown>> = {
  weather: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
    required: ['city', 'unit'],
    additionalProperties: false,
  },
  bounds: {
    type: 'object',
    properties: {
      count: { type: 'integer', minimum: 3, maximum: 9 },
      ratio: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
      step: { type: 'integer', multipleOf: 5, minimum: 7 },
      negative: { type: 'number', maximum: -2 },
      flag: { type: 'boolean' },
      nothing: { type: 'null' },
    },
    required: ['count', 'ratio', 'step', 'negative', 'flag', 'nothing'],
  },
  strings: {
    type: 'object',
    properties: {
      email: { type: 'string', format: 'email' },
      site: { type: 'string', format: 'uri' },
      day: { type: 'string', format: 'date' },
      at: { type: 'string', format: 'date-time' },
      id: { type: 'string', format: 'uuid' },
      code: { type: 'string', pattern: '^[A-Z]{3}-\\d{2}$' },
      sku: { type: 'string', pattern: '^(?:sku|SKU)_[0-9a-f]{4,8}$' },
      short: { type: 'string', minLength: 12, maxLength: 14 },
      query: { type: 'string', maxLength: 10 },
    },
    required: ['email', 'site', 'day', 'at', 'id', 'code', 'sku', 'short', 'query'],
  },
  arrays: {
    type: 'object',
    properties: {
      tags: {
        type: 'array',
        items: { type: 'string', enum: ['a', 'b', 'c'] },
        minItems: 2,
        uniqueItems: true,
      },
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], minItems: 2 },
      none: { type: 'array', items: { type: 'string' }, maxItems: 0 },
      lines: {
        type: 'array',
        items: {
          type: 'object',
          properties: { product: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } },
          required: ['product', 'quantity'],
        },
      },
    },
    required: ['tags', 'pair', 'none', 'lines'],
  },
  composed: {
    type: 'object',
    $defs: { address: { type: 'object', properties: { street: { type: 'string' } }, required: ['street'] } },
    properties: {
      home: { $ref: '#/$defs/address' },
      maybe: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 2 }] },
      either: { oneOf: [{ type: 'string', const: 'x' }, { type: 'number' }] },
      both: {
        allOf: [
          { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          { properties: { b: { type: 'integer' } }, required: ['b'] },
        ],
      },
      kinds: { type: ['null', 'string'] },
    },
    required: ['home', 'maybe', 'either', 'both', 'kinds'],
  },
  recursive: {
    type: 'object',
    $defs: { node: { type: 'object', properties: { child: { $ref: '#/$defs/node' } }, required: ['child'] } },
    properties: { root: { $ref: '#/$defs/node' } },
  },
  empty: {},
};

describe('arguments made from a JSON schema', () => {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    if (name === 'recursive') continue;
    it(`are valid against the ${name} schema`, () => {
      const args = argumentsFor(schema, { text: 'Book it in Rome for 4 people please' });
      const validate = ajv.compile(schema);
      expect(validate(args), JSON.stringify({ args, errors: validate.errors })).toBe(true);
    });
  }

  it('stop at a bounded depth in a recursive schema', () => {
    expect(() => JSON.stringify(argumentsFor(SCHEMAS.recursive!, { text: '' }))).not.toThrow();
  });

  it("take the place and the customer's words where the schema asks for them", () => {
    expect(argumentsFor(SCHEMAS.weather!, { text: 'What is the weather in New York today?' })).toEqual({
      city: 'New York',
      unit: 'celsius',
    });
    expect(argumentsFor(SCHEMAS.strings!, { text: 'find red shoes' })).toMatchObject({ query: 'find red s' });
  });

  it('are valid for the demo shop tools too', () => {
    for (const tool of createShopTools(createMemoryShop()).map((t) => toolSpec(t))) {
      const validate = ajv.compile(tool.parameters);
      const args = argumentsFor(tool.parameters, { text: 'Hello' });
      expect(validate(args), `${tool.name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('sample simple patterns', () => {
    for (const pattern of ['^[A-Z]{3}-\\d{2}$', '^(?:ab|cd)+x?$', '^\\w+@\\w+\\.com$', 'v[0-9]{1,3}']) {
      expect(new RegExp(pattern).test(sampleOf(pattern) ?? ''), pattern).toBe(true);
    }
    expect(sampleOf('^(?=a)b$')).toBeNull();
  });
});
