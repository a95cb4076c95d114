"""AMQP features as pika sees them: nack/reject with requeue, transactions,
consumer cancel notifications, and channel errors with their reply codes.
Prints one JSON object with what happened.

usage: features.py PORT
"""
import json
import sys

import pika

port = int(sys.argv[1])
connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
result = {}

ch = connection.channel()
ch.queue_declare(queue="pika.requeue")
ch.basic_publish(exchange="", routing_key="pika.requeue", body=b"again")
method, _, _ = ch.basic_get("pika.requeue")
ch.basic_nack(method.delivery_tag, requeue=True)
method, _, body = ch.basic_get("pika.requeue")
result["nack_requeued"] = [body.decode(), method.redelivered]
ch.basic_reject(method.delivery_tag, requeue=False)
result["reject_dropped"] = ch.basic_get("pika.requeue")[0] is None

ch.queue_declare(queue="pika.tx")
ch.tx_select()
ch.basic_publish(exchange="", routing_key="pika.tx", body=b"rolled back")
ch.tx_rollback()
ch.basic_publish(exchange="", routing_key="pika.tx", body=b"committed")
ch.tx_commit()
_, _, body = ch.basic_get("pika.tx", auto_ack=True)
result["tx"] = [body.decode(), ch.basic_get("pika.tx")[0] is None]

cancelled = []
ch.queue_declare(queue="pika.doomed")
ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
tag = ch.basic_consume("pika.doomed", lambda *a: None, auto_ack=True)
other = connection.channel()
other.queue_delete("pika.doomed")
connection.process_data_events(time_limit=1)
result["cancelled"] = cancelled == [tag]

codes = {}
for name, action in [
    ("passive", lambda c: c.queue_declare(queue="pika.missing", passive=True)),
    ("reserved", lambda c: c.exchange_declare(exchange="amq.pika", exchange_type="direct")),
    ("unknown_tag", lambda c: (c.basic_ack(42), c.queue_declare(queue="pika.after"))),
]:
    c = connection.channel()
    try:
        action(c)
        codes[name] = None
    except pika.exceptions.ChannelClosedByBroker as e:
        codes[name] = e.reply_code
result["codes"] = codes
print(json.dumps(result), flush=True)
connection.close()
