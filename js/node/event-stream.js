// /api/events: the engine's events as server-sent events, so a page can draw
// this broker while outside clients use it. The stream starts with a snapshot
// (event "snapshot"), then one message per batch of events. The broker is
// subscribed to only while someone listens. A client that reads too slowly
// misses batches instead of growing a buffer; it is told how many (event
// "dropped") once it catches up.
const MAX_BUFFERED = 1024 * 1024;

export const toJson = (value) => JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? Number(v) : v));

export function eventStream(broker) {
  const clients = new Set();
  let unsubscribe = null;

  function broadcast(events) {
    const message = `data: ${toJson(events)}\n\n`;
    for (const c of clients) {
      if (c.res.writableLength > MAX_BUFFERED) c.dropped += events.length;
      else c.res.write(message);
    }
  }

  function handle(req, res) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.write(`retry: 2000\nevent: snapshot\ndata: ${toJson(broker.snapshot())}\n\n`);
    const client = { res, dropped: 0 };
    clients.add(client);
    unsubscribe ??= broker.subscribe(broadcast);
    res.on('drain', () => {
      if (!client.dropped) return;
      res.write(`event: dropped\ndata: {"count":${client.dropped}}\n\n`);
      client.dropped = 0;
    });
    res.on('close', () => {
      clients.delete(client);
      if (!clients.size && unsubscribe) {
        unsubscribe();
        unsubscribe = null;
      }
    });
  }

  /** Ends every stream (at shutdown). */
  function close() {
    for (const c of clients) c.res.end();
  }

  return { handle, close };
}
