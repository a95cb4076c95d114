"""Publishes one persistent message to the durable queue `task_queue`
(RabbitMQ tutorial 2, new_task.py)."""
import sys

import pika

port, message = int(sys.argv[1]), sys.argv[2]
params = pika.ConnectionParameters("127.0.0.1", port, connection_attempts=1, socket_timeout=5)
connection = pika.BlockingConnection(params)
channel = connection.channel()
channel.queue_declare(queue="task_queue", durable=True)
channel.basic_publish(
    exchange="",
    routing_key="task_queue",
    body=message.encode(),
    properties=pika.BasicProperties(delivery_mode=2),
)
print("sent", message, flush=True)
connection.close()
