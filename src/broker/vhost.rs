//! Vhost deletion and vhost limits, as RabbitMQ has them.
//!
//! A deleted vhost stays in `Broker::vhosts` as an empty tombstone: vhost
//! ids are indices held by queues, connections and dead letters, and a
//! tombstone keeps every other id valid. Lookups by name skip tombstones, so
//! a vhost of the same name can be added again; the next vhost added takes
//! the tombstone's slot, so deleting and adding vhosts does not grow it.

use super::effect::Effect;
use super::engine::Broker;
use super::error::{AmqpError, ReplyCode};
use super::ids::{ConnId, QueueId, VhostId};
use super::sort;
use super::store::StoreRecord;
use super::value::ShortStr;

/// RabbitMQ's `max-connections` and `max-queues` (`rabbitmqctl
/// set_vhost_limits`); None is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VhostLimits {
    pub max_connections: Option<u32>,
    pub max_queues: Option<u32>,
}

impl super::engine::Vhost {
    /// The exchanges in name order (records, images, definitions): the
    /// map's values sorted, not its keys sorted and each looked up again.
    #[inline(never)]
    pub(crate) fn exchanges_by_name(&self) -> Vec<&super::exchange::Exchange> {
        let mut xs: Vec<_> = self.exchanges.values().collect();
        sort::sort_by(&mut xs, |a, b| a.name.cmp(&b.name));
        xs
    }

    /// The queues' ids in name order.
    #[inline(never)]
    pub(crate) fn queue_ids_by_name(&self) -> Vec<QueueId> {
        let mut qs: Vec<(&ShortStr, &QueueId)> = self.queues.iter().collect();
        sort::sort(&mut qs);
        qs.into_iter().map(|(_, &id)| id).collect()
    }
}

impl VhostLimits {
    pub fn is_empty(&self) -> bool {
        self.max_connections.is_none() && self.max_queues.is_none()
    }

    /// Sets one limit by its RabbitMQ name; a negative value removes it, as
    /// in RabbitMQ. Unknown names are an error saying which ones exist.
    pub fn set(&mut self, name: &str, value: Option<i64>) -> Result<(), String> {
        let value = match value {
            None => None,
            Some(v) if v < 0 => None,
            Some(v) => Some(u32::try_from(v).map_err(|_| format!("{name}: {v} is too large"))?),
        };
        match name {
            "max-connections" => self.max_connections = value,
            "max-queues" => self.max_queues = value,
            _ => {
                return Err(format!(
                    "unknown vhost limit '{name}' (max-connections or max-queues)"
                ))
            }
        }
        Ok(())
    }
}

impl Broker {
    /// Deletes a vhost as RabbitMQ does: its connections are closed with 320
    /// CONNECTION_FORCED, its queues (and their messages), exchanges,
    /// bindings, policies and limits go, and so does every user's permission
    /// on it. False when there is no such vhost.
    pub fn delete_vhost(&mut self, now_ms: u64, name: &str) -> bool {
        self.advance(now_ms);
        let Some(v) = self.vhost_id(name) else {
            return false;
        };
        // Connections first: their unacked deliveries return to queues that
        // are deleted next, so nothing of the vhost is left behind.
        let text = format!("vhost '{name}' is deleted");
        let conns: Vec<ConnId> = self
            .connection_ids()
            .into_iter()
            .filter(|id| id.0 != 0 && self.conns.get(id).is_some_and(|c| c.vhost == v))
            .collect();
        for id in conns {
            self.emit(Effect::CloseConnection {
                to: id,
                error: AmqpError::new(ReplyCode::ConnectionForced, &text),
            });
            self.close_connection_state(id);
        }
        let mut queues: Vec<(ShortStr, QueueId)> = self
            .vhost_ref(v)
            .queues
            .iter()
            .map(|(n, id)| (n.clone(), *id))
            .collect();
        sort::sort(&mut queues);
        for (_, id) in queues {
            self.delete_queue(id);
        }
        self.dead_letters.retain(|(_, dv, _, _)| *dv != v);
        let vh = self.vhost_mut(v);
        vh.deleted = true;
        vh.exchanges.clear();
        vh.queues.clear();
        vh.policies.clear();
        vh.limits = VhostLimits::default();
        for u in &mut self.users {
            u.permissions.retain(|p| p.vhost != name);
        }
        if self.config.durable_store {
            self.record_cold(StoreRecord::VhostDeleted {
                vhost: ShortStr::truncated(name),
            });
        }
        true
    }

    /// Sets a vhost's limits (replacing all of them); false when there is
    /// no such vhost. Existing connections and queues over a new limit stay,
    /// as in RabbitMQ; only new ones are refused.
    pub fn set_vhost_limits(&mut self, now_ms: u64, name: &str, limits: VhostLimits) -> bool {
        self.advance(now_ms);
        let Some(v) = self.vhost_id(name) else {
            return false;
        };
        if self.vhost_ref(v).limits == limits {
            return true;
        }
        self.vhost_mut(v).limits = limits;
        if self.config.durable_store {
            self.record_cold(StoreRecord::VhostLimits {
                vhost: ShortStr::truncated(name),
                limits,
            });
        }
        true
    }

    /// A vhost's limits; None when there is no such vhost.
    pub fn vhost_limits(&self, name: &str) -> Option<VhostLimits> {
        self.vhost_id(name).map(|v| self.vhost_ref(v).limits)
    }

    /// RabbitMQ's check at `connection.open` (530 NOT_ALLOWED, its text).
    pub(crate) fn check_connection_limit(&self, v: VhostId, user: &str) -> Result<(), AmqpError> {
        let vh = self.vhost_ref(v);
        let Some(limit) = vh.limits.max_connections else {
            return Ok(());
        };
        let open = self
            .conns
            .iter()
            .filter(|(id, c)| id.0 != 0 && c.vhost == v)
            .count();
        if open < limit as usize {
            return Ok(());
        }
        Err(AmqpError::new(
            ReplyCode::NotAllowed,
            format_args!(
                "access to vhost '{}' refused for user '{user}': connection limit ({limit}) is reached",
                vh.name
            ),
        ))
    }

    /// RabbitMQ's check before a new queue (406 PRECONDITION_FAILED, its text).
    pub(crate) fn check_queue_limit(&self, v: VhostId, queue: &str) -> Result<(), AmqpError> {
        let vh = self.vhost_ref(v);
        match vh.limits.max_queues {
            Some(limit) if vh.queues.len() >= limit as usize => {
                Err(AmqpError::precondition(format_args!(
                    "cannot declare queue '{queue}': queue limit in vhost '{}' ({limit}) is reached",
                    vh.name
                )))
            }
            _ => Ok(()),
        }
    }
}
