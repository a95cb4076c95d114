//! Suspend and resume: a server that is imaged and resumed, at any step and
//! as often as you like, is indistinguishable from one that never slept.
//! Same bytes to every client, same closes, same store records, same events,
//! same snapshots, same deadlines; and an image of a resumed server is the
//! image it was resumed from, byte for byte.

mod protocol_support;

use proptest::prelude::*;
use protocol_support::*;
use std::collections::HashMap;
use warren::amqp::connection::ServerConfig;
use warren::amqp::server::{ConnToken, Output, Server};
use warren::broker::{
    ApplyTo, Broker, BrokerConfig, FieldTable, FieldValue, PageOp, Permission, Policy, ShortStr,
    VhostLimits,
};
use warren::image::ImageError;
use warren::storage::record;

fn broker_config() -> BrokerConfig {
    BrokerConfig {
        durable_store: true,
        events: true,
        consumer_timeout_ms: Some(4_000),
        page_budget_bytes: None,
    }
}

/// One or two messages per queue in memory: queues page on most steps.
fn paged_config() -> BrokerConfig {
    BrokerConfig {
        page_budget_bytes: Some(150),
        ..broker_config()
    }
}

/// What a client can do in one step: bytes cut in two (a suspend may fall
/// between the halves, leaving a frame half-received), time passing, the
/// store catching up, a transport lost, a new client.
#[derive(Clone, Debug)]
enum Step {
    Send {
        conn: usize,
        bytes: Vec<u8>,
        cut: usize,
    },
    Tick(u64),
    Durable,
    Lost(usize),
    Connect {
        heartbeat: u16,
    },
    /// A policy on `work` set (with a length limit and a TTL) or removed.
    Policy(Option<i32>),
    /// Vhost limits on `/`: max-connections and max-queues.
    Limits(Option<u32>, Option<u32>),
    /// `/` deleted with everything in it (a tombstone in the image), and
    /// added again, empty.
    DeleteVhost,
    /// The host hands back the pages the engine asked for.
    Pages,
}

fn short_table(entries: &[Vec<u8>]) -> Vec<u8> {
    entries.concat()
}

fn int(key: &str, v: i32) -> Vec<u8> {
    entry(key, b'I', &v.to_be_bytes())
}

fn text(key: &str, v: &str) -> Vec<u8> {
    entry(key, b'S', &long_str(v.as_bytes()))
}

/// Queues with the arguments that make messages move on their own.
fn declare(channel: u16, which: u8, durable: bool) -> Vec<u8> {
    let (name, args) = match which % 5 {
        0 => (
            "work",
            vec![
                int("x-delivery-limit", 2),
                text("x-dead-letter-exchange", ""),
                text("x-dead-letter-routing-key", "dead"),
            ],
        ),
        1 => (
            "short",
            vec![
                int("x-message-ttl", 1_500),
                int("x-max-length", 3),
                text("x-dead-letter-exchange", ""),
                text("x-dead-letter-routing-key", "dead"),
            ],
        ),
        2 => ("dead", vec![]),
        3 => (
            "prio",
            vec![
                int("x-max-priority", 3),
                entry("x-message-deduplication", b't', &[1]),
            ],
        ),
        _ => ("", vec![]),
    };
    let bits = [false, durable, false, false, false];
    method(
        channel,
        50,
        10,
        Args::new()
            .u16(0)
            .short(name)
            .bits(&bits)
            .table(&short_table(&args)),
    )
}

fn queue_name(which: u8) -> &'static str {
    ["work", "short", "dead", "prio", "work"][which as usize % 5]
}

/// delivery-mode, priority, expiration and message-id, each optional.
fn props(persistent: bool, priority: u8, expiration: Option<u16>, id: Option<u8>) -> Vec<u8> {
    let mut flags = 1u16 << 12 | 1 << 11;
    let mut fields = vec![if persistent { 2 } else { 1 }, priority];
    if let Some(ms) = expiration {
        flags |= 1 << 8;
        let s = ms.to_string();
        fields.push(s.len() as u8);
        fields.extend_from_slice(s.as_bytes());
    }
    if let Some(id) = id {
        flags |= 1 << 7;
        let s = format!("m{id}");
        fields.push(s.len() as u8);
        fields.extend_from_slice(s.as_bytes());
    }
    let mut p = flags.to_be_bytes().to_vec();
    p.extend(fields);
    p
}

fn piece() -> impl Strategy<Value = Vec<u8>> {
    let ch = 1u16..4;
    let q = 0u8..5;
    prop_oneof![
        2 => ch.clone().prop_map(channel_open),
        3 => (ch.clone(), q.clone(), any::<bool>()).prop_map(|(c, w, d)| declare(c, w, d)),
        6 => (ch.clone(), q.clone(), any::<bool>(), 0u8..4, prop::option::of(1u16..3_000), prop::option::of(0u8..4), 0usize..40)
            .prop_map(|(c, w, persistent, prio, exp, id, len)| {
                let mut v = publish(c, "", queue_name(w), w == 2);
                v.extend(header(c, len as u64, &props(persistent, prio, exp, id)));
                if len > 0 {
                    v.extend(body(c, &vec![b'x'; len]));
                }
                v
            }),
        3 => (ch.clone(), q.clone(), any::<bool>(), prop::option::of("[ab]")).prop_map(|(c, w, no_ack, tag)| {
            consume(c, queue_name(w), tag.as_deref().unwrap_or(""), no_ack)
        }),
        1 => (ch.clone(), 0u16..4).prop_map(|(c, n)| method(c, 60, 10, Args::new().u32(0).u16(n).bits(&[false]))),
        4 => (ch.clone(), 0u64..8, any::<bool>()).prop_map(|(c, t, m)| ack(c, t, m)),
        2 => (ch.clone(), 0u64..8, any::<bool>(), any::<bool>())
            .prop_map(|(c, t, m, r)| method(c, 60, 120, Args::new().u64(t).bits(&[m, r]))),
        1 => (ch.clone(), 0u64..8, any::<bool>()).prop_map(|(c, t, r)| method(c, 60, 90, Args::new().u64(t).bits(&[r]))),
        2 => (ch.clone(), q.clone(), any::<bool>())
            .prop_map(|(c, w, no_ack)| method(c, 60, 70, Args::new().u16(0).short(queue_name(w)).bits(&[no_ack]))),
        1 => (ch.clone(), prop::option::of("[ab]")).prop_map(|(c, tag)| {
            method(c, 60, 30, Args::new().short(tag.as_deref().unwrap_or("x")).bits(&[false]))
        }),
        2 => ch.clone().prop_map(confirm_select),
        1 => ch.clone().prop_map(|c| method(c, 90, 10, Args::new())),
        1 => ch.clone().prop_map(|c| method(c, 90, 20, Args::new())),
        1 => ch.clone().prop_map(|c| method(c, 90, 30, Args::new())),
        1 => (ch.clone(), any::<bool>()).prop_map(|(c, r)| method(c, 60, 110, Args::new().bits(&[r]))),
        1 => (ch.clone(), q.clone()).prop_map(|(c, w)| method(c, 50, 30, Args::new().u16(0).short(queue_name(w)).bits(&[false]))),
        1 => (ch.clone(), q.clone())
            .prop_map(|(c, w)| method(c, 50, 40, Args::new().u16(0).short(queue_name(w)).bits(&[false, false, false]))),
        1 => (ch.clone(), any::<bool>()).prop_map(|(c, f)| method(c, 20, 20, Args::new().bits(&[f]))),
        1 => ch.clone().prop_map(|c| method(c, 20, 40, Args::new().u16(200).short("bye").u16(0).u16(0))),
        2 => ch.clone().prop_map(channel_close_ok),
        1 => Just(heartbeat()),
        1 => Just(connection_close_ok()),
        // Direct reply-to: the pseudo-queue's consumer and a request naming it.
        1 => ch.clone().prop_map(|c| consume(c, "amq.rabbitmq.reply-to", "", true)),
        1 => ch.clone().prop_map(|c| {
            let mut v = publish(c, "", "work", false);
            let to = "amq.rabbitmq.reply-to";
            let mut p = (1u16 << 9).to_be_bytes().to_vec();
            p.push(to.len() as u8);
            p.extend_from_slice(to.as_bytes());
            v.extend(header(c, 0, &p));
            v
        }),
        // The channel's last declared queue, by the empty name.
        1 => (ch.clone(), any::<bool>()).prop_map(|(c, no_ack)| consume(c, "", "", no_ack)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (0usize..3, piece(), any::<prop::sample::Index>()).prop_map(|(conn, bytes, at)| {
            let cut = at.index(bytes.len() + 1);
            Step::Send { conn, bytes, cut }
        }),
        3 => prop_oneof![Just(0u64), Just(7), Just(600), Just(1_600), Just(4_500), Just(40_000)].prop_map(Step::Tick),
        2 => Just(Step::Durable),
        1 => (0usize..3).prop_map(Step::Lost),
        1 => prop_oneof![Just(0u16), Just(5)].prop_map(|heartbeat| Step::Connect { heartbeat }),
        1 => prop::option::of(1i32..4).prop_map(Step::Policy),
        1 => (prop::option::of(1u32..4), prop::option::of(0u32..3)).prop_map(|(c, q)| Step::Limits(c, q)),
        1 => Just(Step::DeleteVhost),
        3 => Just(Step::Pages),
    ]
}

/// One run: the server, its clients and everything observable so far.
struct Run {
    config: BrokerConfig,
    server: Server,
    now: u64,
    conns: Vec<ConnToken>,
    seen: Vec<String>,
    /// The host's page store (it outlives a sleep), and the pages asked for.
    pages: HashMap<u64, Vec<u8>>,
    asked: Vec<u64>,
}

impl Run {
    fn new() -> Run {
        Run::with(broker_config())
    }

    fn with(config: BrokerConfig) -> Run {
        let mut run = Run {
            server: Server::new(ServerConfig::default(), Broker::new(config.clone())),
            config,
            now: 1_000,
            conns: Vec::new(),
            seen: Vec::new(),
            pages: HashMap::new(),
            asked: Vec::new(),
        };
        run.connect(0);
        run.connect(0);
        run
    }

    fn connect(&mut self, heartbeat: u16) {
        let c = self.server.accept(self.now, "127.0.0.1:5000");
        let mut hello = HEADER.to_vec();
        hello.extend(start_ok_plain("guest", "guest", true));
        hello.extend(tune_ok(16, 4_096, heartbeat));
        hello.extend(connection_open("/"));
        hello.extend(channel_open(1));
        self.server.receive(self.now, c, &hello);
        self.conns.push(c);
        self.observe("connect");
    }

    /// Records what a host would see after a call.
    fn observe(&mut self, what: &str) {
        self.seen.push(format!("-- {what}"));
        while let Some(out) = self.server.poll_output() {
            match out {
                Output::Send { conn, bytes } => {
                    self.seen.push(format!("send {} {bytes:?}", conn.0))
                }
                Output::Close { conn, .. } => self.seen.push(format!("close {}", conn.0)),
                Output::Closed { conn, report } => {
                    self.seen.push(format!("closed {} {report:?}", conn.0))
                }
                Output::Flush { conn } => self.seen.push(format!("flush {}", conn.0)),
                other => panic!("unexpected output {other:?}"),
            }
        }
        for op in self.server.broker_mut().take_page_ops() {
            match op {
                PageOp::Write { page, bytes, sync } => {
                    self.seen
                        .push(format!("page write {page} {} {sync}", bytes.len()));
                    assert!(
                        self.pages.insert(page, bytes).is_none(),
                        "page {page} twice"
                    );
                }
                PageOp::Read { page } => {
                    self.seen.push(format!("page read {page}"));
                    self.asked.push(page);
                }
                PageOp::Delete { page } => {
                    self.seen.push(format!("page delete {page}"));
                    self.pages.remove(&page);
                }
            }
        }
        let (first, records) = self.server.broker_mut().take_store_records();
        for (i, r) in records.iter().enumerate() {
            let mut bytes = Vec::new();
            record::encode(r, &mut bytes);
            self.seen
                .push(format!("store {} {bytes:?}", first + i as u64));
        }
        for e in self.server.broker_mut().take_events() {
            self.seen.push(format!("event {e:?}"));
        }
        self.seen
            .push(format!("snapshot {:?}", self.server.broker().snapshot()));
        let b = self.server.broker();
        self.seen.push(format!(
            "vhosts {:?} {:?}",
            b.vhost_names(),
            b.vhost_limits("/")
        ));
        self.seen
            .push(format!("deadline {:?}", self.server.next_deadline()));
    }

    fn step(&mut self, s: &Step, sleep: &mut impl FnMut(&mut Run)) {
        match s {
            Step::Send { conn, bytes, cut } => {
                let Some(&c) = self.conns.get(*conn) else {
                    return;
                };
                let (a, b) = bytes.split_at(*cut);
                self.server.receive(self.now, c, a);
                self.observe("first half");
                sleep(self);
                self.server.receive(self.now, c, b);
                self.observe("second half");
            }
            Step::Tick(dt) => {
                self.now += dt;
                self.server.tick(self.now);
                self.observe("tick");
            }
            Step::Durable => {
                let n = self.server.broker().store_emitted();
                self.server.broker_mut().store_durable(n);
                self.server.tick(self.now);
                self.observe("durable");
            }
            Step::Lost(conn) => {
                let Some(&c) = self.conns.get(*conn) else {
                    return;
                };
                self.server.transport_closed(self.now, c);
                self.observe("lost");
            }
            Step::Connect { heartbeat } => self.connect(*heartbeat),
            Step::Policy(limit) => {
                let b = self.server.broker_mut();
                match limit {
                    Some(n) => {
                        let definition = FieldTable::new()
                            .with("max-length", FieldValue::I32(*n))
                            .with("message-ttl", FieldValue::I32(2_000));
                        let policy = Policy {
                            name: ShortStr::new("p").unwrap(),
                            pattern: "^work$".into(),
                            apply_to: ApplyTo::Queues,
                            priority: 0,
                            definition,
                        };
                        b.set_policy(self.now, "/", policy).unwrap();
                    }
                    None => {
                        b.delete_policy(self.now, "/", "p");
                    }
                }
                self.server.tick(self.now);
                self.observe("policy");
            }
            Step::Limits(max_connections, max_queues) => {
                let limits = VhostLimits {
                    max_connections: *max_connections,
                    max_queues: *max_queues,
                };
                assert!(self
                    .server
                    .broker_mut()
                    .set_vhost_limits(self.now, "/", limits));
                self.server.tick(self.now);
                self.observe("limits");
            }
            Step::DeleteVhost => {
                assert!(self.server.broker_mut().delete_vhost(self.now, "/"));
                self.server.tick(self.now);
                self.observe("vhost deleted");
                sleep(self);
                // The permissions went with the vhost, as in RabbitMQ; a
                // resumed server takes its host's users again, so give them back.
                let b = self.server.broker_mut();
                b.add_vhost("/");
                b.set_permission("guest", Permission::full("/")).unwrap();
                self.observe("vhost added");
            }
            Step::Pages => {
                let mut asked = std::mem::take(&mut self.asked);
                asked.sort_unstable();
                for page in asked {
                    // A page dropped with its queue meanwhile is not asked for any more.
                    if let Some(bytes) = self.pages.get(&page).cloned() {
                        let b = self.server.broker_mut();
                        b.page_loaded(self.now, page, &bytes).unwrap();
                    }
                }
                self.server.tick(self.now);
                self.observe("pages");
            }
        }
    }

    fn resume(&mut self) {
        let image = self.server.image().expect("an image between calls");
        self.server = Server::resume(ServerConfig::default(), self.config.clone(), &image)
            .unwrap_or_else(|e| panic!("resume: {e}"));
        let again = self.server.image().expect("an image of the resumed server");
        assert!(
            again == image,
            "the image of a resumed server differs from the one it resumed from"
        );
        // The reads in flight were lost with the host: the image names them.
        let mut before = std::mem::take(&mut self.asked);
        before.sort_unstable();
        before.retain(|p| self.pages.contains_key(p));
        self.asked = self.server.broker().pages_reading();
        let mut live = self.asked.clone();
        live.retain(|p| self.pages.contains_key(p));
        assert_eq!(live, before, "pages being read across a sleep");
    }
}

fn run(steps: &[Step], sleeps: &[bool], paged: bool) -> Vec<String> {
    let mut r = Run::with(if paged {
        paged_config()
    } else {
        broker_config()
    });
    let mut at = 0usize;
    let mut maybe_sleep = |r: &mut Run| {
        if sleeps
            .get(at % sleeps.len().max(1))
            .copied()
            .unwrap_or(false)
        {
            r.resume();
        }
        at += 1;
    };
    for s in steps {
        r.step(s, &mut maybe_sleep);
        maybe_sleep(&mut r);
    }
    r.seen
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn sleeping_at_any_step_changes_nothing(
        steps in prop::collection::vec(step(), 1..80),
        sleeps in prop::collection::vec(any::<bool>(), 1..16),
        paged in any::<bool>(),
    ) {
        let awake = run(&steps, &[false], paged);
        let slept = run(&steps, &sleeps, paged);
        if let Some(i) = awake.iter().zip(&slept).position(|(a, b)| a != b) {
            panic!("runs part at line {i}:\n awake: {}\n slept: {}", awake[i], slept[i]);
        }
        prop_assert_eq!(awake.len(), slept.len());
    }
}

/// A server with something in every corner: messages ready, unacked, in a
/// transaction, confirms owed, content half received.
fn busy_server() -> (Server, ConnToken) {
    let mut r = Run::new();
    let c = r.conns[0];
    let mut bytes = declare(1, 0, true);
    bytes.extend(confirm_select(1));
    for i in 0..5u8 {
        bytes.extend(publish(1, "", "work", false));
        bytes.extend(header(1, 3, &props(true, 0, None, Some(i))));
        bytes.extend(body(1, b"abc"));
    }
    bytes.extend(consume(1, "work", "a", false));
    bytes.extend(publish(1, "", "work", false));
    bytes.extend(header(1, 10, &[]));
    bytes.extend(body(1, b"half"));
    r.server.receive(r.now, c, &bytes);
    r.observe("busy");
    (r.server, c)
}

#[test]
fn damaged_images_are_refused_with_a_reason_never_a_panic() {
    let (server, _) = busy_server();
    let image = server.image().unwrap();
    let resume = |bytes: &[u8]| Server::resume(ServerConfig::default(), broker_config(), bytes);
    for len in 0..image.len() {
        let e = resume(&image[..len])
            .err()
            .expect("a truncated image is refused");
        assert!(
            matches!(e, ImageError::Truncated { .. } | ImageError::NotAnImage),
            "{len}: {e}"
        );
    }
    for at in (0..image.len()).step_by(7) {
        let mut bad = image.clone();
        bad[at] ^= 0x10;
        assert!(resume(&bad).is_err(), "a flipped bit at {at} is found");
    }
    let mut future = image.clone();
    future[9] += 1;
    let e = resume(&future).err().unwrap();
    assert_eq!(
        e.to_string(),
        "broker image format version 7 is not supported (this build reads version 6)"
    );
    assert!(resume(&image).is_ok());
}

/// A body cut short but sealed again passes the checksum: the reader names
/// what it could not read and where, never past the cut.
#[test]
fn a_malformed_body_is_named_with_its_offset() {
    let (server, _) = busy_server();
    let image = server.image().unwrap();
    let body = &image[18..image.len() - 4];
    for cut in (0..body.len()).step_by(5) {
        let e = Server::resume(
            ServerConfig::default(),
            broker_config(),
            &warren::image::seal(&body[..cut]),
        )
        .err()
        .expect("a short body is refused");
        match e {
            ImageError::Malformed { at, what } => {
                assert!(at <= cut, "{cut}: at {at}");
                assert!(!what.is_empty(), "{cut}: no reason");
            }
            e => panic!("{cut}: {e}"),
        }
    }
}

#[test]
fn an_image_cannot_be_taken_with_output_pending() {
    let (mut server, c) = busy_server();
    server.receive(2_000, c, &heartbeat());
    server.receive(2_000, c, &channel_open(2));
    assert_eq!(server.image().err(), Some(ImageError::OutputPending));
    while server.poll_output().is_some() {}
    assert!(server.image().is_ok());
}

#[test]
fn a_resumed_server_finishes_the_half_received_message_and_keeps_tags_and_confirms() {
    let (server, c) = busy_server();
    let image = server.image().unwrap();
    let mut server = Server::resume(ServerConfig::default(), broker_config(), &image).unwrap();
    // The rest of the body cut by the sleep, then an ack of deliveries made before it.
    let mut bytes = body(1, b"123456");
    bytes.extend(ack(1, 2, true));
    server.receive(3_000, c, &bytes);
    let n = server.broker().store_emitted();
    server.broker_mut().store_durable(n);
    server.tick(3_000);
    let mut frames = Vec::new();
    while let Some(out) = server.poll_output() {
        if let Output::Send { bytes, .. } = out {
            frames.extend(split_frames(&bytes));
        }
    }
    // confirm-mode publishes continue at 6; basic.ack from the broker (60, 80).
    let confirms: Vec<u64> = frames
        .iter()
        .filter(|f| f.kind == 1 && f.ids() == (60, 80))
        .map(|f| u64::from_be_bytes(f.args()[..8].try_into().unwrap()))
        .collect();
    assert_eq!(
        confirms.last(),
        Some(&6),
        "the publish finished after the resume is confirm 6"
    );
    let snap = server.broker().snapshot();
    let work = snap
        .queues
        .iter()
        .find(|q| q.name.as_str() == "work")
        .unwrap();
    assert_eq!(
        work.counts.unacked, 4,
        "tags 1 and 2 acked after the resume; 3..=6 out"
    );
}

#[test]
fn in_process_connections_are_closed_after_a_resume_and_their_deliveries_requeued() {
    use warren::broker::{ChannelRef, ConnectionInfo, Consume, QueueDeclare, ShortStr};
    let mut server = Server::new(ServerConfig::default(), Broker::new(broker_config()));
    let b = server.broker_mut();
    let conn = b.connection_open(0, ConnectionInfo::default()).unwrap();
    let ch = ChannelRef::new(conn, 1);
    b.channel_open(0, ch).unwrap();
    let q = ShortStr::new("jobs").unwrap();
    b.queue_declare(
        0,
        ch,
        QueueDeclare {
            queue: q.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    b.basic_consume(
        0,
        ch,
        Consume {
            queue: q.clone(),
            consumer_tag: ShortStr::new("c").unwrap(),
            no_ack: false,
            ..Default::default()
        },
    )
    .unwrap();
    let m = warren::broker::Message::new(ShortStr::empty(), q.clone(), Default::default(), b"job");
    b.basic_publish(0, ch, m, false, false).unwrap();
    server.tick(0);
    while server.poll_output().is_some() {}
    assert_eq!(server.broker().snapshot().queues[0].counts.unacked, 1);
    let image = server.image().unwrap();
    let mut resumed = Server::resume(ServerConfig::default(), broker_config(), &image).unwrap();
    assert_eq!(resumed.broker().snapshot().connections.len(), 1);
    resumed.close_direct_connections(10);
    let snap = resumed.broker().snapshot();
    assert!(snap.connections.is_empty());
    assert_eq!(
        (snap.queues[0].counts.ready, snap.queues[0].counts.unacked),
        (1, 0)
    );
}

#[test]
fn a_paged_queue_sleeps_with_reads_in_flight_and_wakes_the_same() {
    let mut fill = declare(1, 0, true);
    for i in 0..8u8 {
        fill.extend(publish(1, "", "work", false));
        fill.extend(header(1, 3, &props(true, 0, None, Some(i))));
        fill.extend(body(1, &[b'a' + i; 3]));
    }
    let cut = fill.len() / 2;
    let mut steps = vec![
        Step::Send {
            conn: 0,
            bytes: fill,
            cut,
        },
        Step::Send {
            conn: 1,
            bytes: consume(1, "work", "c", true),
            cut: 3,
        },
    ];
    steps.extend((0..8).map(|_| Step::Pages));
    let awake = run(&steps, &[false], true);
    let writes = awake.iter().filter(|l| l.starts_with("page write")).count();
    let reads = awake.iter().filter(|l| l.starts_with("page read")).count();
    assert!(
        writes >= 4 && reads == writes,
        "{writes} pages written, {reads} read"
    );
    // Asleep after every call: reads in flight are asked for again on waking.
    let slept = run(&steps, &[true], true);
    if let Some(i) = awake.iter().zip(&slept).position(|(a, b)| a != b) {
        panic!(
            "runs part at line {i}:\n awake: {}\n slept: {}",
            awake[i], slept[i]
        );
    }
    assert_eq!(awake.len(), slept.len());
    let deletes = awake
        .iter()
        .filter(|l| l.starts_with("page delete"))
        .count();
    assert_eq!(deletes, writes, "every page was read back and deleted");
}

#[test]
fn a_backlog_delivered_in_rounds_sleeps_between_rounds_and_arrives_once_in_order() {
    use warren::broker::DISPATCH_ROUND;
    const N: usize = 4 * DISPATCH_ROUND + 100;
    let mut r = Run::with(BrokerConfig::default());
    let (publisher, consumer) = (r.conns[0], r.conns[1]);
    let mut fill = queue_declare(1, "backlog", false, false);
    for i in 0..N {
        fill.extend(publish_message(
            1,
            "",
            "backlog",
            format!("{i:05}").as_bytes(),
        ));
    }
    r.server.receive(r.now, publisher, &fill);
    while r.server.poll_output().is_some() {}
    // An automatic-acknowledgment consumer takes no prefetch: the backlog
    // goes out DISPATCH_ROUND at a time, one round per poll.
    r.server
        .receive(r.now, consumer, &consume(1, "backlog", "c", true));
    let mut received = Vec::new();
    // Deliveries the consumer got between two sleeps.
    let mut between = Vec::new();
    loop {
        let mut bytes = Vec::new();
        while let Some(out) = r.server.poll_output() {
            if let Output::Send { conn, bytes: b } = out {
                if conn == consumer {
                    bytes.extend(b);
                }
            }
        }
        let frames = split_frames(&bytes);
        between.push(
            frames
                .iter()
                .filter(|f| f.kind == 1 && f.ids() == (60, 60))
                .count(),
        );
        received.extend(frames);
        if !r.server.broker().has_pending_dispatch() {
            break;
        }
        // Asleep between two rounds: the image keeps the queue waiting for
        // its next one.
        r.resume();
        assert!(r.server.broker().has_pending_dispatch());
        assert!(r.server.next_round(), "a round runs after the resume");
    }
    let frames = received;
    let bodies: Vec<String> = frames
        .iter()
        .filter(|f| f.kind == 3)
        .map(|f| String::from_utf8(f.payload.clone()).unwrap())
        .collect();
    let expected: Vec<String> = (0..N).map(|i| format!("{i:05}")).collect();
    assert!(
        between.len() >= 3 && between.iter().all(|&n| n > 0 && n <= 2 * DISPATCH_ROUND),
        "delivered in rounds, asleep between them: {between:?}"
    );
    assert_eq!(between.iter().sum::<usize>(), N);
    assert!(bodies == expected, "every message once, in publish order");
    let snap = r.server.broker().snapshot();
    let q = snap.queues.iter().find(|q| q.name.as_str() == "backlog");
    assert_eq!(q.map(|q| (q.counts.ready, q.counts.unacked)), Some((0, 0)));
}
