//! One consuming connection on one queue: acks each message (manual-ack
//! modes) and records its latency from the timestamp in the body. Acks are
//! not awaited one by one: those not yet written are in flight together, so
//! the connection writes them as they come, several at once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use lapin::acker::Acker;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio::sync::watch;

use crate::config::Config;
use crate::{close, connect};

/// Deliveries counted across all consumers; `done` flips once the total
/// reaches the message count, so consumers of emptied queues stop too.
pub struct Progress {
    pub published: AtomicU64,
    pub consumed: AtomicU64,
    pub redelivered: AtomicU64,
    pub duplicates: AtomicU64,
    pub target: u64,
    pub done: watch::Sender<bool>,
}

/// What one consumer saw.
pub struct Consumed {
    /// Publish-to-delivery latency of each message, in microseconds.
    pub latencies_us: Vec<u32>,
}

/// Sets up the consumer, then signals `ready` and consumes until the total
/// reaches the target.
pub async fn run(
    config: Arc<Config>,
    index: usize,
    queue: String,
    progress: Arc<Progress>,
    start: Instant,
    ready: tokio::sync::oneshot::Sender<()>,
) -> Result<Consumed, String> {
    let who = format!("consumer {index}");
    let connection = connect(&config).await?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| format!("{who}: channel.open: {e}"))?;
    let manual = config.mode.manual_ack();
    if manual {
        channel
            .basic_qos(config.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| format!("{who}: basic.qos: {e}"))?;
    }
    let options = BasicConsumeOptions {
        no_ack: !manual,
        ..Default::default()
    };
    let mut deliveries = channel
        .basic_consume(
            &queue,
            &format!("loadgen-{index}"),
            options,
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("{who}: basic.consume: {e}"))?;
    let _ = ready.send(());
    let mut done = progress.done.subscribe();
    let mut latencies_us = Vec::with_capacity((progress.target / config.consumers as u64) as usize);
    // Each queue has one consumer, so a message delivered twice comes here twice.
    let mut seen = HashSet::with_capacity(latencies_us.capacity());
    let mut acks = FuturesUnordered::new();
    loop {
        let delivery = tokio::select! {
            biased;
            Some(acked) = acks.next(), if !acks.is_empty() => {
                let acked: lapin::Result<()> = acked;
                acked.map_err(|e| format!("{who}: basic.ack: {e}"))?;
                continue;
            }
            d = deliveries.next() => d,
            _ = done.wait_for(|d| *d) => break,
        };
        let delivery = match delivery {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(format!("{who}: {e}")),
            None => return Err(format!("{who}: the broker closed the channel")),
        };
        let body = &delivery.data;
        let now = start.elapsed().as_nanos() as u64;
        let sent = body
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(now);
        latencies_us.push(u32::try_from(now.saturating_sub(sent) / 1000).unwrap_or(u32::MAX));
        if delivery.redelivered {
            progress.redelivered.fetch_add(1, Ordering::Relaxed);
        }
        let id = body
            .get(8..16)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes);
        if manual {
            acks.push(ack(delivery.acker));
        }
        if !id.is_some_and(|id| seen.insert(id)) {
            progress.duplicates.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if progress.consumed.fetch_add(1, Ordering::Relaxed) + 1 == progress.target {
            let _ = progress.done.send(true);
        }
    }
    while let Some(acked) = acks.next().await {
        acked.map_err(|e| format!("{who}: basic.ack: {e}"))?;
    }
    close(&who, channel, connection).await?;
    Ok(Consumed { latencies_us })
}

async fn ack(acker: Acker) -> lapin::Result<()> {
    acker.ack(BasicAckOptions::default()).await
}
