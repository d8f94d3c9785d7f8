import { expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson } from './define-tool.js';
it('matches JSON.parse round trip', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
    }),
  );
  expect(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] })).toBe('{"a":[1,{"d":2}],"b":1}');
});
