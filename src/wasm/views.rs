//! The broker's snapshot, policies, topology and recovery report as plain data
//! (`data.rs`), field for field in the shapes `js/index.d.ts` gives.

use super::data::Data;
use crate::broker::definitions::Topology;
use crate::broker::snapshot::{QueueCounts, Snapshot};
use crate::broker::{Policy, ShortStr};
use crate::storage::log::Scan;

#[inline(never)]
pub fn write_snapshot(s: &Snapshot, d: &mut Data) {
    d.object();
    d.key_num("nowMs", s.now_ms as f64);
    d.key("exchanges");
    d.array();
    for x in &s.exchanges {
        d.object();
        d.key_str("vhost", &x.vhost);
        d.key_str("name", &x.name);
        d.key_str("kind", x.kind);
        d.key_bool("durable", x.durable);
        d.key("bindings");
        d.array();
        for (destination, key) in &x.bindings {
            d.array();
            d.str(destination);
            d.str(key);
            d.end();
        }
        d.end();
        d.end();
    }
    d.end();
    d.key("queues");
    d.array();
    for q in &s.queues {
        d.object();
        d.key_str("vhost", &q.vhost);
        d.key_str("name", &q.name);
        d.key_bool("durable", q.durable);
        d.key_bool("exclusive", q.exclusive);
        d.key_bool("autoDelete", q.auto_delete);
        write_counts(&q.counts, d);
        d.key("stats");
        d.object();
        d.key_num("published", q.stats.published as f64);
        d.key_num("delivered", q.stats.delivered as f64);
        d.key_num("redelivered", q.stats.redelivered as f64);
        d.key_num("acked", q.stats.acked as f64);
        d.key_num("deadLettered", q.stats.dead_lettered as f64);
        d.end();
        // Absent rather than undefined, as before.
        if let Some(p) = &q.policy {
            d.key_str("policy", p);
        }
        d.key("ready");
        d.array();
        for (msg, deliveries) in &q.ready {
            d.array();
            d.num(*msg as f64);
            d.num((*deliveries).into());
            d.end();
        }
        d.end();
        d.end();
    }
    d.end();
    d.key("consumers");
    d.array();
    for c in &s.consumers {
        d.object();
        d.key_str("queue", &c.queue);
        d.channel("channel", c.channel);
        d.key_str("tag", &c.tag);
        d.key_bool("noAck", c.no_ack);
        d.key_num("prefetch", c.prefetch.into());
        d.key_num("unacked", c.unacked.into());
        d.end();
    }
    d.end();
    d.key("channels");
    d.array();
    for c in &s.channels {
        d.object();
        d.channel("channel", c.channel);
        d.key_num("prefetch", c.prefetch.into());
        d.key_num("globalPrefetch", c.global_prefetch.into());
        d.key("unacked");
        d.array();
        for (tag, msg, queue) in &c.unacked {
            d.array();
            d.num(*tag as f64);
            d.num(*msg as f64);
            d.str(queue);
            d.end();
        }
        d.end();
        d.key_bool("confirm", c.confirm);
        d.key_num("confirmsPending", c.confirms_pending as f64);
        d.key_bool("tx", c.tx);
        d.end();
    }
    d.end();
    d.key("connections");
    d.array();
    for c in &s.connections {
        d.object();
        d.key_num("id", c.id.0.into());
        d.key_str("name", &c.name);
        d.key_str("user", &c.user);
        d.key_str("vhost", &c.vhost);
        d.key_num("channels", c.channels as f64);
        d.end();
    }
    d.end();
    d.end();
}

fn write_counts(c: &QueueCounts, d: &mut Data) {
    d.key("counts");
    d.object();
    d.key_num("ready", c.ready as f64);
    d.key_num("readyBytes", c.ready_bytes as f64);
    d.key_num("paged", c.paged as f64);
    d.key_num("memory", c.memory as f64);
    d.key_num("pages", c.pages as f64);
    d.key_num("unacked", c.unacked as f64);
    d.key_num("delayed", c.delayed as f64);
    d.key_num("consumers", c.consumers as f64);
    d.end();
}

/// `[{ name, pattern, applyTo, priority, definition, vhost }]`.
pub fn write_policies(all: &[(ShortStr, Policy)], d: &mut Data) {
    d.array();
    for (vhost, p) in all {
        d.object();
        d.key_str("name", &p.name);
        d.key_str("pattern", &p.pattern);
        d.key_str("applyTo", p.apply_to.as_str());
        d.key_num("priority", p.priority as f64);
        d.key("definition");
        d.object();
        // Validated: every value is an integer or a string.
        for (k, v) in p.definition.iter() {
            match (v.as_i64(), v.as_str()) {
                (Some(n), _) => d.key_num(k, n as f64),
                (None, text) => d.key_str(k, text.unwrap_or_default()),
            }
        }
        d.end();
        d.key_str("vhost", vhost);
        d.end();
    }
    d.end();
}

/// `{ validLength, version, damage }`: `damage` is `{ kind, offset,
/// message }` or undefined.
pub fn write_log_report(scan: &Scan, d: &mut Data) {
    d.object();
    d.key_num("validLength", scan.valid_len as f64);
    d.key_num("version", scan.version.into());
    d.key("damage");
    match &scan.damage {
        Some(damage) => {
            d.object();
            d.key_str("kind", damage.kind());
            d.key_num("offset", damage.offset() as f64);
            d.key_str("message", &damage.to_string());
            d.end();
        }
        None => d.0.push(super::data::UNDEFINED),
    }
    d.end();
}

pub fn write_topology(t: &Topology, d: &mut Data) {
    d.object();
    d.key("vhosts");
    d.array();
    for v in &t.vhosts {
        d.str(v);
    }
    d.end();
    d.key("exchanges");
    d.array();
    for (v, x) in &t.exchanges {
        d.object();
        d.key_str("name", &x.exchange);
        d.key_str("vhost", v);
        d.key_str("type", &x.kind);
        d.key_bool("durable", x.durable);
        d.key_bool("auto_delete", x.auto_delete);
        d.key_bool("internal", x.internal);
        d.key("arguments");
        d.table(&x.arguments);
        d.end();
    }
    d.end();
    d.key("queues");
    d.array();
    for (v, q) in &t.queues {
        d.object();
        d.key_str("name", &q.queue);
        d.key_str("vhost", v);
        d.key_bool("durable", q.durable);
        d.key_bool("exclusive", q.exclusive);
        d.key_bool("auto_delete", q.auto_delete);
        d.key("arguments");
        d.table(&q.arguments);
        d.end();
    }
    d.end();
    d.key("bindings");
    d.array();
    for (v, to_queue, b) in &t.bindings {
        d.object();
        d.key_str("source", &b.source);
        d.key_str("vhost", v);
        d.key_str("destination", &b.destination);
        d.key_str(
            "destination_type",
            if *to_queue { "queue" } else { "exchange" },
        );
        d.key_str("routing_key", &b.routing_key);
        d.key("arguments");
        d.table(&b.arguments);
        d.end();
    }
    d.end();
    d.end();
}
