"""The consumer of RabbitMQ's tutorial 2 (worker.py): prefetch 1, and the work
(a sleep) happens before basic_ack, so a worker killed mid-task loses nothing.
With --auto-ack the broker forgets the message as soon as it is sent.

usage: worker.py PORT SLEEP_SECONDS [QUEUE] [--auto-ack] [--once]
"""
import sys
import time

import pika

args = [a for a in sys.argv[1:] if not a.startswith("--")]
port, work = int(args[0]), float(args[1])
queue = args[2] if len(args) > 2 else "task_queue"
auto_ack = "--auto-ack" in sys.argv
once = "--once" in sys.argv

connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
channel = connection.channel()
channel.queue_declare(queue=queue, durable=True)
print(" [*] Waiting for messages", flush=True)


def callback(ch, method, properties, body):
    print(f" [x] Received {body.decode()} redelivered={method.redelivered}", flush=True)
    time.sleep(work)
    print(" [x] Done", flush=True)
    if not auto_ack:
        ch.basic_ack(delivery_tag=method.delivery_tag)
    if once:
        ch.stop_consuming()


channel.basic_qos(prefetch_count=1)
channel.basic_consume(queue=queue, on_message_callback=callback, auto_ack=auto_ack)
channel.start_consuming()
connection.close()
