/**
 * The longest delay a Node timer can wait: setTimeout fires at once (after 1 ms) for anything
 * above 2^31 - 1 ms, so a longer timeout would silently mean "now". Every option in seconds
 * that becomes a timer is checked against this.
 * @module
 */
export const MAX_TIMER_SECONDS = Math.floor(0x7fffffff / 1000);
