//! Policies: queue settings an operator sets by name pattern instead of
//! queue arguments, as in RabbitMQ.
//!
//! A policy has a name, a regular expression matched against queue (or
//! exchange) names, what it applies to, a priority and a definition. A queue
//! gets at most one policy: the matching one of highest priority (then the
//! first by name). Its definition is combined with the queue's own arguments
//! the way RabbitMQ 3.x/4.x classic queues do it:
//!
//! - `message-ttl`, `expires`, `max-length`, `max-length-bytes`,
//!   `delivery-limit`, `consumer-timeout`: the lower of policy and argument;
//! - `dead-letter-exchange`, `dead-letter-routing-key`, `overflow`: the
//!   argument when there is one, else the policy.
//!
//! Adding, changing or removing a policy re-applies policies to the existing
//! queues of its vhost at once (a lowered `max-length` drops or
//! dead-letters the surplus; messages already queued keep the expiry they
//! got when published, as in RabbitMQ).

use super::args::QueueArgs;
use super::engine::Broker;
use super::ids::{QueueId, VhostId};
use super::regex::Regex;
use super::sort;
use super::store::StoreRecord;
use super::value::{FieldTable, ShortStr};

/// What a policy applies to (`apply-to`). Warren has one kind of queue;
/// the queue-type values of RabbitMQ 3.12+ match by the `x-queue-type`
/// argument a queue was declared with (none: `classic`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ApplyTo {
    #[default]
    All,
    Queues,
    Exchanges,
    ClassicQueues,
    QuorumQueues,
    Streams,
}

impl ApplyTo {
    pub fn parse(s: &str) -> Option<ApplyTo> {
        match s {
            "all" => Some(ApplyTo::All),
            "queues" => Some(ApplyTo::Queues),
            "exchanges" => Some(ApplyTo::Exchanges),
            "classic_queues" => Some(ApplyTo::ClassicQueues),
            "quorum_queues" => Some(ApplyTo::QuorumQueues),
            "streams" => Some(ApplyTo::Streams),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApplyTo::All => "all",
            ApplyTo::Queues => "queues",
            ApplyTo::Exchanges => "exchanges",
            ApplyTo::ClassicQueues => "classic_queues",
            ApplyTo::QuorumQueues => "quorum_queues",
            ApplyTo::Streams => "streams",
        }
    }

    /// Does it apply to a queue declared with these arguments?
    fn queue(self, arguments: &FieldTable) -> bool {
        let kind = super::args::type_name(arguments);
        match self {
            ApplyTo::All | ApplyTo::Queues => true,
            ApplyTo::Exchanges => false,
            ApplyTo::ClassicQueues => kind == Some("classic"),
            ApplyTo::QuorumQueues => kind == Some("quorum"),
            ApplyTo::Streams => kind == Some("stream"),
        }
    }
}

/// A policy as set: plain data (the pattern is compiled when matching).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub name: ShortStr,
    pub pattern: String,
    pub apply_to: ApplyTo,
    pub priority: i64,
    /// Keys without the `x-` of queue arguments (`message-ttl` ...).
    pub definition: FieldTable,
}

/// Policy keys Warren applies, with how a key combines with the queue's
/// argument of the same name (`x-` + key): true for the lower value.
const KEYS: &[(&str, bool)] = &[
    ("message-ttl", true),
    ("expires", true),
    ("max-length", true),
    ("max-length-bytes", true),
    ("delivery-limit", true),
    ("consumer-timeout", true),
    ("dead-letter-exchange", false),
    ("dead-letter-routing-key", false),
    ("overflow", false),
];

/// Why a policy was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Policy {
    /// Checks the pattern, the keys and their values.
    pub fn validate(&self) -> Result<(), PolicyError> {
        Regex::new(&self.pattern).map_err(|e| {
            PolicyError(format!(
                "policy '{}': pattern '{}' is not a valid regular expression: {e}",
                self.name, self.pattern
            ))
        })?;
        if self.definition.is_empty() {
            return Err(PolicyError(format!(
                "policy '{}': the definition is empty",
                self.name
            )));
        }
        for (k, _) in self.definition.iter() {
            if !KEYS.iter().any(|(key, _)| *key == k.as_str()) {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                return Err(PolicyError(format!(
                    "policy '{}': '{k}' is not a recognised policy setting (Warren applies {})",
                    self.name,
                    known.join(", ")
                )));
            }
        }
        // The values are checked as the queue arguments they stand for.
        let what = format!("policy '{}'", self.name);
        QueueArgs::parse(&self.as_arguments(), &what)
            .map(|_| ())
            .map_err(|e| {
                let text = e
                    .text
                    .strip_prefix("PRECONDITION_FAILED - ")
                    .unwrap_or(&e.text);
                // Only the start: `replace` would also rewrite a policy
                // name, and its string searcher is kilobytes of wasm.
                PolicyError(match text.strip_prefix("invalid arg 'x-") {
                    Some(rest) => format!("invalid value for '{rest}"),
                    None => text.to_string(),
                })
            })
    }

    /// The definition as queue arguments (`x-` + key).
    fn as_arguments(&self) -> FieldTable {
        let mut t = FieldTable::new();
        for (k, v) in self.definition.iter() {
            t.insert(ShortStr::truncated(&format!("x-{k}")), v.clone());
        }
        t
    }

    fn matches(&self, name: &str) -> bool {
        Regex::new(&self.pattern).is_ok_and(|r| r.is_match(name))
    }
}

/// A queue's arguments combined with its policy's definition.
pub(crate) fn effective_arguments(arguments: &FieldTable, policy: &Policy) -> FieldTable {
    let mut out = arguments.clone();
    for &(key, lower) in KEYS {
        let Some(p) = policy.definition.get(key) else {
            continue;
        };
        let arg = format!("x-{key}");
        let take_policy = match (arguments.get(&arg), lower) {
            (None, _) => true,
            (Some(a), true) => match (a.as_i64(), p.as_i64()) {
                (Some(a), Some(p)) => p < a,
                _ => false,
            },
            (Some(_), false) => false,
        };
        if take_policy {
            out.insert(ShortStr::truncated(&arg), p.clone());
        }
    }
    out
}

impl Broker {
    /// Adds or replaces a policy in `vhost` and applies policies to the
    /// vhost's queues again.
    pub fn set_policy(
        &mut self,
        now_ms: u64,
        vhost: &str,
        policy: Policy,
    ) -> Result<(), PolicyError> {
        self.advance(now_ms);
        let v = self
            .vhost_id(vhost)
            .ok_or_else(|| PolicyError(format!("no vhost '{vhost}'")))?;
        policy.validate()?;
        if self.config.durable_store {
            self.record_cold(StoreRecord::Policy {
                vhost: ShortStr::truncated(vhost),
                policy: policy.clone(),
            });
        }
        let policies = &mut self.vhost_mut(v).policies;
        match policies.iter_mut().find(|p| p.name == policy.name) {
            Some(p) => *p = policy,
            None => policies.push(policy),
        }
        self.apply_policies(v);
        Ok(())
    }

    /// Removes a policy; returns whether there was one.
    pub fn delete_policy(&mut self, now_ms: u64, vhost: &str, name: &str) -> bool {
        self.advance(now_ms);
        let Some(v) = self.vhost_id(vhost) else {
            return false;
        };
        let policies = &mut self.vhost_mut(v).policies;
        let before = policies.len();
        policies.retain(|p| p.name.as_str() != name);
        if policies.len() == before {
            return false;
        }
        if self.config.durable_store {
            self.record_cold(StoreRecord::PolicyDeleted {
                vhost: ShortStr::truncated(vhost),
                name: ShortStr::truncated(name),
            });
        }
        self.apply_policies(v);
        true
    }

    /// Every policy, as (vhost, policy), by vhost then name.
    pub fn policies(&self) -> Vec<(ShortStr, Policy)> {
        let mut out = Vec::new();
        for v in self.live_vhosts() {
            let mut ps: Vec<&Policy> = v.policies.iter().collect();
            sort::sort_by(&mut ps, |a, b| a.name.cmp(&b.name));
            out.extend(ps.into_iter().map(|p| (v.name.clone(), p.clone())));
        }
        out
    }

    /// The name of the policy in force on a queue, if any.
    pub fn queue_policy(&self, vhost: &str, queue: &str) -> Option<ShortStr> {
        let v = self.vhost_id(vhost)?;
        let id = *self.vhost_ref(v).queues.get(queue)?;
        self.queue(id)?.policy.clone()
    }

    /// The policy for a queue named `name`: the highest priority, then the
    /// first by name (RabbitMQ leaves a tie undetermined).
    pub(crate) fn policy_for_queue(
        &self,
        v: VhostId,
        name: &str,
        arguments: &FieldTable,
    ) -> Option<&Policy> {
        self.vhost_ref(v)
            .policies
            .iter()
            .filter(|p| p.apply_to.queue(arguments) && p.matches(name))
            .min_by(|a, b| b.priority.cmp(&a.priority).then(a.name.cmp(&b.name)))
    }

    /// The arguments a queue runs with: its own, combined with its policy.
    /// Returns the policy's name and the parsed arguments.
    pub(crate) fn queue_settings(
        &self,
        v: VhostId,
        name: &str,
        arguments: &FieldTable,
        what: &str,
    ) -> (Option<ShortStr>, Option<QueueArgs>) {
        let Some(policy) = self.policy_for_queue(v, name, arguments) else {
            return (None, None);
        };
        let merged = effective_arguments(arguments, policy);
        // A combination the queue's own arguments make invalid keeps them alone.
        match QueueArgs::parse(&merged, what) {
            Ok(args) => (Some(policy.name.clone()), Some(args)),
            Err(_) => (None, None),
        }
    }

    /// Applies the vhost's policies to each of its queues again.
    fn apply_policies(&mut self, v: VhostId) {
        let mut ids: Vec<(ShortStr, QueueId)> = self
            .vhost_ref(v)
            .queues
            .iter()
            .map(|(n, id)| (n.clone(), *id))
            .collect();
        sort::sort(&mut ids);
        let vname = self.vhost_name(v).to_owned();
        for (name, id) in ids {
            let Some(q) = self.queue(id) else {
                continue;
            };
            let what = q.describe(&vname);
            let (policy, args) = self.queue_settings(v, &name, &q.arguments, &what);
            let args = match args {
                Some(a) => a,
                None => match QueueArgs::parse(&q.arguments, &what) {
                    Ok(a) => a,
                    Err(_) => continue,
                },
            };
            self.set_queue_args(id, policy, args);
        }
    }

    /// Puts new settings in force on a queue: limits are enforced at once,
    /// expiry and deliveries rescheduled.
    fn set_queue_args(&mut self, id: QueueId, policy: Option<ShortStr>, args: QueueArgs) {
        let Some(q) = self.queue_mut(id) else {
            return;
        };
        q.policy = policy;
        if q.args == args {
            return;
        }
        q.args = args;
        let expires = q.args.expires.filter(|_| q.consumers.is_empty());
        let last_used = q.last_used;
        if let Some(ms) = expires {
            self.schedule(last_used.saturating_add(ms));
        }
        self.enforce_limits(id);
        self.mark_dirty(id);
    }
}
