/** A seeded pseudo-random generator (mulberry32): the same seed gives the same sequence. */
export type Rng = () => number;

export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEX = '0123456789abcdef';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomChars(rng: Rng, alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(rng() * alphabet.length)];
  return out;
}

/** Ids in the API's formats: `resp_<48 hex>`, `msg_…`, `fc_…`, `rs_…`, `call_<24 alnum>`. */
export interface IdSource {
  response(): string;
  item(prefix: 'msg' | 'fc' | 'fco' | 'rs' | 'cmp'): string;
  callId(): string;
}

export function createIdSource(rng: Rng): IdSource {
  return {
    response: () => `resp_${randomChars(rng, HEX, 48)}`,
    item: (prefix) => `${prefix}_${randomChars(rng, HEX, 48)}`,
    callId: () => `call_${randomChars(rng, ALNUM, 24)}`,
  };
}
