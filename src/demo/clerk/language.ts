import { type Catalogue, defaultCatalogue, findProduct, joinWords, type Product } from '../shop/catalogue.js';
import { deepFreeze } from './memo.js';

/**
 * The customer language: the small English the simulated customers write and the shop clerk
 * understands. `renderIntent` writes an intent in one of a few phrasings; `parseMessage` reads it
 * back (the round trip is exact, and property-tested); `applyIntent` is the reference meaning of
 * an intent, used by the clerk to know what the customer wants and by the simulator to check
 * the shop's final state.
 */

export type OrderLine = { product: string; quantity: number };

export type Intent =
  | { kind: 'order'; items: OrderLine[] }
  | { kind: 'add'; items: OrderLine[] }
  /** Sets one product's quantity; 0 removes it. */
  | { kind: 'set'; product: string; quantity: number }
  | { kind: 'cancel' }
  | { kind: 'status' }
  | { kind: 'menu' }
  | { kind: 'chat' };

/** What the customer wants: null until they order. Items are sorted by product, without zero quantities. */
export type DesiredOrder = { items: OrderLine[]; cancelled: boolean } | null;

const SPELLED = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
const NUMBER_WORDS: ReadonlyMap<string, number> = new Map([
  ...SPELLED.map((word, n): [string, number] => [word, n]),
  ['a', 1],
  ['an', 1],
  ['some', 1],
  ['another', 1],
]);

/** Words that may stand between a quantity and its product: "2 large pizzas", "2 more colas". */
const QUANTITY_FILLERS = new Set(
  'of more extra large small medium big regular diet hot cold iced'.split(' '),
);
/** Words that may stand between a removal verb and its product: "remove all the fries". */
const REMOVAL_FILLERS = new Set(['the', 'my', 'all', 'those', 'these', 'that', 'any', 'of', 'your']);
const REMOVAL_VERBS = new Set(['remove', 'drop', 'delete', 'cancel', 'no', 'take']);
const ADD_WORDS = new Set(['add', 'also', 'another', 'more', 'too', 'plus', 'extra']);
const QUESTION_OPENERS = new Set(['do', 'does', 'is', 'are', 'how', 'why', 'which']);
const ORDER_VERBS = new Set(['like', 'want', 'get', 'have', 'order', 'add', 'take', 'need', 'make', 'give']);
/** Nouns that follow a quantity without being a product request: "I have a question". */
const NOT_PRODUCTS = new Set(
  (
    'few lot bit minute minutes moment second seconds question questions little couple word thing things problem ' +
    'while day days time hour hours pm am and or please thanks order orders new quick good nice great same refund ' +
    'look mistake favour favor way person people friend friends kid kids table the to for with it that them more ' +
    'other one menu receipt discount'
  ).split(' '),
);

/** A product name as words, longest names first so "french fries" wins over "fries". */
interface Lexicon {
  names: { words: string[]; product: string }[];
  units: Set<string>;
}

const lexicons = new WeakMap<Catalogue, Lexicon>();

/** The lexicon of a catalogue, built once: the clerk parses every message of a context on every call. */
function buildLexicon(catalogue: Catalogue): Lexicon {
  let lexicon = lexicons.get(catalogue);
  if (!lexicon) lexicons.set(catalogue, (lexicon = makeLexicon(catalogue)));
  return lexicon;
}

function makeLexicon(catalogue: Catalogue): Lexicon {
  const names: Lexicon['names'] = [];
  const units = new Set<string>();
  for (const entry of catalogue) {
    for (const name of new Set([entry.singular, entry.plural, entry.product, ...(entry.aliases ?? [])])) {
      names.push({ words: tokenize(name), product: entry.product });
    }
    if (entry.unit) units.add(entry.unit.singular).add(entry.unit.plural);
  }
  names.sort((a, b) => b.words.length - a.words.length);
  return { names, units };
}

/** Lower-case words; apostrophes stay inside words ("i'd", "what's"), other punctuation splits. */
function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[^a-z0-9']+/g, ' ')
    .split(' ')
    .map((word) => word.replace(/^'+|'+$/g, ''))
    .filter((word) => word.length > 0);
}

function quantityOf(word: string | undefined): number | null {
  if (word === undefined) return null;
  if (/^\d{1,6}$/.test(word)) return Number(word);
  return NUMBER_WORDS.get(word) ?? null;
}

interface Mention {
  product: string;
  start: number;
  end: number;
  /** The quantity written before the product, if any. */
  quantity: number | null;
}

function productAt(
  tokens: readonly string[],
  i: number,
  lexicon: Lexicon,
): { product: string; end: number } | null {
  for (const name of lexicon.names) {
    if (name.words.length > 0 && name.words.every((word, k) => tokens[i + k] === word)) {
      return { product: name.product, end: i + name.words.length };
    }
  }
  return null;
}

/** The index of the first word at or after `from` that is not a filler (at most `limit` skipped). */
function skipFillers(
  tokens: readonly string[],
  from: number,
  fillers: (word: string) => boolean,
  limit = 3,
): number {
  let i = from;
  while (i < tokens.length && i - from < limit && fillers(tokens[i] ?? '')) i += 1;
  return i;
}

function findMentions(tokens: readonly string[], lexicon: Lexicon): Mention[] {
  const mentions: Mention[] = [];
  const isFiller = (word: string) => QUANTITY_FILLERS.has(word) || lexicon.units.has(word);
  for (let i = 0; i < tokens.length; i += 1) {
    const match = productAt(tokens, i, lexicon);
    if (!match) continue;
    // Look back over fillers ("2 portions of fries") for the quantity.
    let j = i - 1;
    while (j >= 0 && i - j <= 3 && isFiller(tokens[j] ?? '')) j -= 1;
    mentions.push({ product: match.product, start: i, end: match.end, quantity: quantityOf(tokens[j]) });
    i = match.end - 1;
  }
  return mentions;
}

function hasPhrase(tokens: readonly string[], phrase: string): boolean {
  return ` ${tokens.join(' ')} `.includes(` ${phrase} `);
}

/**
 * Reads a customer message as an intent. Unknown words are ignored; a message naming no known
 * product in an order is chat (see {@link unrecognisedProducts} for what it did not know).
 *
 * @example
 * parseMessage("I'd like 2 pizzas and a cola"); // { kind: 'order', items: [{ product: 'cola', quantity: 1 }, { product: 'pizza', quantity: 2 }] }
 */
const PARSE_CACHE_LIMIT = 10_000;
const parsed = new WeakMap<Catalogue, Map<string, Intent>>();

export function parseMessage(text: string, catalogue: Catalogue = defaultCatalogue): Intent {
  // Parsing is pure, and customers repeat themselves: remember recent answers (bounded).
  let cache = parsed.get(catalogue);
  if (!cache) parsed.set(catalogue, (cache = new Map<string, Intent>()));
  const key = typeof text === 'string' ? text : '';
  const hit = cache.get(key);
  if (hit) return hit;
  // Shared between callers, so frozen: a caller that tried to change it would throw.
  const intent = deepFreeze(parseUncached(key, catalogue));
  if (cache.size >= PARSE_CACHE_LIMIT) cache.clear();
  cache.set(key, intent);
  return intent;
}

function parseUncached(text: string, catalogue: Catalogue): Intent {
  const tokens = tokenize(text);
  const lexicon = buildLexicon(catalogue);
  const mentions = findMentions(tokens, lexicon);
  return (
    parseRemoval(tokens, mentions) ??
    (tokens.includes('cancel') ? { kind: 'cancel' } : null) ??
    parseSet(tokens, mentions) ??
    parseAdd(tokens, mentions) ??
    (isStatusQuestion(tokens) ? { kind: 'status' } : null) ??
    (isMenuQuestion(tokens) ? { kind: 'menu' } : null) ??
    parseOrder(tokens, mentions) ?? { kind: 'chat' }
  );
}

const compoundCache = new WeakMap<Catalogue, Map<string, readonly Intent[]>>();
/** Where a clause ends and the next begins: "…, and …", "… then …", "…; …". */
const CLAUSE_BREAK = /\s*(?:[,;]\s*)?\b(?:and|then|but)\b\s*|\s*[,;]\s*/i;

/**
 * A message read as the intents it states, in order. One message may cancel the order and order
 * something else in one breath ("Cancel ord_1 and order 2 pizzas instead"): that is the
 * cancellation, then a new order (an `add` there means a new order too). Any other message is the
 * one intent {@link parseMessage} reads.
 *
 * @example
 * parseIntents('Cancel my order and get me 2 pizzas instead'); // [{ kind: 'cancel' }, { kind: 'order', items: [pizza ×2] }]
 * parseIntents("I'd like 2 pizzas"); // [parseMessage("I'd like 2 pizzas")]
 */
export function parseIntents(text: string, catalogue: Catalogue = defaultCatalogue): readonly Intent[] {
  const key = typeof text === 'string' ? text : '';
  let cache = compoundCache.get(catalogue);
  if (!cache) compoundCache.set(catalogue, (cache = new Map<string, readonly Intent[]>()));
  let intents = cache.get(key);
  if (intents === undefined) {
    intents = deepFreeze(compoundOf(key, catalogue) ?? [parseMessage(key, catalogue)]);
    if (cache.size >= PARSE_CACHE_LIMIT) cache.clear();
    cache.set(key, intents);
  }
  return intents;
}

function compoundOf(text: string, catalogue: Catalogue): Intent[] | null {
  const at = text.toLowerCase().search(/\bcancel\b/);
  if (at < 0) return null;
  const rest = text.slice(at);
  const split = CLAUSE_BREAK.exec(rest);
  if (!split || split.index === 0) return null;
  const first = parseMessage(text.slice(0, at + split.index), catalogue);
  const second = parseMessage(rest.slice(split.index + split[0].length), catalogue);
  if (first.kind !== 'cancel' || (second.kind !== 'order' && second.kind !== 'add')) return null;
  return [first, second.kind === 'order' ? second : { kind: 'order', items: second.items }];
}

/** "no fries please", "remove the fries", "take the fries off", "cancel the fries". */
function parseRemoval(tokens: readonly string[], mentions: readonly Mention[]): Intent | null {
  for (let t = 0; t < tokens.length; t += 1) {
    const verb = tokens[t] ?? '';
    if (!REMOVAL_VERBS.has(verb)) continue;
    if (verb === 'take' && !tokens.slice(t).some((word) => word === 'off' || word === 'out')) continue;
    const at = skipFillers(tokens, t + 1, (word) => REMOVAL_FILLERS.has(word));
    const mention = mentions.find((m) => m.start === at);
    if (mention) return { kind: 'set', product: mention.product, quantity: 0 };
  }
  return null;
}

/** "make it 3 pizzas", "make that a cola", "change the pizzas to 3". */
function parseSet(tokens: readonly string[], mentions: readonly Mention[]): Intent | null {
  const makeIt =
    hasPhrase(tokens, 'make it') || hasPhrase(tokens, 'make that') || hasPhrase(tokens, 'make them');
  const changeTo =
    ['change', 'set', 'update', 'switch'].some((verb) => tokens.includes(verb)) && tokens.includes('to');
  const mention = mentions[0];
  if (!mention || (!makeIt && !changeTo)) return null;
  const after = tokens[mention.end] === 'to' ? quantityOf(tokens[mention.end + 1]) : null;
  const quantity = mention.quantity ?? after ?? (makeIt ? 1 : null);
  return quantity === null ? null : { kind: 'set', product: mention.product, quantity };
}

function parseAdd(tokens: readonly string[], mentions: readonly Mention[]): Intent | null {
  const adding = tokens.some((word) => ADD_WORDS.has(word)) || hasPhrase(tokens, 'as well');
  if (!adding || mentions.length === 0) return null;
  return { kind: 'add', items: linesOf(mentions) };
}

function parseOrder(tokens: readonly string[], mentions: readonly Mention[]): Intent | null {
  // "Do you have pizza?" asks about the menu; it does not order.
  if (mentions.length === 0 || QUESTION_OPENERS.has(tokens[0] ?? '')) return null;
  const items = linesOf(mentions);
  return items.length > 0 ? { kind: 'order', items } : null;
}

function isStatusQuestion(tokens: readonly string[]): boolean {
  const aboutOrder = tokens.includes('order') || tokens.includes('food') || tokens.includes('it');
  return (
    tokens.includes('status') ||
    tokens.includes('ready') ||
    tokens.includes('track') ||
    ((tokens.includes('where') || tokens.includes("where's") || tokens.includes('check')) && aboutOrder)
  );
}

function isMenuQuestion(tokens: readonly string[]): boolean {
  const phrases = [
    'what do you have',
    'what do you sell',
    'what do you offer',
    'what can i order',
    'what can i get',
    'how much',
  ];
  return (
    ['menu', 'price', 'prices', 'options'].some((word) => tokens.includes(word)) ||
    phrases.some((phrase) => hasPhrase(tokens, phrase))
  );
}

function linesOf(mentions: readonly Mention[]): OrderLine[] {
  return canonicalLines(mentions.map((m) => ({ product: m.product, quantity: m.quantity ?? 1 })));
}

/**
 * Words a message asks for that are not products: "I'd like 2 tacos" → `['tacos']`. Only
 * messages that ask for something are read, so "I have a question" names nothing.
 */
export function unrecognisedProducts(text: string, catalogue: Catalogue = defaultCatalogue): string[] {
  const tokens = tokenize(typeof text === 'string' ? text : '');
  if (!tokens.some((word) => ORDER_VERBS.has(word))) return [];
  const lexicon = buildLexicon(catalogue);
  const isFiller = (word: string) => QUANTITY_FILLERS.has(word) || lexicon.units.has(word);
  const unknown: string[] = [];
  for (let i = 0; i < tokens.length; i += 1) {
    if (quantityOf(tokens[i]) === null || tokens[i] === 'some' || tokens[i] === 'another') continue;
    const at = skipFillers(tokens, i + 1, isFiller);
    const word = tokens[at];
    if (word === undefined || productAt(tokens, at, lexicon) || quantityOf(word) !== null) continue;
    // An unknown word before a product is an adjective ("a vegan pizza"), not a product.
    if (productAt(tokens, at + 1, lexicon)) continue;
    if (NOT_PRODUCTS.has(word) || !/^[a-z]{3,}$/.test(word) || unknown.includes(word)) continue;
    unknown.push(word);
  }
  return unknown;
}

/** Merges lines per product, drops zero quantities and sorts by product: the canonical item list. */
export function canonicalLines(lines: readonly OrderLine[]): OrderLine[] {
  const merged = new Map<string, number>();
  for (const line of lines) merged.set(line.product, (merged.get(line.product) ?? 0) + line.quantity);
  const canonical: OrderLine[] = [];
  for (const [product, quantity] of merged) if (quantity > 0) canonical.push({ product, quantity });
  // By product, by insertion: lists are short, and products are distinct after merging.
  for (let i = 1; i < canonical.length; i += 1) {
    const line = canonical[i]!;
    let j = i - 1;
    for (; j >= 0 && line.product < canonical[j]!.product; j -= 1) canonical[j + 1] = canonical[j]!;
    canonical[j + 1] = line;
  }
  return canonical;
}

/** An intent in canonical form: item lists merged and sorted. `parseMessage` returns canonical intents. */
export function normaliseIntent(intent: Intent): Intent {
  if (intent.kind === 'order' || intent.kind === 'add') {
    return { kind: intent.kind, items: canonicalLines(intent.items) };
  }
  return intent;
}

/**
 * The reference meaning of an intent: what the customer wants after saying it.
 * Ordering, adding or setting a quantity without an open order starts a new one; removing the
 * last item of an order cancels it (an order cannot be empty).
 *
 * @example
 * applyIntent(null, { kind: 'order', items: [{ product: 'pizza', quantity: 2 }] }); // { items: [pizza ×2], cancelled: false }
 */
export function applyIntent(desired: DesiredOrder, intent: Intent): DesiredOrder {
  const open = desired !== null && !desired.cancelled ? desired.items : null;
  switch (intent.kind) {
    case 'order':
    case 'add': {
      const items = canonicalLines([...(open ?? []), ...intent.items]);
      return items.length > 0 ? { items, cancelled: false } : desired;
    }
    case 'set': {
      if (open === null && intent.quantity <= 0) return desired;
      const others = (open ?? []).filter((line) => line.product !== intent.product);
      const items = canonicalLines([
        ...others,
        { product: intent.product, quantity: Math.max(0, intent.quantity) },
      ]);
      return items.length > 0 ? { items, cancelled: false } : { items: [], cancelled: true };
    }
    case 'cancel':
      return desired === null ? null : { items: desired.items, cancelled: true };
    default:
      return desired;
  }
}

/**
 * Writes an intent as a customer would. `variant` (any integer) picks the phrasing and whether
 * numbers are spelled out; the result always parses back to the (normalised) intent.
 *
 * @example
 * renderIntent({ kind: 'add', items: [{ product: 'cola', quantity: 1 }] }, 1); // 'Please add a cola.'
 */
export function renderIntent(
  intent: Intent,
  variant: number,
  catalogue: Catalogue = defaultCatalogue,
): string {
  const v = Number.isSafeInteger(variant) ? Math.abs(variant) : 0;
  const spelled = Math.floor(v / 4) % 2 === 1;
  const pick = (phrasings: readonly string[]): string => phrasings[v % phrasings.length] ?? '';
  switch (intent.kind) {
    case 'order': {
      const list = renderLines(intent.items, catalogue, spelled);
      return pick([
        `I'd like ${list}.`,
        `Can I get ${list}?`,
        `Hi! Could I have ${list}, please?`,
        `I want to order ${list}.`,
      ]);
    }
    case 'add': {
      const list = renderLines(intent.items, catalogue, spelled);
      return pick([
        `Add ${list}.`,
        `Please add ${list}.`,
        `Can you also add ${list}?`,
        `Oh, and ${list} as well, please.`,
      ]);
    }
    case 'set':
      return renderSet(intent.product, intent.quantity, catalogue, spelled, pick);
    case 'cancel':
      return pick([
        'Cancel my order.',
        'Please cancel the order.',
        'I changed my mind, cancel it please.',
        'Actually, cancel everything.',
      ]);
    case 'status':
      return pick([
        'Where is my order?',
        "What's the status of my order?",
        'Is my order ready?',
        'Can you check on my order?',
      ]);
    case 'menu':
      return pick([
        'What do you have?',
        'Can I see the menu?',
        "What's on the menu today?",
        'What are your prices?',
      ]);
    case 'chat':
      return pick(['Hello!', 'Thanks!', 'Are you open on Sunday?', 'Do you deliver?']);
  }
}

function renderSet(
  product: string,
  quantity: number,
  catalogue: Catalogue,
  spelled: boolean,
  pick: (phrasings: readonly string[]) => string,
): string {
  const plural = findProduct(catalogue, product)?.plural ?? product;
  if (quantity <= 0) {
    return pick([
      `No ${plural}, please.`,
      `Remove the ${plural}.`,
      `Please take the ${plural} off my order.`,
    ]);
  }
  const amount = renderLine({ product, quantity }, catalogue, spelled);
  return pick([
    `Make it ${amount}.`,
    `Actually, make that ${amount}.`,
    `Can you change the ${plural} to ${quantity}?`,
  ]);
}

function renderLines(lines: readonly OrderLine[], catalogue: Catalogue, spelled: boolean): string {
  return joinWords(canonicalLines(lines).map((line) => renderLine(line, catalogue, spelled)));
}

/** "a pizza", "two pizzas", "3 portions of fries": the quantity as a customer writes it. */
function renderLine(line: OrderLine, catalogue: Catalogue, spelled: boolean): string {
  const entry: Product = findProduct(catalogue, line.product) ?? {
    product: line.product,
    singular: line.product,
    plural: line.product,
    priceCents: 0,
  };
  const one = line.quantity === 1;
  const noun = entry.unit
    ? `${one ? entry.unit.singular : entry.unit.plural} of ${entry.plural}`
    : one
      ? entry.singular
      : entry.plural;
  const count =
    one && !spelled
      ? /^[aeiou]/.test(noun)
        ? 'an'
        : 'a'
      : spelled
        ? (SPELLED[line.quantity] ?? String(line.quantity))
        : String(line.quantity);
  return `${count} ${noun}`;
}
