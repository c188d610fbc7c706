/**
 * Shells start one per event-loop turn. node-pty forks the whole server synchronously (tens of
 * milliseconds each on a small machine), so a burst of connections whose shells all started in
 * one turn would stall the event loop for seconds: no handshake, output or timer would run, and
 * timeouts would fire against clients that did their part. Between two forks, I/O and timers
 * run. The queue is process-wide because the resource it shares, the event loop, is.
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
