// warren-mq/lite in the page: Broker.create() fetches the lite engine, and a
// client publishes with confirms and consumes with acks and a requeue.
import { Broker } from 'warren-mq/lite';

async function run() {
  const broker = await Broker.create();
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('jobs');
  await ch.confirmSelect();
  const seqs = [];
  for (const body of ['a', 'b']) seqs.push(await ch.basicPublish('', 'jobs', body));
  const consumed = [];
  await ch.prefetch(1);
  await new Promise((resolve) => {
    ch.basicConsume('jobs', { noAck: false }, (msg) => {
      consumed.push([msg.bodyString(), msg.redelivered]);
      // the first delivery goes back once, and comes first again
      if (consumed.length === 1) msg.nack(true);
      else msg.ack();
      if (consumed.length === 3) resolve();
    });
  });
  let snapshot = null;
  try {
    broker.snapshot();
  } catch (e) {
    snapshot = e.message;
  }
  await broker.close();
  return { seqs, consumed, snapshot };
}

window.warrenLite = { run };
document.getElementById('status').textContent = 'ready';
