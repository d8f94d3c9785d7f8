export { createShopClerk, type ShopClerkOptions } from './brain.js';
export {
  applyIntent,
  canonicalLines,
  normaliseIntent,
  parseMessage,
  renderIntent,
  unrecognisedProducts,
  type DesiredOrder,
  type Intent,
  type OrderLine,
} from './language.js';
