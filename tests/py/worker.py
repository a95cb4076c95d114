"""A `task_queue` consumer with prefetch 1 (RabbitMQ tutorial 2, worker.py).

mode "hold": manual ack, but never acks (waits to be killed)
mode "ack":  manual ack, acks the first message and exits
mode "auto": auto_ack, then waits to be killed
"""
import sys

import pika

port, mode = int(sys.argv[1]), sys.argv[2]
params = pika.ConnectionParameters("127.0.0.1", port, connection_attempts=1, socket_timeout=5)
connection = pika.BlockingConnection(params)
channel = connection.channel()
channel.queue_declare(queue="task_queue", durable=True)
channel.basic_qos(prefetch_count=1)


def on_message(ch, method, properties, body):
    print(f"received {body.decode()} redelivered={method.redelivered}", flush=True)
    if mode == "ack":
        ch.basic_ack(delivery_tag=method.delivery_tag)
        ch.stop_consuming()


channel.basic_consume(queue="task_queue", on_message_callback=on_message, auto_ack=(mode == "auto"))
print("ready", flush=True)
channel.start_consuming()
connection.close()
