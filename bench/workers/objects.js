// The Durable Objects and WebSockets benchmark's worker (bench/objects.py), for Verge and
// workerd alike: /count — a request to one object, which reads, increments and writes its
// counter; /rpc — the same as an RPC call; /echo — a WebSocket echoed by the worker itself;
// /room — a WebSocket held by one object through the hibernation API, echoed by it.
import { DurableObject } from "cloudflare:workers";

export class Counter extends DurableObject {
  async fetch(request) {
    if (new URL(request.url).pathname === "/room") {
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server);
      return new Response(null, { status: 101, webSocket: client });
    }
    return new Response(String(await this.increment()));
  }
  async increment() {
    const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return n;
  }
  webSocketMessage(ws, message) {
    ws.send(message);
  }
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    const counter = env.COUNTER.get(env.COUNTER.idFromName("bench"));
    if (path === "/count" || path === "/room") return counter.fetch(request);
    if (path === "/rpc") return new Response(String(await counter.increment()));
    if (path === "/echo") {
      const { 0: client, 1: server } = new WebSocketPair();
      server.accept();
      server.addEventListener("message", (event) => server.send(event.data));
      return new Response(null, { status: 101, webSocket: client });
    }
    return new Response("ok");
  },
};
