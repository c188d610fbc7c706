// The shell in a node:http app: the app's own page at /, the shell at /shell/.
// Run: SHELL_TOKEN=a-secret-of-16-or-more PORT=8080 npx tsx examples/with-http-server.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createShellHandlers } from 'xterm-js-shell';

const token = process.env.SHELL_TOKEN;
if (token === undefined || token.length < 16) {
  console.error('set SHELL_TOKEN to a secret of at least 16 characters');
  process.exit(1);
}
// The page, its assets, healthz, the session API and the WebSocket, all below /shell/.
const shell = createShellHandlers({ basePath: '/shell/', token });

const server = createServer((request, response) => {
  // The shell answers what is below /shell/; everything else is the app's.
  shell.handleRequest(request, response, () => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end('<h1>Your app</h1><p><a href="/shell/">Open the shell</a></p>\n');
  });
});
server.on('upgrade', shell.handleUpgrade);
server.headersTimeout = 10_000; // a slow client may not hold a socket for long

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${port}/ (the shell at /shell/)`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Ends every connection (1001) and its shell, then the server, then the process.
    void shell.close().then(() => server.close(() => process.exit(0)));
  });
}
