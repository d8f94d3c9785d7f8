import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultCatalogue } from '../shop/catalogue.js';
import {
  applyIntent,
  type DesiredOrder,
  type Intent,
  normaliseIntent,
  parseIntents,
  parseMessage,
  renderIntent,
  unrecognisedProducts,
} from './language.js';

const pizza = (quantity: number) => ({ product: 'pizza', quantity });
const cola = (quantity: number) => ({ product: 'cola', quantity });

const products = defaultCatalogue.map((entry) => entry.product);
const lineArb = fc.record({
  product: fc.constantFrom(...products),
  quantity: fc.integer({ min: 1, max: 50 }),
});
const intentArb: fc.Arbitrary<Intent> = fc.oneof(
  fc.record({
    kind: fc.constant('order' as const),
    items: fc.array(lineArb, { minLength: 1, maxLength: 5 }),
  }),
  fc.record({ kind: fc.constant('add' as const), items: fc.array(lineArb, { minLength: 1, maxLength: 5 }) }),
  fc.record({
    kind: fc.constant('set' as const),
    product: fc.constantFrom(...products),
    quantity: fc.integer({ min: 0, max: 50 }),
  }),
  fc.constantFrom<Intent>({ kind: 'cancel' }, { kind: 'status' }, { kind: 'menu' }, { kind: 'chat' }),
);

describe('parseMessage', () => {
  it.each<[string, Intent]>([
    ["I'd like 2 pizzas and a cola", { kind: 'order', items: [cola(1), pizza(2)] }],
    ['Can I get 3 burgers?', { kind: 'order', items: [{ product: 'burger', quantity: 3 }] }],
    ['one pizza please', { kind: 'order', items: [pizza(1)] }],
    ['ten colas and an water', { kind: 'order', items: [cola(10), { product: 'water', quantity: 1 }] }],
    [
      'Can I get 2 portions of fries and a coke',
      { kind: 'order', items: [cola(1), { product: 'fries', quantity: 2 }] },
    ],
    ['add a cola', { kind: 'add', items: [cola(1)] }],
    ['please add 2 fries', { kind: 'add', items: [{ product: 'fries', quantity: 2 }] }],
    ['two more pizzas', { kind: 'add', items: [pizza(2)] }],
    ['make it 3 pizzas', { kind: 'set', product: 'pizza', quantity: 3 }],
    ['Can you change the pizzas to 4?', { kind: 'set', product: 'pizza', quantity: 4 }],
    ['no fries please', { kind: 'set', product: 'fries', quantity: 0 }],
    ['remove the fries', { kind: 'set', product: 'fries', quantity: 0 }],
    ['cancel the colas', { kind: 'set', product: 'cola', quantity: 0 }],
    ['cancel my order', { kind: 'cancel' }],
    ['where is my order?', { kind: 'status' }],
    ["what's the status of my order?", { kind: 'status' }],
    ['what do you have?', { kind: 'menu' }],
    ['can I see the menu?', { kind: 'menu' }],
    ['hello', { kind: 'chat' }],
    ['thanks!', { kind: 'chat' }],
    ['are you open on sunday?', { kind: 'chat' }],
    ['Do you have pizza?', { kind: 'chat' }],
  ])('reads %j', (text, intent) => {
    expect(parseMessage(text)).toEqual(intent);
  });

  it('reads singular and plural names and any quantity word alike', () => {
    expect(parseMessage('I want a burger')).toEqual(parseMessage('I want one burgers'));
    expect(parseMessage('I want 7 burgers')).toEqual(parseMessage('I want seven burger'));
  });

  it('reads a message that names only unknown products as chat', () => {
    expect(parseMessage("I'd like 2 tacos")).toEqual({ kind: 'chat' });
  });

  it('reads any text without throwing', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        expect(() => parseMessage(text)).not.toThrow();
      }),
    );
  });
});

describe('unrecognisedProducts', () => {
  it('names the products a message asks for that the shop does not sell', () => {
    expect(unrecognisedProducts("I'd like 2 tacos and a pizza")).toEqual(['tacos']);
  });

  it('names nothing when the message does not ask for a product', () => {
    expect(unrecognisedProducts('I have a question')).toEqual([]);
    expect(unrecognisedProducts("I'd like a large pizza")).toEqual([]);
    expect(unrecognisedProducts('Where is my order?')).toEqual([]);
  });
});

describe('renderIntent', () => {
  it('parses back to the intent it renders, for every intent and variant', () => {
    fc.assert(
      fc.property(intentArb, fc.integer({ min: 0, max: 1000 }), (intent, variant) => {
        expect(parseMessage(renderIntent(intent, variant))).toEqual(normaliseIntent(intent));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives several phrasings of one intent', () => {
    const texts = new Set(
      [0, 1, 2, 3, 4, 5, 6, 7].map((v) => renderIntent({ kind: 'add', items: [cola(1)] }, v)),
    );
    expect(texts.size).toBeGreaterThanOrEqual(4);
  });

  it('renders the same text for the same intent and variant', () => {
    const intent: Intent = { kind: 'order', items: [pizza(2), cola(1)] };
    expect(renderIntent(intent, 5)).toBe(renderIntent(intent, 5));
  });
});

describe('applyIntent', () => {
  const ordered: DesiredOrder = { items: [pizza(2)], cancelled: false };

  it('starts an order when none is desired', () => {
    expect(applyIntent(null, { kind: 'order', items: [pizza(2)] })).toEqual(ordered);
  });

  it('adds an order to the one already desired', () => {
    expect(applyIntent(ordered, { kind: 'order', items: [pizza(1), cola(1)] })).toEqual({
      items: [cola(1), pizza(3)],
      cancelled: false,
    });
  });

  it('adds a cola twice when asked twice', () => {
    const once = applyIntent(ordered, { kind: 'add', items: [cola(1)] });
    expect(applyIntent(once, { kind: 'add', items: [cola(1)] })).toEqual({
      items: [cola(2), pizza(2)],
      cancelled: false,
    });
  });

  it('sets a quantity, and removes the product at zero', () => {
    expect(applyIntent(ordered, { kind: 'set', product: 'pizza', quantity: 5 })).toEqual({
      items: [pizza(5)],
      cancelled: false,
    });
    const two = applyIntent(ordered, { kind: 'add', items: [cola(1)] });
    expect(applyIntent(two, { kind: 'set', product: 'cola', quantity: 0 })).toEqual(ordered);
  });

  it('cancels the order when its last item is removed', () => {
    expect(applyIntent(ordered, { kind: 'set', product: 'pizza', quantity: 0 })).toEqual({
      items: [],
      cancelled: true,
    });
  });

  it('cancels a desired order and ignores a cancel without one', () => {
    expect(applyIntent(ordered, { kind: 'cancel' })).toEqual({ items: [pizza(2)], cancelled: true });
    expect(applyIntent(null, { kind: 'cancel' })).toBeNull();
  });

  it('starts a new order after a cancelled one', () => {
    const cancelled = applyIntent(ordered, { kind: 'cancel' });
    expect(applyIntent(cancelled, { kind: 'add', items: [cola(1)] })).toEqual({
      items: [cola(1)],
      cancelled: false,
    });
    expect(applyIntent(cancelled, { kind: 'set', product: 'cola', quantity: 0 })).toEqual(cancelled);
  });

  it('leaves the desired order alone for status, menu and chat', () => {
    for (const kind of ['status', 'menu', 'chat'] as const)
      expect(applyIntent(ordered, { kind })).toBe(ordered);
  });

  it('keeps item lists merged, sorted and free of zero quantities', () => {
    fc.assert(
      fc.property(fc.array(intentArb, { maxLength: 15 }), (intents) => {
        const desired = intents.reduce<DesiredOrder>(applyIntent, null);
        if (desired === null) return;
        const names = desired.items.map((line) => line.product);
        expect(names).toEqual([...new Set(names)].sort());
        expect(desired.items.every((line) => line.quantity > 0)).toBe(true);
      }),
    );
  });
});

describe('parseIntents', () => {
  it('reads a cancellation and a new order in one message as two intents', () => {
    for (const text of [
      'Cancel ord_1 and order 2 pizzas',
      'Please cancel my order, and get me 2 pizzas instead.',
      'cancel it and then add 2 pizzas please',
    ]) {
      expect(parseIntents(text)).toEqual([
        { kind: 'cancel' },
        { kind: 'order', items: [{ product: 'pizza', quantity: 2 }] },
      ]);
    }
  });

  it('reads any other message as the one intent parseMessage reads, the same object', () => {
    for (const text of [
      'Cancel my order.',
      'Cancel the fries and add a cola',
      "I'd like 2 pizzas and a cola",
      'Hello!',
    ]) {
      expect(parseIntents(text)).toEqual([parseMessage(text)]);
      expect(parseIntents(text)[0]).toBe(parseMessage(text));
    }
  });
});
