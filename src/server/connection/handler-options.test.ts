// WebSocketHandler options: the original's defaults, and a bad value refused naming the option.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveHandlerOptions, type WebSocketHandlerOptions } from './handler-options.js';

/** Options as a careless JavaScript caller might pass them, past the type checker. */
function loose(options: Record<string, unknown>): WebSocketHandlerOptions {
  return options;
}

describe('handler options', () => {
  it('default to the original handler: 1 s logout, 3 s terminate, 5 s auth, bash -l', () => {
    const resolved = resolveHandlerOptions();
    assert.equal(resolved.shellLogoutWaitMs, 1000);
    assert.equal(resolved.shellTerminateWaitMs, 3000);
    assert.equal(resolved.authTimeoutMs, 5000);
    assert.deepEqual(resolved.userShellCommand, ['/bin/bash', '-l']);
    assert.equal(resolved.authCallback, undefined);
    assert.equal(resolved.logLevel, 'info');
  });

  it('default to a ping every 30 s and the documented flow-control marks', () => {
    const resolved = resolveHandlerOptions({});
    assert.equal(resolved.pingIntervalMs, 30_000);
    assert.equal(resolved.highWaterBytes, 256 * 1024);
    assert.equal(resolved.lowWaterBytes, 64 * 1024);
    assert.equal(resolved.ackBytes, 32 * 1024);
    assert.equal(resolved.maxMessageBytes, 1024 * 1024);
    assert.deepEqual(resolved.env, {});
    assert.equal(resolved.cwd, undefined);
  });

  it('convert seconds to milliseconds, fractions and 0 included', () => {
    const resolved = resolveHandlerOptions({
      shellLogoutWait: 0.5,
      shellTerminateWait: 2,
      authTimeout: 0.25,
      pingInterval: 0,
    });
    assert.equal(resolved.shellLogoutWaitMs, 500);
    assert.equal(resolved.shellTerminateWaitMs, 2000);
    assert.equal(resolved.authTimeoutMs, 250);
    assert.equal(resolved.pingIntervalMs, 0);
  });

  it('copy the shell command, so a later change by the caller has no effect', () => {
    const command = ['/bin/sh', '-c', 'echo hi'];
    const resolved = resolveHandlerOptions({ userShellCommand: command });
    command[0] = '/bin/false';
    assert.deepEqual(resolved.userShellCommand, ['/bin/sh', '-c', 'echo hi']);
  });

  it('derive the low and ack marks from a smaller high mark', () => {
    const resolved = resolveHandlerOptions({ flowControl: { highWaterBytes: 4000 } });
    assert.equal(resolved.highWaterBytes, 4000);
    assert.equal(resolved.lowWaterBytes, 1000);
    assert.equal(resolved.ackBytes, 500);
  });

  it('accept marks given explicitly', () => {
    const resolved = resolveHandlerOptions({
      flowControl: { highWaterBytes: 100, lowWaterBytes: 50, ackBytes: 10 },
      maxMessageBytes: 4096,
    });
    assert.deepEqual(
      [resolved.highWaterBytes, resolved.lowWaterBytes, resolved.ackBytes],
      [100, 50, 10],
    );
    assert.equal(resolved.maxMessageBytes, 4096);
  });

  describe('refuse a bad value with an error that names the option', () => {
    const cases: Array<[string, Record<string, unknown>, ErrorConstructor, RegExp]> = [
      ['userShellCommand []', { userShellCommand: [] }, TypeError, /userShellCommand/],
      ["userShellCommand ['']", { userShellCommand: [''] }, TypeError, /userShellCommand/],
      ['userShellCommand "bash"', { userShellCommand: 'bash' }, TypeError, /userShellCommand/],
      [
        "userShellCommand ['/bin/sh', 1]",
        { userShellCommand: ['/bin/sh', 1] },
        TypeError,
        /userShellCommand/,
      ],
      ['logLevel "verbose"', { logLevel: 'verbose' }, RangeError, /logLevel/],
      ['shutdownSignal {}', { shutdownSignal: {} }, TypeError, /shutdownSignal/],
      ['authCallback "token"', { authCallback: 'token' }, TypeError, /authCallback/],
      ['shellLogoutWait -1', { shellLogoutWait: -1 }, RangeError, /shellLogoutWait/],
      ['shellLogoutWait NaN', { shellLogoutWait: Number.NaN }, RangeError, /shellLogoutWait/],
      ['shellLogoutWait "1"', { shellLogoutWait: '1' }, RangeError, /shellLogoutWait/],
      [
        'shellTerminateWait Infinity',
        { shellTerminateWait: Infinity },
        RangeError,
        /shellTerminateWait/,
      ],
      ['shellTerminateWait -0.5', { shellTerminateWait: -0.5 }, RangeError, /shellTerminateWait/],
      ['authTimeout -1', { authTimeout: -1 }, RangeError, /authTimeout/],
      ['authTimeout null', { authTimeout: null }, RangeError, /authTimeout/],
      ['pingInterval -30', { pingInterval: -30 }, RangeError, /pingInterval/],
      [
        'flowControl.highWaterBytes 0',
        { flowControl: { highWaterBytes: 0 } },
        RangeError,
        /flowControl\.highWaterBytes/,
      ],
      [
        'flowControl.highWaterBytes 1.5',
        { flowControl: { highWaterBytes: 1.5 } },
        RangeError,
        /flowControl\.highWaterBytes/,
      ],
      [
        'flowControl.lowWaterBytes -1',
        { flowControl: { lowWaterBytes: -1 } },
        RangeError,
        /flowControl\.lowWaterBytes/,
      ],
      [
        'flowControl.lowWaterBytes equal to highWaterBytes',
        { flowControl: { highWaterBytes: 1000, lowWaterBytes: 1000 } },
        RangeError,
        /lowWaterBytes must be below highWaterBytes/,
      ],
      [
        'flowControl.ackBytes equal to lowWaterBytes',
        { flowControl: { highWaterBytes: 1000, lowWaterBytes: 500, ackBytes: 500 } },
        RangeError,
        /ackBytes must be below lowWaterBytes/,
      ],
      [
        'flowControl.ackBytes "1"',
        { flowControl: { ackBytes: '1' } },
        RangeError,
        /flowControl\.ackBytes/,
      ],
      ['maxMessageBytes 0', { maxMessageBytes: 0 }, RangeError, /maxMessageBytes/],
      ['sessionStore {}', { sessionStore: {} }, TypeError, /sessionStore/],
      // setTimeout fires at once for a delay above 2^31 - 1 ms (24.8 days): such a timeout
      // would end every authentication, or cut every socket, the moment it starts.
      [
        'authTimeout 2147484 (over 2^31 - 1 ms)',
        { authTimeout: 2147484 },
        RangeError,
        /authTimeout/,
      ],
      [
        'pingInterval 2147484 (over 2^31 - 1 ms)',
        { pingInterval: 2147484 },
        RangeError,
        /pingInterval/,
      ],
    ];
    for (const [name, options, type, message] of cases) {
      it(name, () => {
        assert.throws(
          () => resolveHandlerOptions(loose(options)),
          (error: unknown) => {
            assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`);
            assert.match(error.message, message);
            return true;
          },
        );
      });
    }

    it('options that are not an object', () => {
      assert.throws(() => resolveHandlerOptions(null as unknown as WebSocketHandlerOptions), {
        name: 'TypeError',
        message: /options must be an object/,
      });
    });
  });
});
