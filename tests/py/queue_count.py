"""Prints how many messages are ready in a queue (passive declare)."""
import sys

import pika

port, queue = int(sys.argv[1]), sys.argv[2]
params = pika.ConnectionParameters("127.0.0.1", port, connection_attempts=1, socket_timeout=5)
connection = pika.BlockingConnection(params)
channel = connection.channel()
ok = channel.queue_declare(queue=queue, durable=True, passive=True)
print(f"count {ok.method.message_count}", flush=True)
connection.close()
