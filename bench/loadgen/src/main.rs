//! Native AMQP 0-9-1 load generator: several publishing and consuming
//! connections, a fixed message count, and a report of throughput, latency
//! percentiles and its own CPU time, so a benchmark can show the client was
//! not what set the pace. Exits non-zero if the broker lost, duplicated or
//! failed to confirm a message.

mod bridge;
mod config;
mod consumer;
mod publisher;
mod stats;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use lapin::options::{QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions};
use lapin::types::FieldTable;
use lapin::uri::{AMQPAuthority, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{Channel, Connection, ConnectionProperties};

use config::Config;

pub async fn connect(config: &Config) -> Result<Connection, String> {
    let uri = AMQPUri {
        scheme: AMQPScheme::AMQP,
        authority: AMQPAuthority {
            userinfo: AMQPUserInfo {
                username: config.user.clone(),
                password: config.password.clone(),
            },
            host: config.host.clone(),
            port: config.port,
        },
        vhost: config.vhost.clone(),
        query: Default::default(),
    };
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    Connection::connect_uri(uri, properties)
        .await
        .map_err(|e| format!("connect to {}:{}: {e}", config.host, config.port))
}

/// Closes a channel and then its connection: close-ok comes after everything
/// sent before it, so nothing sent is still on its way when this returns.
pub async fn close(who: &str, channel: Channel, connection: Connection) -> Result<(), String> {
    channel
        .close(200, "done")
        .await
        .map_err(|e| format!("{who}: channel.close: {e}"))?;
    connection
        .close(200, "done")
        .await
        .map_err(|e| format!("{who}: connection.close: {e}"))
}

fn queue_names(config: &Config) -> Vec<String> {
    (0..config.queues)
        .map(|i| format!("loadgen-{}-{}-{i}", config.mode.name(), config.size))
        .collect()
}

/// Declares the queues (durable when messages are persistent) and empties them.
async fn prepare(config: &Config, queues: &[String]) -> Result<(), String> {
    let connection = connect(config).await?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| e.to_string())?;
    for q in queues {
        channel
            .queue_delete(q, QueueDeleteOptions::default())
            .await
            .map_err(|e| format!("queue.delete {q}: {e}"))?;
        let options = QueueDeclareOptions {
            durable: config.mode.persistent(),
            ..Default::default()
        };
        channel
            .queue_declare(q, options, FieldTable::default())
            .await
            .map_err(|e| format!("queue.declare {q}: {e}"))?;
        channel
            .queue_purge(q, QueuePurgeOptions::default())
            .await
            .map_err(|e| format!("queue.purge {q}: {e}"))?;
    }
    close("prepare", channel, connection).await
}

/// Messages left in the queues (passive declare), then deletes them.
async fn leftover_and_delete(config: &Config, queues: &[String]) -> Result<u64, String> {
    let connection = connect(config).await?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| e.to_string())?;
    let mut left = 0u64;
    for q in queues {
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let declared = channel
            .queue_declare(q, passive, FieldTable::default())
            .await
            .map_err(|e| format!("queue.declare passive {q}: {e}"))?;
        left += u64::from(declared.message_count());
        channel
            .queue_delete(q, QueueDeleteOptions::default())
            .await
            .map_err(|e| format!("queue.delete {q}: {e}"))?;
    }
    close("cleanup", channel, connection).await?;
    Ok(left)
}

struct Outcome {
    publish_secs: f64,
    total_secs: f64,
    consumed: u64,
    redelivered: u64,
    duplicates: u64,
    acked: u64,
    nacked: u64,
    left: u64,
    latencies_us: Vec<u32>,
}

async fn run(config: Arc<Config>) -> Result<Outcome, String> {
    let queues = Arc::new(queue_names(&config));
    prepare(&config, &queues).await?;

    let start = Instant::now();
    let (done, _) = tokio::sync::watch::channel(false);
    let progress = Arc::new(consumer::Progress {
        published: Default::default(),
        consumed: Default::default(),
        redelivered: Default::default(),
        duplicates: Default::default(),
        target: config.count,
        done,
    });
    let mut consumers = Vec::new();
    for c in 0..config.consumers {
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        let queue = queues[c % queues.len()].clone();
        consumers.push(tokio::spawn(consumer::run(
            config.clone(),
            c,
            queue,
            progress.clone(),
            start,
            ready,
        )));
        // A consumer that failed to start drops `ready`; its error comes from the join below.
        let _ = is_ready.await;
    }

    // Publishers connect first, then all start together at the barrier.
    let shared = Arc::new(publisher::Shared {
        queues: queues.to_vec(),
        counts: Default::default(),
        progress: progress.clone(),
        start,
        go: tokio::sync::Barrier::new(config.publishers + 1),
    });
    let per = config.count / config.publishers as u64;
    let mut publishers = Vec::new();
    for p in 0..config.publishers {
        let extra = u64::from((p as u64) < config.count % config.publishers as u64);
        publishers.push(tokio::spawn(publisher::run(
            config.clone(),
            p,
            per + extra,
            shared.clone(),
        )));
    }
    shared.go.wait().await;
    let t0 = Instant::now();
    for p in publishers {
        p.await.map_err(|e| e.to_string())??;
    }
    let publish_secs = t0.elapsed().as_secs_f64();
    let mut latencies_us = Vec::with_capacity(config.count as usize);
    let mut finished = progress.done.subscribe();
    // Consumers stop once every message is in; if some never arrive, the timeout ends the run.
    let _ = finished.wait_for(|d| *d).await;
    let total_secs = t0.elapsed().as_secs_f64();
    for c in consumers {
        latencies_us.extend(c.await.map_err(|e| e.to_string())??.latencies_us);
    }
    let left = leftover_and_delete(&config, &queues).await?;
    latencies_us.sort_unstable();
    Ok(Outcome {
        publish_secs,
        total_secs,
        consumed: progress.consumed.load(Ordering::Relaxed),
        redelivered: progress.redelivered.load(Ordering::Relaxed),
        duplicates: progress.duplicates.load(Ordering::Relaxed),
        acked: shared.counts.acked.load(Ordering::Relaxed),
        nacked: shared.counts.nacked.load(Ordering::Relaxed),
        left,
        latencies_us,
    })
}

/// What went wrong with the broker's side of the contract, if anything.
fn problems(config: &Config, o: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    if o.consumed != config.count {
        out.push(format!(
            "consumed {} of {} published",
            o.consumed, config.count
        ));
    }
    if config.mode.confirms() && (o.acked != config.count || o.nacked != 0) {
        out.push(format!(
            "confirms: {} acked, {} nacked of {} published",
            o.acked, o.nacked, config.count
        ));
    }
    if o.duplicates != 0 {
        out.push(format!(
            "{} messages delivered more than once",
            o.duplicates
        ));
    }
    if o.redelivered != 0 {
        out.push(format!("{} deliveries flagged redelivered", o.redelivered));
    }
    if o.left != 0 {
        out.push(format!(
            "{} messages left in the queues after the run",
            o.left
        ));
    }
    out
}

fn main() {
    let mut config = match config::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let cpu0 = stats::own_cpu_seconds();
    // The relay runs in this process: its CPU time is the client's.
    if let Some(target) = config.ws_url.clone() {
        match runtime.block_on(bridge::start(target)) {
            Ok(port) => {
                config.host = "127.0.0.1".into();
                config.port = port;
            }
            Err(message) => {
                eprintln!("warren-loadgen: {message}");
                std::process::exit(2);
            }
        }
    }
    let config = Arc::new(config);
    let outcome = runtime.block_on(async {
        match tokio::time::timeout(config.timeout, run(config.clone())).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {:?}", config.timeout)),
        }
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(message) => {
            eprintln!("warren-loadgen: {message}");
            std::process::exit(1);
        }
    };
    let cpu = stats::own_cpu_seconds() - cpu0;
    let problems = problems(&config, &outcome);
    let ws_messages = bridge::MESSAGES_OUT.load(Ordering::Relaxed);
    let l = &outcome.latencies_us;
    let pct = |p| stats::percentile(l, p);
    let published_rate = config.count as f64 / outcome.publish_secs;
    let consumed_rate = outcome.consumed as f64 / outcome.total_secs;
    if config.json {
        let problems_json: Vec<String> = problems.iter().map(|p| format!("{p:?}")).collect();
        println!(
            "{{\"mode\":\"{}\",\"size\":{},\"backlog\":{},\"count\":{},\"publishers\":{},\"consumers\":{},\"queues\":{},\
             \"publish_secs\":{:.6},\"total_secs\":{:.6},\"published_per_sec\":{:.0},\"consumed_per_sec\":{:.0},\
             \"consumed\":{},\"confirmed\":{},\"nacked\":{},\"left\":{},\
             \"latency_us\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{}}},\
             \"loadgen_cpu_secs\":{:.2},\"ws_messages_out\":{},\"problems\":[{}]}}",
            config.mode.name(),
            config.size,
            config.backlog,
            config.count,
            config.publishers,
            config.consumers,
            config.queues,
            outcome.publish_secs,
            outcome.total_secs,
            published_rate,
            consumed_rate,
            outcome.consumed,
            outcome.acked,
            outcome.nacked,
            outcome.left,
            pct(50.0),
            pct(90.0),
            pct(99.0),
            pct(99.9),
            pct(100.0),
            cpu,
            ws_messages,
            problems_json.join(","),
        );
    } else {
        println!(
            "{} {} B: {} messages, {} publishers, {} consumers, {} queues",
            config.mode.name(),
            config.size,
            config.count,
            config.publishers,
            config.consumers,
            config.queues
        );
        println!(
            "  published {published_rate:.0} msg/s, consumed {consumed_rate:.0} msg/s ({:.2} s)",
            outcome.total_secs
        );
        println!(
            "  latency us: p50 {} p90 {} p99 {} p99.9 {} max {}",
            pct(50.0),
            pct(90.0),
            pct(99.0),
            pct(99.9),
            pct(100.0)
        );
        println!(
            "  load generator CPU {cpu:.2} s ({:.0}% of one core over the run)",
            cpu / outcome.total_secs * 100.0
        );
        if config.ws_url.is_some() {
            println!("  WebSocket messages sent {ws_messages}");
        }
        for p in &problems {
            println!("  PROBLEM: {p}");
        }
    }
    if !problems.is_empty() {
        std::process::exit(1);
    }
}
