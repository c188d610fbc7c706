// The shell in a fastify 5 app: the app's own page at /, the shell at /shell/.
// Run: SHELL_TOKEN=a-secret-of-16-or-more PORT=8080 npx tsx examples/fastify.ts
import Fastify from 'fastify';
import { createServer } from 'node:http';
import { createShellHandlers } from 'xterm-js-shell';

const token = process.env.SHELL_TOKEN;
if (token === undefined || token.length < 16) {
  console.error('set SHELL_TOKEN to a secret of at least 16 characters');
  process.exit(1);
}
const shell = createShellHandlers({ basePath: '/shell/', token });

const app = Fastify({
  // The shell answers its requests and upgrades before fastify parses anything; fastify gets
  // every other request.
  serverFactory: (fastifyHandler) =>
    createServer((request, response) => {
      shell.handleRequest(request, response, () => fastifyHandler(request, response));
    }).on('upgrade', shell.handleUpgrade),
  connectionTimeout: 30_000, // a slow client may not hold a socket for long
});
app.get('/', async (_request, reply) =>
  reply.type('text/html').send('<h1>Your app</h1><p><a href="/shell/">Open the shell</a></p>\n'),
);

const address = await app.listen({ port: Number(process.env.PORT ?? 8080), host: '127.0.0.1' });
console.log(`listening on ${address}/ (the shell at /shell/)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Ends every connection (1001) and its shell, then the server, then the process.
    void shell
      .close()
      .then(() => app.close())
      .then(() => process.exit(0));
  });
}
