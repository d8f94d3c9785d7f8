export { CLERK_TOOLS, createShopClerk, type ShopClerkOptions } from './brain.js';
export {
  applyIntent,
  canonicalLines,
  normaliseIntent,
  parseIntents,
  parseMessage,
  renderIntent,
  unrecognisedProducts,
  type DesiredOrder,
  type Intent,
  type OrderLine,
} from './language.js';
