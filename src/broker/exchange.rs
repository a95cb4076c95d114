//! An exchange and its bindings.

use super::dedup::DedupCache;
use super::ids::QueueId;
use super::routing::headers::headers_match;
use super::routing::topic::TopicPattern;
use super::routing::ExchangeKind;
use super::value::{FieldTable, ShortStr};

/// Where a binding leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Queue(QueueId, ShortStr),
    Exchange(ShortStr),
}

impl Destination {
    pub fn name(&self) -> &ShortStr {
        match self {
            Destination::Queue(_, n) | Destination::Exchange(n) => n,
        }
    }
}

#[derive(Debug)]
pub struct Binding {
    pub destination: Destination,
    pub routing_key: ShortStr,
    pub arguments: FieldTable,
    /// Compiled once for topic exchanges.
    pub topic: Option<TopicPattern>,
}

#[derive(Debug)]
pub struct Exchange {
    pub name: ShortStr,
    pub kind: ExchangeKind,
    pub durable: bool,
    pub auto_delete: bool,
    pub internal: bool,
    pub arguments: FieldTable,
    pub bindings: Vec<Binding>,
    pub dedup: Option<DedupCache>,
}

impl Exchange {
    pub fn alternate(&self) -> Option<&str> {
        self.arguments.get("alternate-exchange")?.as_str()
    }

    /// Calls `to` for each binding that matches a publish with these keys.
    pub fn route<'a>(
        &'a self,
        routing_keys: &[&str],
        headers: Option<&FieldTable>,
        mut to: impl FnMut(&'a Destination),
    ) {
        for b in &self.bindings {
            let hit = match self.kind {
                ExchangeKind::Fanout => true,
                ExchangeKind::Direct => routing_keys.iter().any(|k| *k == b.routing_key.as_str()),
                ExchangeKind::Topic => b
                    .topic
                    .as_ref()
                    .is_some_and(|t| routing_keys.iter().any(|k| t.matches(k))),
                ExchangeKind::Headers => headers_match(&b.arguments, headers),
            };
            if hit {
                to(&b.destination);
            }
        }
    }

    pub fn has_binding(&self, d: &Destination, key: &str, args: &FieldTable) -> bool {
        self.bindings
            .iter()
            .any(|b| b.destination == *d && b.routing_key.as_str() == key && b.arguments == *args)
    }
}
