//! One publishing connection: publishes its share of the messages round robin
//! over the queues, keeping at most `window` unconfirmed when confirms are on.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use amqprs::callbacks::ChannelCallback;
use amqprs::channel::{BasicPublishArguments, Channel, ConfirmSelectArguments};
use amqprs::connection::Connection;
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::connect;
use crate::consumer::Progress;

/// Confirms counted across all publishers, for the final check.
#[derive(Default)]
pub struct ConfirmCounts {
    pub acked: AtomicU64,
    pub nacked: AtomicU64,
}

/// Tracks which delivery tags are confirmed: every tag up to `watermark`, and
/// single confirms above it (brokers may confirm out of order, one at a time).
struct Confirms {
    window: Arc<Semaphore>,
    shared: Arc<Shared>,
    watermark: u64,
    above: BTreeSet<u64>,
}

impl Confirms {
    /// Marks `tag` (and with `multiple`, all before it) confirmed; returns how
    /// many tags that newly confirmed.
    fn confirm(&mut self, tag: u64, multiple: bool) -> u64 {
        if tag <= self.watermark {
            return 0;
        }
        let newly = if multiple {
            let singles = self.above.range(..=tag).count() as u64;
            self.above = self.above.split_off(&(tag + 1));
            let n = tag - self.watermark - singles;
            self.watermark = tag;
            n
        } else {
            u64::from(self.above.insert(tag))
        };
        while self.above.remove(&(self.watermark + 1)) {
            self.watermark += 1;
        }
        self.window.add_permits(newly as usize);
        newly
    }
}

#[async_trait::async_trait]
impl ChannelCallback for Confirms {
    async fn close(
        &mut self,
        _: &Channel,
        close: CloseChannel,
    ) -> Result<(), amqprs::error::Error> {
        eprintln!("publisher channel closed by the broker: {close}");
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        let n = self.confirm(ack.delivery_tag(), ack.mutiple());
        self.shared.counts.acked.fetch_add(n, Ordering::Relaxed);
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        let n = self.confirm(nack.delivery_tag(), nack.multiple());
        self.shared.counts.nacked.fetch_add(n, Ordering::Relaxed);
    }
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
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
        progress,
        start,
        go,
        ..
    } = &*shared;
    let connection: Connection = connect(&config).await?;
    let channel = connection
        .open_channel(None)
        .await
        .map_err(|e| format!("publisher {index}: channel.open: {e}"))?;
    let window = Arc::new(Semaphore::new(config.window));
    if config.mode.confirms() {
        channel
            .register_callback(Confirms {
                window: window.clone(),
                shared: shared.clone(),
                watermark: 0,
                above: BTreeSet::new(),
            })
            .await
            .map_err(|e| format!("publisher {index}: {e}"))?;
        channel
            .confirm_select(ConfirmSelectArguments::default())
            .await
            .map_err(|e| format!("publisher {index}: confirm.select: {e}"))?;
    }
    let mut props = BasicProperties::default();
    if config.mode.persistent() {
        props.with_persistence(true);
    }
    let args: Vec<BasicPublishArguments> = queues
        .iter()
        .map(|q| BasicPublishArguments::new("", q))
        .collect();
    let mut body = vec![b'x'; config.size];
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
        if config.mode.confirms() {
            window
                .acquire()
                .await
                .map_err(|e| format!("publisher {index}: {e}"))?
                .forget();
        }
        let sent = start.elapsed().as_nanos() as u64;
        body[..8].copy_from_slice(&sent.to_le_bytes());
        // Unique across publishers, so a consumer can tell a duplicate.
        body[8..16].copy_from_slice(&(((index as u64) << 40) | i).to_le_bytes());
        let route = &args[(index + i as usize) % args.len()];
        channel
            .basic_publish(props.clone(), body.clone(), route.clone())
            .await
            .map_err(|e| format!("publisher {index}: basic.publish: {e}"))?;
        progress.published.fetch_add(1, Ordering::Relaxed);
    }
    if config.mode.confirms() {
        // Every permit back means every publish confirmed (or nacked).
        let all = u32::try_from(config.window).unwrap_or(u32::MAX);
        let _ = window
            .acquire_many(all)
            .await
            .map_err(|e| format!("publisher {index}: {e}"))?;
    }
    // channel.close waits for close-ok, so everything before it has reached the broker.
    channel
        .close()
        .await
        .map_err(|e| format!("publisher {index}: channel.close: {e}"))?;
    connection
        .close()
        .await
        .map_err(|e| format!("publisher {index}: connection.close: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confirms() -> Confirms {
        Confirms {
            window: Arc::new(Semaphore::new(0)),
            shared: Arc::new(Shared {
                queues: Vec::new(),
                counts: ConfirmCounts::default(),
                progress: Arc::new(Progress {
                    published: Default::default(),
                    consumed: Default::default(),
                    redelivered: Default::default(),
                    duplicates: Default::default(),
                    target: 0,
                    done: tokio::sync::watch::channel(false).0,
                }),
                start: Instant::now(),
                go: tokio::sync::Barrier::new(1),
            }),
            watermark: 0,
            above: BTreeSet::new(),
        }
    }

    #[test]
    fn single_confirms_out_of_order_then_multiple_count_each_tag_once() {
        let mut c = confirms();
        assert_eq!(c.confirm(3, false), 1);
        assert_eq!(c.confirm(5, false), 1);
        assert_eq!(
            c.confirm(3, false),
            0,
            "a repeated confirm releases nothing"
        );
        assert_eq!(c.watermark, 0);
        // Tags 1, 2 and 4 are new; 3 was confirmed already, 5 lies above the multiple.
        assert_eq!(c.confirm(4, true), 3);
        assert_eq!(
            c.watermark, 5,
            "the single confirm of 5 joins the watermark"
        );
        assert!(c.above.is_empty());
        assert_eq!(c.confirm(2, true), 0, "below the watermark");
        assert_eq!(c.confirm(6, false), 1);
        assert_eq!(c.watermark, 6);
        assert_eq!(c.window.available_permits(), 6, "one permit back per tag");
    }
}
