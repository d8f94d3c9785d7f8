/**
 * The demo shop's catalogue: what customers can order, what it costs and what they call it.
 * The customer language (`src/demo/clerk/language.ts`) reads the names from here, so a
 * catalogue is all it takes to teach the clerk a new product.
 */

/** A counting unit for products that are not counted by themselves ("2 portions of fries"). */
export interface ProductUnit {
  singular: string;
  plural: string;
}

export interface Product {
  /** The product's id, as the tools and the shop name it: `'pizza'`. */
  product: string;
  /** What one is called: `'pizza'`. */
  singular: string;
  /** What several are called: `'pizzas'`. */
  plural: string;
  priceCents: number;
  /** Other names customers use for it (`'coke'`); matched like the singular and plural. */
  aliases?: readonly string[];
  /** Set when the product is counted in a unit: "a portion of fries". */
  unit?: ProductUnit;
}

export type Catalogue = readonly Product[];

/** The largest quantity of one product an order line may hold (the tools reject more). */
export const MAX_LINE_QUANTITY = 50;

/**
 * The demo shop's seven products.
 *
 * @example
 * findProduct(defaultCatalogue, 'cola')?.priceCents; // 250
 */
export const defaultCatalogue: Catalogue = [
  { product: 'pizza', singular: 'pizza', plural: 'pizzas', priceCents: 1200 },
  {
    product: 'burger',
    singular: 'burger',
    plural: 'burgers',
    priceCents: 950,
    aliases: ['hamburger', 'hamburgers'],
  },
  { product: 'salad', singular: 'salad', plural: 'salads', priceCents: 850 },
  {
    product: 'fries',
    singular: 'fries',
    plural: 'fries',
    priceCents: 350,
    aliases: ['fry', 'french fries', 'chips'],
    unit: { singular: 'portion', plural: 'portions' },
  },
  { product: 'cola', singular: 'cola', plural: 'colas', priceCents: 250, aliases: ['coke', 'cokes'] },
  { product: 'water', singular: 'water', plural: 'waters', priceCents: 150 },
  { product: 'coffee', singular: 'coffee', plural: 'coffees', priceCents: 300 },
];

/** The catalogue entry for a product id, or undefined when the catalogue has no such product. */
export function findProduct(catalogue: Catalogue, product: string): Product | undefined {
  return catalogue.find((entry) => entry.product === product);
}

/** A price as customers read it: `1250` → `'$12.50'`. */
export function formatPrice(priceCents: number): string {
  return `$${(priceCents / 100).toFixed(2)}`;
}

/**
 * An order line in words, with digits: `2 pizzas`, `1 portion of fries`. Unknown products are
 * named by their id, so the text never hides what a line holds.
 */
export function describeLine(catalogue: Catalogue, line: { product: string; quantity: number }): string {
  const entry = findProduct(catalogue, line.product);
  if (!entry) return `${line.quantity} ${line.product}`;
  const one = line.quantity === 1;
  if (entry.unit) {
    return `${line.quantity} ${one ? entry.unit.singular : entry.unit.plural} of ${entry.plural}`;
  }
  return `${line.quantity} ${one ? entry.singular : entry.plural}`;
}

/** Joins phrases as a list reads: `a`, `a and b`, `a, b and c`. */
export function joinWords(parts: readonly string[]): string {
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1] ?? ''}`;
}
