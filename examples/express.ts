// The shell in an express 5 app: the app's own page at /, the shell at /shell/.
// Run: SHELL_TOKEN=a-secret-of-16-or-more PORT=8080 npx tsx examples/express.ts
import express from 'express';
import type { AddressInfo } from 'node:net';
import { createShellHandlers } from 'xterm-js-shell';

const token = process.env.SHELL_TOKEN;
if (token === undefined || token.length < 16) {
  console.error('set SHELL_TOKEN to a secret of at least 16 characters');
  process.exit(1);
}
const shell = createShellHandlers({ basePath: '/shell/', token });

const app = express();
// First, before any body parser: the session API reads its own request bodies.
app.use(shell.handleRequest);
app.get('/', (_request, response) => {
  response.type('html').send('<h1>Your app</h1><p><a href="/shell/">Open the shell</a></p>\n');
});

const server = app.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', (error) => {
  if (error !== undefined) throw error;
  const { port } = server.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${port}/ (the shell at /shell/)`);
});
server.on('upgrade', shell.handleUpgrade);
server.headersTimeout = 10_000; // a slow client may not hold a socket for long

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Ends every connection (1001) and its shell, then the server, then the process.
    void shell.close().then(() => server.close(() => process.exit(0)));
  });
}
