// The raw baseline of bench/fanout.ts, a process of its own like the real server, so that both are
// timed and weighed the same way: a plain `ws` server that, on any HTTP POST, sends one fixed
// message to every open socket, then answers 204. It computes nothing per socket: what it costs is
// the least any WebSocket server can cost for the same bytes to the same sockets.
//
// IPC, in: { kind: 'message', data } sets the message; { kind: 'memory' } replies with
// process.memoryUsage() after a full garbage collection and a moment to settle.
// IPC, out: { port } once listening.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export type RawServerCommand = { kind: 'message'; data: string } | { kind: 'memory' };

let message = '';
const server = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    for (const socket of wss.clients) socket.send(message);
    response.writeHead(204).end();
  });
});
const wss = new WebSocketServer({ server });

server.listen(0, () => process.send!({ port: (server.address() as AddressInfo).port }));

process.on('message', (command: RawServerCommand) => {
  if (command.kind === 'message') {
    message = command.data;
    process.send!({});
    return;
  }
  void (async () => {
    for (let i = 0; i < 3; i++) {
      // The same collection as the server's probe (bench/server-probe.mjs), so that both RSS figures compare.
      (globalThis as { gc?: (options: object) => void }).gc?.({
        type: 'major',
        execution: 'sync',
        flavor: 'last-resort',
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    process.send!(process.memoryUsage());
  })();
});
