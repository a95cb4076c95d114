"""Direct reply-to and the empty queue name as pika sees them: an RPC round
trip through amq.rabbitmq.reply-to (tutorial 6 without a callback queue), the
406 for a request without a reply consumer, and a queue named "" meaning the
channel's last declared queue (404 when there is none). Prints one JSON object.

usage: rpc.py PORT
"""
import json
import sys

import pika

port = int(sys.argv[1])
params = pika.ConnectionParameters("127.0.0.1", port)
result = {}

server_conn = pika.BlockingConnection(params)
server = server_conn.channel()
server.queue_declare(queue="pika.rpc")


def on_request(ch, method, props, body):
    ch.basic_publish(
        exchange="",
        routing_key=props.reply_to,
        properties=pika.BasicProperties(correlation_id=props.correlation_id),
        body=b"fib " + body,
    )
    ch.basic_ack(delivery_tag=method.delivery_tag)


server.basic_consume(queue="pika.rpc", on_message_callback=on_request)

client_conn = pika.BlockingConnection(params)
client = client_conn.channel()
replies = []
client.basic_consume(
    queue="amq.rabbitmq.reply-to",
    on_message_callback=lambda ch, m, props, body: replies.append([body.decode(), props.correlation_id]),
    auto_ack=True,
)
for i in range(3):
    client.basic_publish(
        exchange="",
        routing_key="pika.rpc",
        properties=pika.BasicProperties(reply_to="amq.rabbitmq.reply-to", correlation_id=str(i)),
        body=str(i).encode(),
    )
for _ in range(200):
    if len(replies) == 3:
        break
    server_conn.process_data_events(time_limit=0.01)
    client_conn.process_data_events(time_limit=0.01)
result["replies"] = replies

refused = client_conn.channel()
try:
    refused.basic_publish(
        exchange="",
        routing_key="pika.rpc",
        properties=pika.BasicProperties(reply_to="amq.rabbitmq.reply-to"),
        body=b"x",
    )
    refused.queue_declare(queue="pika.rpc", passive=True)
except pika.exceptions.ChannelClosedByBroker as e:
    result["no_reply_consumer"] = [e.reply_code, e.reply_text]

fresh = client_conn.channel()
try:
    fresh.basic_get(queue="")
except pika.exceptions.ChannelClosedByBroker as e:
    result["no_previous"] = [e.reply_code, e.reply_text]

ch = client_conn.channel()
declared = ch.queue_declare(queue="", exclusive=True).method.queue
ch.queue_bind(queue="", exchange="amq.direct")
ch.basic_publish(exchange="amq.direct", routing_key=declared, body=b"shortcut")
method, _, body = ch.basic_get(queue="", auto_ack=True)
result["shortcut"] = body.decode() if method else None

server_conn.close()
client_conn.close()
print(json.dumps(result))
