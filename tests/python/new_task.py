"""The producer of RabbitMQ's tutorial 2 (new_task.py): one persistent message
to the durable queue `task_queue`.

usage: new_task.py PORT MESSAGE [QUEUE]
"""
import sys

import pika

port, message = int(sys.argv[1]), sys.argv[2]
queue = sys.argv[3] if len(sys.argv) > 3 else "task_queue"
connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
channel = connection.channel()
channel.queue_declare(queue=queue, durable=True)
channel.basic_publish(
    exchange="",
    routing_key=queue,
    body=message.encode(),
    properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
)
print(f" [x] Sent {message}", flush=True)
connection.close()
