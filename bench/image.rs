//! Broker images: size, and the time to take and to resume one, with 10k
//! and 100k queued messages (16-byte and 1 KiB bodies; 1,000 of them out
//! unacked to a consumer, the rest ready).
//!
//! Run: `cargo bench --bench image`

use std::time::Instant;
use warren::amqp::connection::ServerConfig;
use warren::amqp::server::Server;
use warren::broker::{
    Broker, BrokerConfig, ChannelRef, ConnectionInfo, Consume, Message, Properties, Qos,
    QueueDeclare, ShortStr,
};

fn server_with(n: usize, body: usize) -> Server {
    let mut b = Broker::new(BrokerConfig::default());
    let conn = b.connection_open(0, ConnectionInfo::default()).unwrap();
    let ch = ChannelRef::new(conn, 1);
    b.channel_open(0, ch).unwrap();
    let q = ShortStr::new("backlog").unwrap();
    let declare = QueueDeclare {
        queue: q.clone(),
        ..Default::default()
    };
    b.queue_declare(0, ch, declare).unwrap();
    for i in 0..n {
        let props = Properties {
            message_id: Some(ShortStr::new(&format!("m{i}")).unwrap()),
            ..Default::default()
        };
        let m = Message::new(ShortStr::empty(), q.clone(), props, vec![7u8; body]);
        b.basic_publish(0, ch, m, false, false).unwrap();
    }
    let qos = Qos {
        prefetch_size: 0,
        prefetch_count: 1000,
        global: false,
    };
    b.basic_qos(0, ch, qos).unwrap();
    let consume = Consume {
        queue: q,
        consumer_tag: ShortStr::new("c").unwrap(),
        ..Default::default()
    };
    b.basic_consume(0, ch, consume).unwrap();
    b.flush(0);
    b.take_effects();
    Server::new(ServerConfig::default(), b)
}

fn main() {
    println!("| queued | body | image | bytes/msg | take | resume |");
    println!("|--:|--:|--:|--:|--:|--:|");
    for n in [10_000, 100_000] {
        for body in [16, 1024] {
            let server = server_with(n, body);
            let t = Instant::now();
            let image = server.image().unwrap();
            let take = t.elapsed();
            let t = Instant::now();
            let resumed =
                Server::resume(ServerConfig::default(), BrokerConfig::default(), &image).unwrap();
            let resume = t.elapsed();
            assert_eq!(resumed.broker().held(), server.broker().held());
            println!(
                "| {n} | {body} B | {:.2} MiB | {:.1} | {:.1} ms | {:.1} ms |",
                image.len() as f64 / (1 << 20) as f64,
                image.len() as f64 / n as f64,
                take.as_secs_f64() * 1e3,
                resume.as_secs_f64() * 1e3,
            );
        }
    }
}
