// The shop's tools for `graft serve --tools` in the shutdown tests (compiled graft, plain Node):
// every write is logged before it runs in a table of the same SQLite database, so a test can
// check that no idempotency key ran more often than it was started.
import { defineTool } from '../../dist/index.js';
import { createAsyncShopTools, createSqliteShop } from '../../dist/demo/shop/sql-shop.js';

const TOOL_LATENCY_MS = Number(process.env.SHUTDOWN_TOOL_LATENCY_MS ?? 150);

export default function tools(opened) {
  const db = opened.database;
  db.exec(
    'CREATE TABLE IF NOT EXISTS test_invocations (n INTEGER PRIMARY KEY, conversation_id TEXT, key TEXT)',
  );
  const logRun = db.prepare('INSERT INTO test_invocations (conversation_id, key) VALUES (?, ?)');
  return createAsyncShopTools(createSqliteShop(db)).map((tool) =>
    defineTool({
      ...tool,
      run: async (args, ctx) => {
        if (ctx.idempotencyKey) logRun.run(ctx.conversationId, ctx.idempotencyKey);
        await new Promise((done) => setTimeout(done, TOOL_LATENCY_MS));
        return tool.run(args, ctx);
      },
    }),
  );
}
