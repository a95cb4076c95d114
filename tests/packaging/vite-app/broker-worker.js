// The broker in a module worker: the page's sockets reach it through servePort.
import { Broker, servePort } from 'warren-mq/browser';

Broker.create().then(
  (broker) => {
    servePort(broker, self);
    // Messages that arrive before servePort listens are dropped: the page waits for this.
    self.postMessage('ready');
  },
  (e) => self.postMessage({ error: String(e) }),
);
