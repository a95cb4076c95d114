//! One consuming connection on one queue: acks each message (manual-ack
//! modes) and records its latency from the timestamp in the body.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use amqprs::channel::{BasicAckArguments, BasicConsumeArguments, BasicQosArguments};
use tokio::sync::watch;

use crate::config::Config;
use crate::connect;

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
    let connection = connect(&config).await?;
    let channel = connection
        .open_channel(None)
        .await
        .map_err(|e| format!("consumer {index}: channel.open: {e}"))?;
    let manual = config.mode.manual_ack();
    if manual {
        channel
            .basic_qos(BasicQosArguments::new(0, config.prefetch, false))
            .await
            .map_err(|e| format!("consumer {index}: basic.qos: {e}"))?;
    }
    let tag = format!("loadgen-{index}");
    let (_, mut rx) = channel
        .basic_consume_rx(
            BasicConsumeArguments::new(&queue, &tag)
                .manual_ack(manual)
                .finish(),
        )
        .await
        .map_err(|e| format!("consumer {index}: basic.consume: {e}"))?;
    let _ = ready.send(());
    let mut done = progress.done.subscribe();
    let mut latencies_us = Vec::with_capacity((progress.target / config.consumers as u64) as usize);
    // Each queue has one consumer, so a message delivered twice comes here twice.
    let mut seen = HashSet::with_capacity(latencies_us.capacity());
    loop {
        let message = tokio::select! {
            m = rx.recv() => m,
            _ = done.wait_for(|d| *d) => break,
        };
        let Some(message) = message else {
            return Err(format!("consumer {index}: the broker closed the channel"));
        };
        let (Some(deliver), Some(body)) = (message.deliver, message.content) else {
            continue;
        };
        let now = start.elapsed().as_nanos() as u64;
        let sent = body
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(now);
        latencies_us.push(u32::try_from(now.saturating_sub(sent) / 1000).unwrap_or(u32::MAX));
        if deliver.redelivered() {
            progress.redelivered.fetch_add(1, Ordering::Relaxed);
        }
        if manual {
            channel
                .basic_ack(BasicAckArguments::new(deliver.delivery_tag(), false))
                .await
                .map_err(|e| format!("consumer {index}: basic.ack: {e}"))?;
        }
        let id = body
            .get(8..16)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes);
        if !id.is_some_and(|id| seen.insert(id)) {
            progress.duplicates.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if progress.consumed.fetch_add(1, Ordering::Relaxed) + 1 == progress.target {
            let _ = progress.done.send(true);
        }
    }
    // close-ok comes after every ack sent before it on this channel.
    channel
        .close()
        .await
        .map_err(|e| format!("consumer {index}: channel.close: {e}"))?;
    connection
        .close()
        .await
        .map_err(|e| format!("consumer {index}: connection.close: {e}"))?;
    Ok(Consumed { latencies_us })
}
