/**
 * A v1 client in a process of its own that pastes a file into the shell, so that what it holds
 * in memory does not count against the server's memory in the test process. Run as
 * `node --import tsx handler-paster.ts URL FILE READY`: once the shell's output contains READY
 * (it is in raw mode: a ^C in the paste is a byte, not a signal), it pastes, then prints
 * `buffered N` (bytes its socket has not sent yet) every 50 ms until the server closes.
 * @module
 */
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import {
  SUBPROTOCOL_V1,
  decodeServerMessage,
  encodeClientHello,
  encodeInput,
} from '../../src/protocol/v1.js';

/** Below the default maxMessageBytes, like a page that splits a paste. */
const FRAME_BYTES = 64 * 1024;

const [url, file, ready] = process.argv.slice(2);
if (url === undefined || file === undefined || ready === undefined) {
  throw new TypeError('usage: handler-paster.ts URL FILE READY');
}
const data = readFileSync(file);
const socket = new WebSocket(url, [SUBPROTOCOL_V1]);
let output = '';
let report: NodeJS.Timeout | undefined;

function paste(): void {
  for (let at = 0; at < data.length; at += FRAME_BYTES) {
    socket.send(encodeInput(data.subarray(at, at + FRAME_BYTES)));
  }
  report = setInterval(() => console.log(`buffered ${socket.bufferedAmount}`), 50);
}

socket.on('open', function socketOnOpen() {
  socket.send(encodeClientHello({ cols: 80, rows: 24 }));
});
socket.on('message', function socketOnMessage(frame: Buffer) {
  const message = decodeServerMessage(frame);
  if (report === undefined && message.type === 'output') {
    output += Buffer.from(message.data).toString('latin1');
    if (output.includes(ready)) {
      paste();
    }
  }
});
socket.on('close', function socketOnClose() {
  clearInterval(report);
});
socket.on('error', (error) => console.error(`paster: ${error.message}`));
