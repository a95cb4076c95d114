//! The engine loop the benchmarks time: one queue, one consumer (prefetch
//! 1000), 16-byte bodies, `batch` publishes between flushes, each batch acked
//! with `multiple`; through the default exchange, or a named one. Kept in the library so that `bench/engine.rs` (native) and
//! `benchEngine` (wasm) time exactly the same code.

use crate::broker::{
    AmqpError, Bind, Broker, BrokerConfig, ChannelRef, ConnectionInfo, Consume, Effect, Message,
    Props, Qos, QueueDeclare, ShortStr,
};

pub const BODY: [u8; 16] = *b"0123456789abcdef";

pub struct EngineLoop {
    pub broker: Broker,
    pub channel: ChannelRef,
    pub queue: ShortStr,
    /// The exchange published to (empty: the default exchange).
    pub exchange: ShortStr,
    effects: Vec<Effect>,
}

impl EngineLoop {
    /// A broker with the queue `bench` declared on one open channel.
    pub fn new() -> Result<EngineLoop, AmqpError> {
        EngineLoop::through("")
    }

    /// The same, publishing through `exchange` (`amq.direct`, say), which
    /// binds the queue by its name; "" is the default exchange.
    pub fn through(exchange: &str) -> Result<EngineLoop, AmqpError> {
        let mut broker = Broker::new(BrokerConfig::default());
        let conn = broker.connection_open(0, ConnectionInfo::default())?;
        let channel = ChannelRef::new(conn, 1);
        broker.channel_open(0, channel)?;
        let queue = ShortStr::truncated("bench");
        let declare = QueueDeclare {
            queue: queue.clone(),
            ..Default::default()
        };
        broker.queue_declare(0, channel, declare)?;
        let exchange = ShortStr::truncated(exchange);
        if !exchange.is_empty() {
            let bind = Bind {
                destination: queue.clone(),
                source: exchange.clone(),
                routing_key: queue.clone(),
                arguments: Default::default(),
            };
            broker.queue_bind(0, channel, bind)?;
        }
        Ok(EngineLoop {
            broker,
            channel,
            queue,
            exchange,
            effects: Vec::new(),
        })
    }

    /// One message for the queue.
    #[inline]
    pub fn message(&self) -> Message {
        Message::from_parts(&self.exchange, &self.queue, Props::default(), &BODY)
    }

    /// Starts the consumer the loop delivers to.
    pub fn consume(&mut self) -> Result<(), AmqpError> {
        let qos = Qos {
            prefetch_count: 1000,
            ..Default::default()
        };
        self.broker.basic_qos(0, self.channel, qos)?;
        let consume = Consume {
            queue: self.queue.clone(),
            ..Default::default()
        };
        self.broker.basic_consume(0, self.channel, consume)?;
        self.broker.poll(0);
        Ok(())
    }

    /// Publishes, delivers and acks at least `n` messages; returns how many
    /// were delivered.
    pub fn run(&mut self, n: u64, batch: u64) -> Result<u64, AmqpError> {
        let batch = batch.max(1);
        let mut delivered = 0u64;
        while delivered < n {
            for _ in 0..batch {
                let m = self.message();
                self.broker
                    .basic_publish(0, self.channel, m, false, false)?;
            }
            self.broker.flush(0);
            self.broker.drain_effects_into(&mut self.effects);
            let mut last = 0;
            // A lone effect (a batch of one) is popped: a `Drain` costs a
            // call to drop it, which only a longer batch spreads thin.
            if self.effects.len() == 1 {
                if let Some(tag) = self.effects.pop().and_then(delivered_tag) {
                    last = tag;
                    delivered += 1;
                }
            } else {
                for e in self.effects.drain(..) {
                    if let Effect::Deliver {
                        delivery_tag,
                        message,
                        ..
                    } = e
                    {
                        std::hint::black_box(&message.body());
                        last = delivery_tag;
                        delivered += 1;
                    }
                }
            }
            if last > 0 {
                self.broker.basic_ack(0, self.channel, last, true)?;
            }
        }
        Ok(delivered)
    }
}

/// The tag of a delivery, its body read as a host would; None for any other
/// effect.
#[inline(always)]
fn delivered_tag(e: Effect) -> Option<u64> {
    match e {
        Effect::Deliver {
            delivery_tag,
            message,
            ..
        } => {
            std::hint::black_box(&message.body());
            Some(delivery_tag)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::EngineLoop;

    /// Every batch size, the lone effect's path included, delivers each
    /// message and acks it: nothing stays ready or unacked.
    #[test]
    fn each_batch_size_delivers_and_acks_every_message() {
        for (batch, exchange) in [(1, ""), (1, "amq.direct"), (3, ""), (64, "")] {
            let mut l = EngineLoop::through(exchange).unwrap();
            l.consume().unwrap();
            let delivered = l.run(192, batch).unwrap();
            assert_eq!(delivered, 192, "batch {batch} {exchange}");
            let counts = l.broker.queue_counts("/", "bench").unwrap();
            assert_eq!((counts.ready, counts.unacked), (0, 0), "batch {batch}");
        }
    }
}
