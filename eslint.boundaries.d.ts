import type { Linter } from 'eslint';

/** The units of src/ and the units each may import (see eslint.boundaries.js). */
export declare const UNITS: Record<string, string[]>;
/** The boundary rules, as ESLint flat-config entries. */
export declare const boundaries: Linter.Config[];
