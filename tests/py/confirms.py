"""Publisher confirms: a persistent publish to a durable queue is confirmed;
a mandatory publish to an exchange without bindings raises UnroutableError."""
import sys

import pika

port = int(sys.argv[1])
params = pika.ConnectionParameters("127.0.0.1", port, connection_attempts=1, socket_timeout=5)
connection = pika.BlockingConnection(params)
channel = connection.channel()
channel.confirm_delivery()
channel.queue_declare(queue="confirmed", durable=True)
channel.basic_publish(
    exchange="",
    routing_key="confirmed",
    body=b"safe",
    properties=pika.BasicProperties(delivery_mode=2),
    mandatory=True,
)
print("confirmed", flush=True)
channel.exchange_declare(exchange="nowhere", exchange_type="direct")
try:
    channel.basic_publish(exchange="nowhere", routing_key="nobody", body=b"lost", mandatory=True)
    print("published without error", flush=True)
    sys.exit(1)
except pika.exceptions.UnroutableError:
    print("unroutable", flush=True)
ok = channel.queue_declare(queue="confirmed", durable=True, passive=True)
print(f"count {ok.method.message_count}", flush=True)
connection.close()
