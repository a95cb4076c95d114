//! Deleting a vhost and vhost limits, as RabbitMQ 3.10 has them (texts
//! checked against its Debian build): a deleted vhost's connections get 320
//! "vhost 'v' is deleted", its queues, messages, exchanges, policies and
//! permissions go, durably; max-queues refuses a new queue with 406 and
//! max-connections a `connection.open` with 530.

mod common;

use common::*;
use warren::broker::{
    ApplyTo, Broker, BrokerConfig, ConnectionInfo, Effect, ExchangeDeclare, FieldTable, FieldValue,
    Permission, Policy, QueueDeclare, ReplyCode, StoreRecord, User, VhostLimits,
};

fn config() -> BrokerConfig {
    BrokerConfig {
        durable_store: true,
        events: true,
        ..Default::default()
    }
}

fn on(vhost: &str) -> ConnectionInfo {
    ConnectionInfo {
        vhost: s(vhost),
        ..Default::default()
    }
}

/// A vhost `v` with a durable queue holding a persistent message, an
/// exchange bound to it, a policy, and a client consuming from it.
fn populated(w: &mut World) -> warren::broker::ChannelRef {
    w.broker.add_vhost("v");
    let ch = w.client_with(on("v"));
    w.durable_queue(ch, "jobs");
    w.broker
        .exchange_declare(
            w.now,
            ch,
            ExchangeDeclare {
                exchange: s("x"),
                kind: s("fanout"),
                durable: true,
                ..Default::default()
            },
        )
        .unwrap();
    w.bind(ch, "jobs", "x", "");
    let policy = Policy {
        name: s("cap"),
        pattern: "^jobs$".into(),
        apply_to: ApplyTo::Queues,
        priority: 0,
        definition: FieldTable::new().with("max-length", FieldValue::I32(10)),
    };
    w.broker.set_policy(w.now, "v", policy).unwrap();
    w.publish_props(ch, "x", "", "one", persistent()).unwrap();
    w.publish_props(ch, "x", "", "two", persistent()).unwrap();
    w.consume(ch, "jobs", false);
    w.settle();
    assert_eq!(w.deliveries(ch).len(), 2);
    ch
}

#[test]
fn deleting_a_vhost_closes_its_connections_and_removes_everything_in_it() {
    let mut w = World::with(config());
    let ch = populated(&mut w);
    let other = w.client(); // on "/": untouched
    w.declare(other, "keep");
    w.broker
        .set_users(vec![User::new("guest", "guest", &["/", "v"])])
        .unwrap();

    assert!(w.broker.delete_vhost(w.now, "v"));
    w.settle();
    let closes: Vec<_> = w
        .take_for(ch)
        .into_iter()
        .filter_map(|e| match e {
            Effect::CloseConnection { error, .. } => Some(error),
            _ => None,
        })
        .collect();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].code, ReplyCode::ConnectionForced);
    assert_eq!(
        closes[0].text.as_str(),
        "CONNECTION_FORCED - vhost 'v' is deleted"
    );
    assert!(!w.broker.channel_is_open(ch));
    assert!(w.broker.channel_is_open(other));
    assert_eq!(w.broker.vhost_names(), vec!["/"]);
    assert!(w.broker.queue_counts("v", "jobs").is_none());
    assert!(w.broker.queue_counts("/", "keep").is_some());
    assert!(w.broker.policies().is_empty());
    let perms: Vec<String> = w.broker.users().unwrap()[0]
        .permissions
        .iter()
        .map(|p| p.vhost.clone())
        .collect();
    assert_eq!(perms, vec!["/"]);
    // A connection to it is refused as to any unknown vhost.
    let e = w.broker.connection_open(w.now, on("v")).unwrap_err();
    assert_eq!(e.code, ReplyCode::NotAllowed);
    assert!(
        !w.broker.delete_vhost(w.now, "v"),
        "deleting it twice finds nothing"
    );

    // The same name again is a new, empty vhost.
    w.broker.add_vhost("v");
    w.broker
        .set_permission("guest", Permission::full("v"))
        .unwrap();
    let again = w.client_with(on("v"));
    let e = w
        .broker
        .queue_declare(
            w.now,
            again,
            QueueDeclare {
                queue: s("jobs"),
                passive: true,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code, ReplyCode::NotFound);
    let x = w.broker.snapshot().exchanges;
    assert!(x
        .iter()
        .all(|x| !(x.vhost.as_str() == "v" && x.name.as_str() == "x")));
    assert!(x
        .iter()
        .any(|x| x.vhost.as_str() == "v" && x.name.as_str() == "amq.direct"));
}

#[test]
fn a_deleted_vhost_stays_deleted_after_recovery_and_compaction() {
    let mut w = World::with(config());
    populated(&mut w);
    let (_, mut log) = w.broker.take_store_records();
    assert!(w.broker.delete_vhost(w.now, "v"));
    w.settle();
    let (_, tail) = w.broker.take_store_records();
    assert!(
        matches!(tail.last(), Some(StoreRecord::VhostDeleted { vhost }) if vhost.as_str() == "v")
    );
    log.extend(tail);

    let r = Broker::recover(config(), w.now, log.clone()).unwrap();
    assert_eq!(r.vhost_names(), vec!["/"]);
    assert!(
        r.snapshot_records().is_empty(),
        "compaction keeps nothing of it"
    );

    // Re-created after the deletion, with a queue: recovery keeps the new one only.
    let mut w2 = World::with(config());
    w2.broker = Broker::recover(config(), w.now, log.clone()).unwrap();
    w2.broker.add_vhost("v");
    let ch = w2.client_with(on("v"));
    w2.durable_queue(ch, "fresh");
    let (_, more) = w2.broker.take_store_records();
    log.extend(more);
    let r = Broker::recover(config(), w.now, log).unwrap();
    assert!(r.queue_counts("v", "fresh").is_some());
    assert!(r.queue_counts("v", "jobs").is_none());
}

#[test]
fn max_queues_refuses_a_new_queue_with_rabbitmqs_error() {
    let mut w = World::with(config());
    let ch = w.client();
    let limits = VhostLimits {
        max_connections: None,
        max_queues: Some(1),
    };
    assert!(w.broker.set_vhost_limits(w.now, "/", limits));
    w.declare(ch, "a");
    w.declare(ch, "a"); // an existing queue is not a new one
    let e = w
        .broker
        .queue_declare(
            w.now,
            ch,
            QueueDeclare {
                queue: s("b"),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code, ReplyCode::PreconditionFailed);
    assert_eq!(
        e.text.as_str(),
        "PRECONDITION_FAILED - cannot declare queue 'b': queue limit in vhost '/' (1) is reached"
    );
    assert!(!w.broker.channel_is_open(ch), "a channel error");

    // Lifting it lets the queue in; a limit below the count keeps what is there.
    assert!(w
        .broker
        .set_vhost_limits(w.now, "/", VhostLimits::default()));
    let ch = w.client();
    w.declare(ch, "b");
    assert!(w.broker.set_vhost_limits(w.now, "/", limits));
    assert!(w.broker.queue_counts("/", "b").is_some());
}

#[test]
fn max_connections_refuses_connection_open_with_rabbitmqs_error() {
    let mut w = World::with(config());
    let limits = VhostLimits {
        max_connections: Some(1),
        max_queues: None,
    };
    assert!(w.broker.set_vhost_limits(w.now, "/", limits));
    let first = w.client();
    let e = w
        .broker
        .connection_open(w.now, ConnectionInfo::default())
        .unwrap_err();
    assert_eq!(e.code, ReplyCode::NotAllowed);
    assert_eq!(
        e.text.as_str(),
        "NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (1) is reached"
    );
    w.close_connection(first);
    w.client(); // room again
    let zero = VhostLimits {
        max_connections: Some(0),
        max_queues: None,
    };
    assert!(w.broker.set_vhost_limits(w.now, "/", zero));
    assert!(w
        .broker
        .connection_open(w.now, ConnectionInfo::default())
        .is_err());
    // The limit is checked before permissions, as RabbitMQ 3.10 does.
    let users = vec![
        User::new("guest", "guest", &["/"]),
        User::new("nope", "x", &[]),
    ];
    w.broker.set_users(users).unwrap();
    let nope = ConnectionInfo {
        user: s("nope"),
        ..Default::default()
    };
    assert_eq!(
        w.broker.connection_open(w.now, nope).unwrap_err().text.as_str(),
        "NOT_ALLOWED - access to vhost '/' refused for user 'nope': connection limit (0) is reached"
    );
    assert!(
        !w.broker.set_vhost_limits(w.now, "nope", zero),
        "no such vhost"
    );
}

#[test]
fn limits_are_durable_and_survive_compaction() {
    let mut w = World::with(config());
    let ch = w.client();
    w.durable_queue(ch, "a");
    w.durable_queue(ch, "b");
    let limits = VhostLimits {
        max_connections: Some(5),
        max_queues: Some(1), // below the two queues there: they stay
    };
    assert!(w.broker.set_vhost_limits(w.now, "/", limits));
    let (_, log) = w.broker.take_store_records();
    let r = Broker::recover(config(), w.now, log).unwrap();
    assert_eq!(r.vhost_limits("/"), Some(limits));
    assert!(r.queue_counts("/", "a").is_some() && r.queue_counts("/", "b").is_some());
    let compacted = r.snapshot_records();
    let r = Broker::recover(config(), w.now, compacted).unwrap();
    assert_eq!(r.vhost_limits("/"), Some(limits));
    assert!(r.queue_counts("/", "b").is_some());
}

#[test]
fn limit_names_and_values_as_rabbitmq_takes_them() {
    let mut l = VhostLimits::default();
    l.set("max-queues", Some(3)).unwrap();
    l.set("max-connections", Some(0)).unwrap();
    assert_eq!(l.max_queues, Some(3));
    assert_eq!(l.max_connections, Some(0));
    l.set("max-queues", Some(-1)).unwrap(); // negative: no limit
    assert_eq!(l.max_queues, None);
    let e = l.set("max-channels", Some(1)).unwrap_err();
    assert!(e.contains("max-connections or max-queues"), "{e}");
}

#[test]
fn deleting_and_adding_vhosts_again_and_again_does_not_grow_the_broker() {
    use warren::amqp::connection::ServerConfig;
    use warren::amqp::server::Server;
    let mut server = Server::new(ServerConfig::default(), Broker::new(config()));
    let churn = |server: &mut Server| {
        let b = server.broker_mut();
        b.add_vhost("tenant");
        assert!(b.delete_vhost(1_000, "tenant"));
        b.take_store_records(); // stored by the host
        let n = b.store_emitted();
        b.store_durable(n);
    };
    churn(&mut server);
    let once = server.image().unwrap().len();
    for _ in 0..50 {
        churn(&mut server);
    }
    assert_eq!(server.image().unwrap().len(), once);
    // The slot a deleted vhost leaves is taken by the next one, empty.
    let b = server.broker_mut();
    b.add_vhost("a");
    assert!(b.delete_vhost(1_000, "/"));
    b.add_vhost("b");
    assert_eq!(b.vhost_names(), vec!["b", "a"]);
    assert!(b.queue_counts("b", "anything").is_none());
}
