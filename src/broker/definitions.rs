//! The topology as declarations, for exporting definitions (RabbitMQ's
//! `definitions.json`) and for the management API: exchanges, queues and
//! bindings a client declared, durable or not. The standard exchanges and the
//! default exchange's implicit bindings are left out, and for definitions
//! exclusive queues and their bindings too, as RabbitMQ leaves them out.

use super::command::{Bind, ExchangeDeclare, QueueDeclare};
use super::engine::Broker;
use super::exchange::Destination;
use super::value::ShortStr;

/// Declarations per vhost, sorted by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Topology {
    pub vhosts: Vec<ShortStr>,
    pub exchanges: Vec<(ShortStr, ExchangeDeclare)>,
    pub queues: Vec<(ShortStr, QueueDeclare)>,
    /// (vhost, destination is a queue, binding)
    pub bindings: Vec<(ShortStr, bool, Bind)>,
}

fn is_standard(name: &str) -> bool {
    name.is_empty() || name.starts_with("amq.")
}

impl Broker {
    /// `exclusive`: with exclusive queues and their bindings.
    pub fn topology(&self, exclusive: bool) -> Topology {
        let mut t = Topology::default();
        for v in self.live_vhosts() {
            t.vhosts.push(v.name.clone());
            let exchanges = v.exchanges_by_name();
            for x in &exchanges {
                if !is_standard(&x.name) {
                    t.exchanges.push((v.name.clone(), x.declaration()));
                }
            }
            for id in v.queue_ids_by_name() {
                if let Some(q) = self
                    .queue(id)
                    .filter(|q| exclusive || q.exclusive_owner.is_none())
                {
                    t.queues.push((v.name.clone(), q.declaration()));
                }
            }
            for x in &exchanges {
                if x.name.is_empty() {
                    continue;
                }
                for b in &x.bindings {
                    let to_queue = match &b.destination {
                        Destination::Queue(id, _) => {
                            if self
                                .queue(*id)
                                .map_or(true, |q| !exclusive && q.exclusive_owner.is_some())
                            {
                                continue;
                            }
                            true
                        }
                        Destination::Exchange(_) => false,
                    };
                    t.bindings.push((
                        v.name.clone(),
                        to_queue,
                        Bind {
                            destination: b.destination.name().clone(),
                            source: x.name.clone(),
                            routing_key: b.routing_key.clone(),
                            arguments: b.arguments.clone(),
                        },
                    ));
                }
            }
        }
        t
    }
}
