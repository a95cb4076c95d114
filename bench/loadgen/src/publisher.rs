//! One publishing connection: publishes its share of the messages round robin
//! over the queues. Publishes are not awaited one by one: up to `window` are
//! in flight together (unconfirmed, with confirms; not yet written, without),
//! so the connection writes them several at once, as a client that pipelines
//! does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::{BasicProperties, Channel};

use crate::config::Config;
use crate::consumer::Progress;
use crate::{close, connect};

/// Confirms counted across all publishers, for the final check.
#[derive(Default)]
pub struct ConfirmCounts {
    pub acked: AtomicU64,
    pub nacked: AtomicU64,
}

impl ConfirmCounts {
    fn count(&self, confirmation: Confirmation) {
        match confirmation {
            Confirmation::Ack(_) => self.acked.fetch_add(1, Ordering::Relaxed),
            Confirmation::Nack(_) => self.nacked.fetch_add(1, Ordering::Relaxed),
            Confirmation::NotRequested => 0,
        };
    }
}

/// What all publishers of a run share.
pub struct Shared {
    pub queues: Vec<String>,
    pub counts: ConfirmCounts,
    pub progress: Arc<Progress>,
    pub start: Instant,
    /// All publishers start together, once connected.
    pub go: tokio::sync::Barrier,
}

/// Publishes `count` messages; returns when the last is written and, with
/// confirms, confirmed.
pub async fn run(
    config: Arc<Config>,
    index: usize,
    count: u64,
    shared: Arc<Shared>,
) -> Result<(), String> {
    let Shared {
        queues,
        counts,
        progress,
        start,
        go,
    } = &*shared;
    let who = format!("publisher {index}");
    let connection = connect(&config).await?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| format!("{who}: channel.open: {e}"))?;
    let confirms = config.mode.confirms();
    if confirms {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| format!("{who}: confirm.select: {e}"))?;
    }
    let props = if config.mode.persistent() {
        BasicProperties::default().with_delivery_mode(2)
    } else {
        BasicProperties::default()
    };
    let mut in_flight = FuturesUnordered::new();
    let settle = |result: lapin::Result<Confirmation>| -> Result<(), String> {
        counts.count(result.map_err(|e| format!("{who}: basic.publish: {e}"))?);
        Ok(())
    };
    go.wait().await;
    for i in 0..count {
        // Without it, publishers outrun consumers and every figure becomes
        // that of a queue growing by the whole run.
        while config.backlog > 0
            && progress.published.load(Ordering::Relaxed)
                >= progress.consumed.load(Ordering::Relaxed) + config.backlog
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        while in_flight.len() >= config.window {
            if let Some(result) = in_flight.next().await {
                settle(result)?;
            }
        }
        let mut body = vec![b'x'; config.size];
        let sent = start.elapsed().as_nanos() as u64;
        body[..8].copy_from_slice(&sent.to_le_bytes());
        // Unique across publishers, so a consumer can tell a duplicate.
        body[8..16].copy_from_slice(&(((index as u64) << 40) | i).to_le_bytes());
        let route = &queues[(index + i as usize) % queues.len()];
        in_flight.push(publish(&channel, route, body, props.clone()));
        // Polled once now, a publish is queued on the connection at once.
        while let Some(Some(result)) = in_flight.next().now_or_never() {
            settle(result)?;
        }
        progress.published.fetch_add(1, Ordering::Relaxed);
    }
    while let Some(result) = in_flight.next().await {
        settle(result)?;
    }
    drop(in_flight);
    close(&who, channel, connection).await
}

/// One publish, settled when written (without confirms) or confirmed.
async fn publish(
    channel: &Channel,
    route: &str,
    body: Vec<u8>,
    props: BasicProperties,
) -> lapin::Result<Confirmation> {
    let confirm = channel
        .basic_publish("", route, BasicPublishOptions::default(), &body, props)
        .await?;
    // Without confirms this is `NotRequested` at once.
    confirm.await
}
