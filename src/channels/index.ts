/**
 * `graft/channels`: customers on Telegram, WhatsApp, Slack and Teams through Vercel's Chat SDK
 * (`chat` and its `@chat-adapter/*` packages, optional peer dependencies of graft). See
 * docs/channels.md.
 */
export {
  chatLogger,
  createGraftChannels,
  conversationOf,
  messageText,
  originOf,
  replyThread,
} from './channels.js';
export type { ChannelOrigin, GraftChannels, GraftChannelsOptions } from './channels.js';
export { awaitingReply, TypingKeeper, DEFAULT_TYPING_MAX_MS, DEFAULT_TYPING_REFRESH_MS } from './typing.js';
export { adaptersFromEnv, CHANNEL_ENV, parseChannelNames, SUPPORTED_CHANNELS } from './adapters.js';
