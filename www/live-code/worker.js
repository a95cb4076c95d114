// The learner's program runs here, in a worker of the page: a loop that never
// yields freezes only this worker, and Stop ends it. Its WebSocket is a
// stand-in (warren-mq's webSocketFor) whose bytes cross a MessagePort to the
// broker in the page, so the broker sees an ordinary AMQP connection.

const AsyncFunction = (async () => {}).constructor;
const say = (kind, text) => self.postMessage({ kind, text });
const words = (x) => (typeof x === 'string' ? x : x instanceof Error ? x.message : (JSON.stringify(x) ?? String(x)));
const message = (e) => (e instanceof Error ? e.message : String(e?.message ?? e));

// What the client reports (a channel closed with 406, a connection dropped) is shown as it says it.
self.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  say('error', message(e.reason));
});
self.addEventListener('error', (e) => {
  e.preventDefault();
  say('error', e.message);
});

self.onmessage = async ({ data }) => {
  const { code, port, websocketUrl } = data;
  let names;
  try {
    const [{ webSocketFor }, amqp] = await Promise.all([import(websocketUrl), import('./vendor/amqp-client.js')]);
    self.WebSocket = webSocketFor(port);
    // The client's own errors (a channel closed by the broker) reach its onerror, not a promise.
    class AMQPWebSocketClient extends amqp.AMQPWebSocketClient {
      constructor(...args) {
        super(...args);
        this.onerror = (err) => say('error', err.message);
      }
    }
    const print = (...args) => say('log', args.map(words).join(' '));
    console.log = print;
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    names = {
      AMQPWebSocketClient,
      AMQPError: amqp.AMQPError,
      print,
      sleep,
      // The lessons' and the playground's stand-ins for real work, in real time.
      process: () => sleep(1000),
      work: (ms = 1000) => sleep(ms),
      chargeCard: () => sleep(1500),
      slowJob: () => sleep(8000),
    };
  } catch (e) {
    say('error', `the program could not start: ${message(e)}`);
    return;
  }
  let run;
  try {
    run = new AsyncFunction(...Object.keys(names), code);
  } catch (e) {
    say('error', `${e.name}: ${e.message}`);
    return;
  }
  say('started', '');
  try {
    await run(...Object.values(names));
    say('done', '');
  } catch (e) {
    say('error', e instanceof Error && !(e instanceof names.AMQPError) ? `${e.name}: ${e.message}` : message(e));
  }
};
