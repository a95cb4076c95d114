//! A published message: where it was published, its basic properties and body.
//!
//! Messages are immutable once published and shared (`Rc<Message>`) by every
//! queue they are routed to; what differs per queue (position, delivery count,
//! expiry) lives in the queue's entry. Dead-lettering makes a new message.

use super::value::{FieldTable, ShortStr};
use std::ops::Deref;

/// The 14 properties of the `basic` content class, in wire order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties {
    pub content_type: Option<ShortStr>,
    pub content_encoding: Option<ShortStr>,
    pub headers: Option<FieldTable>,
    pub delivery_mode: Option<u8>,
    pub priority: Option<u8>,
    pub correlation_id: Option<ShortStr>,
    pub reply_to: Option<ShortStr>,
    pub expiration: Option<ShortStr>,
    pub message_id: Option<ShortStr>,
    pub timestamp: Option<u64>,
    pub kind: Option<ShortStr>,
    pub user_id: Option<ShortStr>,
    pub app_id: Option<ShortStr>,
    pub cluster_id: Option<ShortStr>,
}

impl Properties {
    pub fn is_empty(&self) -> bool {
        // Field by field: comparing with a built default costs a construction
        // and a drop on every publish.
        self.content_type.is_none()
            && self.content_encoding.is_none()
            && self.headers.is_none()
            && self.delivery_mode.is_none()
            && self.priority.is_none()
            && self.correlation_id.is_none()
            && self.reply_to.is_none()
            && self.expiration.is_none()
            && self.message_id.is_none()
            && self.timestamp.is_none()
            && self.kind.is_none()
            && self.user_id.is_none()
            && self.app_id.is_none()
            && self.cluster_id.is_none()
    }

    /// `delivery-mode = 2`.
    pub fn persistent(&self) -> bool {
        self.delivery_mode == Some(2)
    }

    pub fn header(&self, key: &str) -> Option<&super::value::FieldValue> {
        self.headers.as_ref()?.get(key)
    }
}

thread_local! {
    // One shared empty set of properties per thread, so that messages without
    // properties (the common case under load) carry a null pointer, not 200 bytes.
    static EMPTY: &'static Properties = Box::leak(Box::default());
}

/// Properties stored out of line and only when there are any.
#[derive(Clone, Default, PartialEq)]
pub struct Props(Option<Box<Properties>>);

impl Props {
    pub fn new(p: Properties) -> Self {
        if p.is_empty() {
            Props(None)
        } else {
            Props(Some(Box::new(p)))
        }
    }

    /// Mutable access, allocating the out-of-line block if needed.
    pub fn make_mut(&mut self) -> &mut Properties {
        self.0.get_or_insert_with(Box::default)
    }

    pub fn into_inner(self) -> Properties {
        self.0.map(|b| *b).unwrap_or_default()
    }
}

impl Deref for Props {
    type Target = Properties;
    fn deref(&self) -> &Properties {
        match &self.0 {
            Some(p) => p,
            None => EMPTY.with(|e| *e),
        }
    }
}

impl std::fmt::Debug for Props {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl From<Properties> for Props {
    fn from(p: Properties) -> Self {
        Props::new(p)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The exchange it was published to (empty for the default exchange).
    pub exchange: ShortStr,
    pub routing_key: ShortStr,
    pub properties: Props,
    pub body: Box<[u8]>,
}

impl Message {
    pub fn new(
        exchange: ShortStr,
        routing_key: ShortStr,
        properties: Properties,
        body: impl Into<Box<[u8]>>,
    ) -> Self {
        Message {
            exchange,
            routing_key,
            properties: Props::new(properties),
            body: body.into(),
        }
    }

    pub fn persistent(&self) -> bool {
        self.properties.persistent()
    }

    /// Size counted against `x-max-length-bytes` (the body, as RabbitMQ does).
    pub fn body_size(&self) -> usize {
        self.body.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn empty_properties_are_not_allocated() {
        let p = Props::new(Properties::default());
        assert!(p.0.is_none());
        assert_eq!(p.delivery_mode, None);
        let p = Props::new(Properties {
            delivery_mode: Some(2),
            ..Default::default()
        });
        assert!(p.persistent());
    }
}
