/**
 * Talking to a live shell in handler tests: type a line and read back what it printed, and
 * record the order of v1 messages a client received.
 * @module
 */
import type { RawData } from 'ws';
import { decodeServerMessage, type ServerMessage } from '../../src/protocol/v1.js';
import type { Closed, LegacyClient, V1Client } from './clients.js';
import { waitFor, type WaitOptions } from './wait-for.js';

/**
 * Types `line` (Enter included) and waits for `pattern` in the output that follows. Write the
 * pattern so that the echo of the line itself cannot match it (`pid=$$:` echoes as typed, the
 * answer as `pid=123:`).
 */
export async function typeAndMatch(
  client: LegacyClient | V1Client,
  line: string,
  pattern: RegExp,
  options: WaitOptions = {},
): Promise<RegExpExecArray> {
  await client.opened;
  const start = client.outputLength;
  const since = (): string => client.output().subarray(start).toString('utf8');
  client.sendInput(`${line}\r`);
  try {
    return await waitFor(() => pattern.exec(since()), {
      message: `${String(pattern)} after typing ${JSON.stringify(line)}`,
      ...options,
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}; output since: ${JSON.stringify(since())}`);
  }
}

/**
 * Asks an interactive bash for its own pid and starts `job` in the background; returns both
 * pids. `job` is a command line that ends by starting one background process (`sleep 1000 &`).
 */
export async function startJob(
  client: LegacyClient | V1Client,
  job = 'sleep 1000 &',
): Promise<{ shell: number; job: number }> {
  const match = await typeAndMatch(client, `${job} echo "pids=$$,$!:"`, /pids=(\d+),(\d+):/);
  return { shell: Number(match[1]), job: Number(match[2]) };
}

/**
 * Waits for `marker` at the end of the output so far. Cheap for outputs of many megabytes: it
 * looks only at the bytes that arrived since the last check, never at the whole output.
 */
export async function waitForTail(
  client: LegacyClient | V1Client,
  marker: string,
  options: WaitOptions = {},
): Promise<void> {
  const needle = Buffer.from(marker);
  let checked = 0;
  await waitFor(
    () => {
      const length = client.outputLength;
      if (length === checked) {
        return false;
      }
      // The new bytes and a needle's length before them, in case the marker straddles the two.
      const tail = client.tail(length - checked + needle.length);
      checked = length;
      return tail.includes(needle);
    },
    { message: `${JSON.stringify(marker)} in the output (${checked} bytes so far)`, ...options },
  );
}

/**
 * How the client's socket closed, waited for with a deadline: a bare `await client.closed` would
 * hang the whole suite when a server never closes.
 */
export async function closeOf(
  client: LegacyClient | V1Client,
  options: WaitOptions = {},
): Promise<Closed> {
  return waitFor(() => client.closeInfo, { message: 'the socket to close', ...options });
}

/** The types of the v1 messages `client` receives from now on, in order. */
export function recordMessageTypes(client: V1Client): Array<ServerMessage['type']> {
  const types: Array<ServerMessage['type']> = [];
  client.socket.on('message', function socketOnMessage(data: RawData) {
    types.push(decodeServerMessage(data as Buffer).type);
  });
  return types;
}
