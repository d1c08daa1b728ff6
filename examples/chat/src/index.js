// A chat room per name: a Durable Object that holds its clients' WebSockets with the
// hibernation API (it may be evicted between messages; its sockets stay open) and keeps the
// room's history in its SQLite storage, so a client that joins — or rejoins after a restart —
// gets what was said. The page is public/index.html.
import { DurableObject } from "cloudflare:workers";

const HISTORY = 100;

export class ChatRoom extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, at INTEGER, name TEXT, text TEXT)",
    );
    // Answered without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  async fetch(request) {
    if (request.headers.get("upgrade") !== "websocket") {
      return new Response("expected a WebSocket", { status: 426 });
    }
    const name = new URL(request.url).searchParams.get("name") || "anonymous";
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [name]);
    server.serializeAttachment({ name });
    const history = this.ctx.storage.sql
      .exec("SELECT at, name, text FROM messages ORDER BY id DESC LIMIT ?", HISTORY)
      .toArray()
      .reverse();
    server.send(JSON.stringify({ type: "history", messages: history }));
    this.broadcast({ type: "joined", name });
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws, data) {
    const { name } = ws.deserializeAttachment();
    const text = String(data).slice(0, 2000);
    const at = Date.now();
    this.ctx.storage.sql.exec("INSERT INTO messages (at, name, text) VALUES (?, ?, ?)", at, name, text);
    this.broadcast({ type: "message", at, name, text });
  }

  async webSocketClose(ws, code, reason) {
    const { name } = ws.deserializeAttachment() ?? {};
    this.broadcast({ type: "left", name }, ws);
  }

  broadcast(event, except = undefined) {
    const text = JSON.stringify(event);
    for (const socket of this.ctx.getWebSockets()) {
      if (socket === except || socket.readyState !== WebSocket.OPEN) continue;
      try {
        socket.send(text);
      } catch {
        // A client gone away is dropped at its close.
      }
    }
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/ws") {
      const room = url.searchParams.get("room") || "lobby";
      return env.ROOMS.getByName(room).fetch(request);
    }
    return new Response("Not found", { status: 404 });
  },
};
