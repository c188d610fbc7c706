// /metrics: Prometheus text that a scraper can parse, with the counts a user would check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_HIGH_WATER_BYTES } from '../../src/server/connection/handler-options.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

/** Parses the Prometheus text exposition format into `name{labels}` → value. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)(?: \d+)?$/.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${line}`);
    samples.set(match[1] as string, Number(match[2]));
  }
  return samples;
}

async function scrape(server: TestServer): Promise<Map<string, number>> {
  const response = await fetch(`${server.httpUrl}metrics`, {
    headers: { Authorization: `Bearer ${TEST_TOKEN}` },
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await response.text());
}

function sample(samples: Map<string, number>, name: string): number {
  const value = samples.get(name);
  assert.notEqual(value, undefined, `missing sample ${name}`);
  return value as number;
}

describe('metrics', () => {
  it('is not served unless asked for', async () => {
    const server = await startServer();
    try {
      assert.equal((await fetch(`${server.httpUrl}metrics`)).status, 404);
    } finally {
      await server.close();
    }
  });

  it('counts connections, sessions, auth failures, bytes, pauses and durations', async () => {
    const server = await startServer({
      metrics: true,
      resumeWindow: 30,
      userShellCommand: ['/bin/bash', '--norc', '--noprofile'],
    });
    try {
      const before = await scrape(server);
      assert.equal(sample(before, 'xterm_js_shell_connections'), 0);
      assert.equal(sample(before, 'xterm_js_shell_sessions'), 0);
      assert.equal(sample(before, 'xterm_js_shell_auth_failures_total{reason="refused"}'), 0);
      assert.ok(before.has('xterm_js_shell_process_resident_memory_bytes'));

      const bad = new LegacyClient(server.wsUrl, { credential: 'wrong-token-wrong-token' });
      assert.equal((await bad.closed).code, 4001);

      const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN, autoAck: false });
      await client.waitForHello();
      client.sendInput('echo metrics-$((6*7)); yes | head -c 3000000\r');
      await client.waitForText('metrics-42');
      // The client never acknowledges, so the server pauses the shell soon after high water.
      await waitFor(() => client.receivedOffset > DEFAULT_HIGH_WATER_BYTES, {
        message: 'a flood past high water',
      });
      const during = await scrape(server);
      assert.equal(sample(during, 'xterm_js_shell_connections'), 1);
      assert.equal(sample(during, 'xterm_js_shell_sessions'), 1);
      assert.equal(sample(during, 'xterm_js_shell_sessions_detached'), 0);
      assert.equal(sample(during, 'xterm_js_shell_auth_failures_total{reason="refused"}'), 1);
      assert.ok(sample(during, 'xterm_js_shell_input_bytes_total') >= 'echo metrics'.length);
      assert.ok(sample(during, 'xterm_js_shell_output_bytes_total') >= client.receivedOffset);
      assert.ok(sample(during, 'xterm_js_shell_flow_control_pauses_total') >= 1);

      // A dropped connection leaves a detached session; a clean close ends it.
      (client.socket as unknown as { _socket: { destroy(): void } })._socket.destroy();
      await waitFor(() => server.server.detachedSessions === 1);
      const detached = await scrape(server);
      assert.equal(sample(detached, 'xterm_js_shell_sessions_detached'), 1);
      assert.equal(sample(detached, 'xterm_js_shell_connections'), 0);

      const resumed = new V1Client(server.wsUrl, {
        credential: TEST_TOKEN,
        resume: { sessionId: client.hello?.sessionId ?? '', offset: client.receivedOffset },
      });
      await resumed.waitForHello();
      resumed.sendInput('exit\r');
      await resumed.closed;
      await waitFor(async () => sample(await scrape(server), 'xterm_js_shell_sessions') === 0);
      const after = await scrape(server);
      assert.equal(sample(after, 'xterm_js_shell_session_duration_seconds_count'), 1);
      assert.equal(sample(after, 'xterm_js_shell_shell_spawn_failures_total'), 0);
    } finally {
      await server.close();
    }
  });

  it('counts shells that cannot be started', async () => {
    const server = await startServer({ metrics: true, userShellCommand: ['/nonexistent/shell'] });
    try {
      const client = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
      assert.equal((await client.closed).code, 4005);
      assert.equal(sample(await scrape(server), 'xterm_js_shell_shell_spawn_failures_total'), 1);
    } finally {
      await server.close();
    }
  });
});
