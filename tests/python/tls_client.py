"""pika over amqps with verification on both sides: the server checked
against the test root CA, a client certificate; logs in with EXTERNAL (the
certificate's CN) or PLAIN, publishes with a confirm and reads it back.

Usage: tls_client.py PORT PKI_DIR CLIENT external|plain
"""
import os
import ssl
import sys

import pika

port, pki, client, how = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
context = ssl.create_default_context(cafile=os.path.join(pki, "root.pem"))
context.load_cert_chain(os.path.join(pki, client + ".pem"), os.path.join(pki, client + ".key"))
credentials = (
    pika.credentials.ExternalCredentials()
    if how == "external"
    else pika.PlainCredentials("app", "pw")
)
params = pika.ConnectionParameters(
    "127.0.0.1",
    port,
    credentials=credentials,
    ssl_options=pika.SSLOptions(context, "localhost"),
)
conn = pika.BlockingConnection(params)
ch = conn.channel()
ch.confirm_delivery()
queue = "a.pika" if how == "external" else "pika.tls"
ch.queue_declare(queue, exclusive=True)
ch.basic_publish("", queue, b"secured", mandatory=True)
method, _, body = ch.basic_get(queue, auto_ack=True)
print("got", body.decode())
try:
    ch.queue_declare("b.forbidden")
    print("declared b.forbidden")
except pika.exceptions.ChannelClosedByBroker as e:
    print("refused", e.reply_code, e.reply_text)
conn.close()
