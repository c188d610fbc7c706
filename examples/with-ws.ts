// The library with a plain `ws` server: one WebSocketHandler per connection (README example).
// Run: SHELL_TOKEN=some-long-secret-token npx tsx examples/with-ws.ts
import { WebSocketServer } from 'ws';
import { createTokenAuth, SUBPROTOCOL_V1, WebSocketHandler } from '../src/server/index.js';

const token = process.env.SHELL_TOKEN;
if (token === undefined || token.length < 16) {
  throw new Error('set SHELL_TOKEN to a secret of at least 16 characters');
}
const authCallback = createTokenAuth(token);
const shutdown = new AbortController();

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 8765,
  // Offer the v1 protocol to pages that ask for it; others get the original text format.
  handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL_V1) ? SUBPROTOCOL_V1 : false),
});

wss.on('connection', (websocket, request) => {
  const handler = new WebSocketHandler(websocket, {
    authCallback,
    shutdownSignal: shutdown.signal,
    request,
  });
  handler.run().then(
    (result) => console.log('connection ended:', result.reasons.join('; ')),
    (error: unknown) => console.error('handler failed:', error),
  );
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    shutdown.abort(); // ends every connection (1001) and its shell
    wss.close(() => process.exit(0));
  });
}
