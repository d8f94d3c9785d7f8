import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

/**
 * Validators compiled from the official OpenAPI spec (`test/fixtures/openai-openapi.yml`), with
 * `$ref`s resolved inside the document. Load once per test file: parsing takes about a second.
 */
export interface SpecValidators {
  /** Throws with ajv's errors when `value` does not match the named component schema. */
  check(schemaName: string, value: unknown): void;
  /** Validates a stream event against `ResponseStreamEvent` and against the schema of its `type`. */
  checkEvent(event: unknown): void;
}

interface Components {
  schemas: Record<string, { anyOf?: { $ref: string }[]; properties?: { type?: { enum?: string[] } } }>;
}

const SPEC_PATH = new URL('../fixtures/openai-openapi.yml', import.meta.url);

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv2020) => void }).default;

export function loadSpec(): SpecValidators {
  const document = parse(readFileSync(SPEC_PATH, 'utf8'), { maxAliasCount: -1 }) as {
    components: Components;
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('unixtime', true);
  ajv.addSchema({ $id: 'openapi', components: document.components });
  const compiled = new Map<string, ValidateFunction>();
  const validator = (name: string): ValidateFunction => {
    let fn = compiled.get(name);
    if (!fn) {
      fn = ajv.getSchema(`openapi#/components/schemas/${name}`);
      if (!fn) throw new Error(`The spec has no component schema '${name}'.`);
      compiled.set(name, fn);
    }
    return fn;
  };
  const eventSchemas = new Map<string, string>();
  for (const ref of document.components.schemas.ResponseStreamEvent?.anyOf ?? []) {
    const name = ref.$ref.split('/').at(-1)!;
    const type = document.components.schemas[name]?.properties?.type?.enum?.[0];
    if (type) eventSchemas.set(type, name);
  }
  const check = (schemaName: string, value: unknown): void => {
    const fn = validator(schemaName);
    if (!fn(value)) {
      const errors = (fn.errors ?? [])
        .slice(0, 8)
        .map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
      throw new Error(
        `Not a valid ${schemaName}: ${errors.join('; ')}\n${JSON.stringify(value).slice(0, 600)}`,
      );
    }
  };
  return {
    check,
    checkEvent(event) {
      check('ResponseStreamEvent', event);
      const type = (event as { type?: string }).type ?? '';
      const name = eventSchemas.get(type);
      if (!name) throw new Error(`The spec has no stream event of type '${type}'.`);
      check(name, event);
    },
  };
}
