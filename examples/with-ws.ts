// The shell with a `ws` server of your own: the app's page at /, the shell's page at /shell/,
// and each WebSocket your server accepts there handed to the shell.
// Run: SHELL_TOKEN=a-secret-of-16-or-more PORT=8080 npx tsx examples/with-ws.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { createShellHandlers } from 'xterm-js-shell';

const token = process.env.SHELL_TOKEN;
if (token === undefined || token.length < 16) {
  console.error('set SHELL_TOKEN to a secret of at least 16 characters');
  process.exit(1);
}
const shell = createShellHandlers({ basePath: '/shell/', token });

const server = createServer((request, response) => {
  shell.handleRequest(request, response, () => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end('<h1>Your app</h1><p><a href="/shell/">Open the shell</a></p>\n');
  });
});
// The shell checks the origin (4016 for another site), admits and authenticates each one.
const wss = new WebSocketServer({ server, path: '/shell/', maxPayload: 1 << 20 });
wss.on('connection', shell.handleConnection);

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${port}/ (the shell at /shell/)`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Ends every connection (1001) and its shell, then the servers, then the process.
    void shell.close().then(() => wss.close(() => server.close(() => process.exit(0))));
  });
}
