"""Publisher confirms with pika: confirm_delivery() on a durable queue with
delivery_mode=2 returns once the broker confirmed; a mandatory publish that
reaches no queue raises UnroutableError; a nack raises NackError.
Prints one JSON object with what happened.

usage: confirms.py PORT
"""
import json
import sys

import pika

port = int(sys.argv[1])
connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
channel = connection.channel()
channel.confirm_delivery()
channel.queue_declare(queue="pika.confirmed", durable=True)
result = {}
for i in range(20):
    channel.basic_publish(
        exchange="",
        routing_key="pika.confirmed",
        body=f"safe {i}".encode(),
        properties=pika.BasicProperties(delivery_mode=2),
        mandatory=True,
    )
result["confirmed"] = 20
try:
    channel.basic_publish(exchange="amq.direct", routing_key="nobody", body=b"lost", mandatory=True)
    result["unroutable"] = False
except pika.exceptions.UnroutableError as e:
    result["unroutable"] = True
    result["returned"] = [m.method.reply_code for m in e.messages]
channel.queue_declare(queue="pika.full", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
channel.basic_publish(exchange="", routing_key="pika.full", body=b"fits")
try:
    channel.basic_publish(exchange="", routing_key="pika.full", body=b"refused")
    result["nacked"] = False
except pika.exceptions.NackError:
    result["nacked"] = True
ok = channel.queue_declare(queue="pika.confirmed", durable=True, passive=True)
result["count"] = ok.method.message_count
print(json.dumps(result), flush=True)
connection.close()
