// The library inside an existing http.Server: the upgrade on /shell goes to a WebSocketHandler
// (README example). Run: npx tsx examples/with-http-server.ts
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { SUBPROTOCOL_V1, WebSocketHandler, type AuthCallback } from '../src/server/index.js';

// Your own check: a session cookie, a JWT, a database lookup. Return false to refuse.
const checkCredential: AuthCallback = (message) => message === process.env.SHELL_TOKEN;

const server = createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' }).end('your application\n');
});
const wss = new WebSocketServer({
  noServer: true,
  handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL_V1) ? SUBPROTOCOL_V1 : false),
});

server.on('upgrade', (request, socket, head) => {
  if (new URL(request.url ?? '/', 'http://localhost').pathname !== '/shell') {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(request, socket, head, (websocket) => {
    void new WebSocketHandler(websocket, { authCallback: checkCredential, request }).run();
  });
});

server.listen(8080, '127.0.0.1', () => console.log('listening on http://127.0.0.1:8080/'));
