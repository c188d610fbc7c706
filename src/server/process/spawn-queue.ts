/**
 * Shells start one per event-loop turn. Where node-pty forks the whole server synchronously
 * (tens of milliseconds each on a small machine; everywhere the spawner cannot run), a burst of
 * connections whose shells all started in one turn would stall the event loop for seconds: no
 * handshake, output or timer would run, and timeouts would fire against clients that did their
 * part. With the spawner, a start is only a pty opened and a line written, but a burst still
 * goes out in turns, so that I/O and timers run in between. The queue is process-wide because
 * the resource it shares, the event loop, is.
 * @module
 */

const queue: Array<() => void> = [];
let scheduled = false;

function runNext(): void {
  queue.shift()?.();
  if (queue.length > 0) {
    setImmediate(runNext);
  } else {
    scheduled = false;
  }
}

/** Runs `start` on a later turn of the event loop, after the starts queued before it. */
export function enqueueSpawn(start: () => void): void {
  queue.push(start);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runNext);
  }
}
