/**
 * One v1 login as a client would make it: the hello with a credential, then the verdict. Closes
 * at once when it got in, so a shell started for it ends again.
 * @module
 */
import { SUBPROTOCOL_V1, ServerType, encodeClientHello } from '../../src/protocol/v1.js';
import { wsAttempt, within } from './hostile.js';

export interface Login {
  /** The server said hello: a shell runs. */
  readonly in: boolean;
  readonly code: number;
  readonly reason: string;
}

export async function login(
  url: string,
  credential: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<Login> {
  const attempt = wsAttempt(url, [SUBPROTOCOL_V1], headers);
  let hello = false;
  attempt.socket.on('message', (data: Buffer) => {
    if (data[0] === ServerType.HELLO) {
      hello = true;
      attempt.socket.close(1000);
    }
  });
  await within(attempt.opened, 'the socket to open');
  attempt.socket.send(encodeClientHello({ cols: 80, rows: 24, credential }));
  const outcome = await within(attempt.outcome, 'the server to close');
  return { in: hello, code: outcome.code, reason: outcome.reason };
}
