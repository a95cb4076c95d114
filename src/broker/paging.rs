//! Paged queues: a queue whose messages pass its memory budget keeps a run of
//! them in a page on the store and only the run's bounds in memory (see
//! `queue::Level`). Writing, reading and deleting pages are effects
//! ([`PageOp`]); the bytes of a page come back as a command
//! ([`Broker::page_loaded`]), so the engine stays pure.
//!
//! Durability: a page of a durable queue holding persistent messages is
//! written synced, and the host writes every page taken before the log
//! batch taken after it, and deletes pages only after the log batch that
//! follows. The log keeps each persistent message's own record until a
//! compaction, which writes a `Paged` record for each run instead; when a
//! run is read back, its persistent entries are written to the log again
//! with an `Unpaged` record, so the page can go. A recovery turns a `Paged`
//! record into a run without reading the page.
//!
//! Queues that drop their head at a length limit are not paged: their limit
//! bounds their memory, and dropping from a page not read would need the
//! dropped message's size and body before it is read.

use super::engine::Broker;
use super::ids::QueueId;
use super::queue::{Entry, PageRun, RunState, ENTRY_OVERHEAD, NEVER};
use super::sort;
use super::store::StoreRecord;
use super::value::ShortStr;
use crate::storage::page;

/// What the engine asks the host to do with its store's pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageOp {
    /// Store `bytes` as page `page`; `sync`: durable before the log batch
    /// that follows (persistent messages of a durable queue).
    Write {
        page: u64,
        bytes: Vec<u8>,
        sync: bool,
    },
    /// Read page `page` and hand it back with [`Broker::page_loaded`].
    Read { page: u64 },
    /// The page is no longer needed (after the log batch that follows).
    Delete { page: u64 },
}

/// Runs read ahead at once per priority level.
const READS_IN_FLIGHT: usize = 3;
/// The largest page.
const MAX_PAGE: usize = 1 << 20;

impl Broker {
    /// Page operations emitted since the last call, in order.
    pub fn take_page_ops(&mut self) -> Vec<PageOp> {
        std::mem::take(&mut self.page_ops)
    }

    pub fn has_page_ops(&self) -> bool {
        !self.page_ops.is_empty()
    }

    /// Pages the engine refers to (runs of every queue): after a restart the
    /// host deletes the others, left by a crash.
    pub fn live_pages(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .queues
            .iter()
            .filter_map(|s| s.queue.as_deref())
            .flat_map(|q| q.ready.runs().map(|(_, r)| r.page))
            .collect();
        sort::sort(&mut out);
        out
    }

    /// Pages asked for and not yet handed back: a host resumed from an
    /// image asks for them again.
    pub fn pages_reading(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self.reading.keys().copied().collect();
        sort::sort(&mut out);
        out
    }

    /// Every queue's id.
    pub(crate) fn queue_ids(&self) -> Vec<QueueId> {
        self.queues
            .iter()
            .enumerate()
            .filter(|(_, s)| s.queue.is_some())
            .map(|(i, s)| QueueId::new(i as u32, s.gen))
            .collect()
    }

    /// The queue can be paged: the broker has a budget and the queue does
    /// not drop its head at a length limit.
    fn pageable(&self, q: QueueId) -> Option<usize> {
        let budget = self.config.page_budget_bytes?;
        let queue = self.queue(q)?;
        let a = &queue.args;
        let drops_head = a.overflow == super::args::Overflow::DropHead
            && (a.max_length.is_some() || a.max_length_bytes.is_some());
        (!drops_head).then_some(budget)
    }

    /// Pages out what passes the queue's budget and asks for the runs its
    /// consumers reach next (or whose first message is due to expire).
    pub(crate) fn page_service(&mut self, q: QueueId) {
        // The common case, on every publish and dispatch: nothing paged and
        // within budget, so nothing to write or read.
        let idle = self.queue(q).map_or(true, |queue| {
            !queue.ready.has_runs()
                && self
                    .config
                    .page_budget_bytes
                    .map_or(true, |budget| queue.ready.mem() <= budget)
        });
        if idle {
            return;
        }
        let Some(budget) = self.pageable(q) else {
            // Runs a queue has from before (a policy that drops the head
            // since, an image resumed without a budget) are still read.
            self.read_ahead(q, 0, usize::MAX);
            return;
        };
        let keep = budget / 4;
        let page_mem = (budget / 4).clamp(1, MAX_PAGE);
        loop {
            let Some(queue) = self.queue(q) else { return };
            if queue.ready.mem() <= budget {
                break;
            }
            // The lowest level with something to cut: delivered last. Behind
            // runs, only a whole page: runs read back ahead of consumers must
            // not push the tail out to a page of its own again and again.
            let level = queue.ready.levels().iter().position(|l| {
                if l.runs.is_empty() {
                    l.head_mem > keep && l.head.len() > 1
                } else {
                    l.tail_mem >= page_mem
                }
            });
            let Some(level) = level else { break };
            if !self.page_out(q, level, keep, page_mem) {
                break;
            }
        }
        // With consumers, far enough ahead that one at full speed does not
        // wait for the store; without, only what the timer needs.
        let consumed = self
            .queue(q)
            .is_some_and(|queue| !queue.consumers.is_empty());
        let mark = if consumed { budget / 2 } else { budget / 8 };
        self.read_ahead(q, mark, budget.saturating_sub(page_mem));
    }

    fn page_out(&mut self, q: QueueId, level: usize, keep: usize, page_mem: usize) -> bool {
        let persisted = self
            .queue(q)
            .is_some_and(|queue| self.persists_queue(queue));
        let page_id = self.next_page;
        let Some(queue) = self.queue_mut(q) else {
            return false;
        };
        let entries = queue.ready.cut(level, keep, page_mem);
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return false;
        };
        let mut run = PageRun {
            page: page_id,
            first_seq: first.seq,
            last_seq: last.seq,
            count: 0,
            bytes: 0,
            min_expires_at: NEVER,
            max_msg_id: 0,
            persistent: 0,
            persistent_bytes: 0,
            recovered: false,
            crashed: false,
            state: RunState::Out,
        };
        for e in &entries {
            run.count += 1;
            run.max_msg_id = run.max_msg_id.max(e.msg_id);
            run.bytes += e.size() as u64;
            if e.msg.persistent() {
                run.persistent += 1;
                run.persistent_bytes += e.size() as u64;
            }
            if e.expires_at != NEVER {
                run.min_expires_at = run.min_expires_at.min(e.expires_at);
                let prio = queue.priority_of(&e.msg);
                queue.expiry.remove(&(e.expires_at, e.seq, prio));
            }
        }
        let sync = persisted && run.persistent > 0;
        queue.ready.add_cut_run(level, run);
        self.next_page += 1;
        self.page_ops.push(PageOp::Write {
            page: page_id,
            bytes: page::encode(&entries),
            sync,
        });
        true
    }

    /// Asks for the next runs of every level whose head is below `mark`,
    /// and for a first run whose earliest expiry is due. What is read stays
    /// within `room` (everything in memory plus runs in flight), so a read
    /// never pushes the queue over its budget and out to a page again; only
    /// an empty head gets its next run whatever the room.
    ///
    /// Everything counts, not the head alone: behind a run, a publisher
    /// fills the tail while consumers wait. A read that put the queue over
    /// its budget was paged out again at once and asked for again, a write
    /// and a read per turn with no end while a host answers reads of pages
    /// it still holds at once. And a due run is not read past the room:
    /// what of it has not expired joins the head, which is not paged while
    /// runs follow it, so with messages of mixed TTLs reading each due run
    /// brought the whole backlog into memory.
    fn read_ahead(&mut self, q: QueueId, mark: usize, room: usize) {
        let now = self.now;
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        let mut asked = Vec::new();
        let mut held = queue.ready.mem();
        for l in queue.ready.levels_mut() {
            let due = l
                .runs
                .front()
                .is_some_and(|r| matches!(r.state, RunState::Out) && r.min_expires_at <= now);
            if !due && (l.runs.is_empty() || (l.head_mem > mark && !l.head.is_empty())) {
                continue;
            }
            for (i, r) in l.runs.iter_mut().take(READS_IN_FLIGHT).enumerate() {
                let run_mem = (r.bytes as usize).saturating_add(r.count as usize * ENTRY_OVERHEAD);
                let first_needed = i == 0 && l.head.is_empty();
                if held.saturating_add(run_mem) > room && !first_needed {
                    break;
                }
                held = held.saturating_add(run_mem);
                if matches!(r.state, RunState::Out) {
                    r.state = RunState::Reading;
                    asked.push(r.page);
                }
            }
        }
        for page in asked {
            self.reading.insert(page, q.to_bits());
            self.page_ops.push(PageOp::Read { page });
        }
    }

    /// The host read page `page` (asked for with [`PageOp::Read`]): its
    /// entries join their queue in order, and deliveries resume. A page no
    /// run waits for (its queue was deleted or purged) is ignored.
    pub fn page_loaded(&mut self, now_ms: u64, page: u64, bytes: &[u8]) -> Result<(), String> {
        self.advance(now_ms);
        let Some(q) = self.reading.remove(&page).map(QueueId::from_bits) else {
            return Ok(());
        };
        let Some(queue) = self.queue_mut(q) else {
            return Ok(());
        };
        let Some(run) = queue
            .ready
            .levels_mut()
            .iter_mut()
            .flat_map(|l| l.runs.iter_mut())
            .find(|r| r.page == page)
        else {
            return Ok(());
        };
        match page::decode(bytes) {
            Ok(entries) => run.state = RunState::Loaded(entries),
            Err(e) => {
                run.state = RunState::Out;
                self.mark_dirty(q); // asked again at the next poll
                return Err(format!("page {page}: {e}"));
            }
        }
        self.settle_loaded(q);
        self.mark_dirty(q);
        Ok(())
    }

    /// Moves loaded runs at the front of their level into the head.
    fn settle_loaded(&mut self, q: QueueId) {
        let persisted = self
            .queue(q)
            .is_some_and(|queue| self.persists_queue(queue));
        let mut arrived: Vec<(usize, PageRun, Vec<Entry>)> = Vec::new();
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        for (level, l) in queue.ready.levels_mut().iter_mut().enumerate() {
            while l
                .runs
                .front()
                .is_some_and(|r| matches!(r.state, RunState::Loaded(_)))
            {
                let Some(mut run) = l.runs.pop_front() else {
                    break;
                };
                let RunState::Loaded(entries) = std::mem::replace(&mut run.state, RunState::Out)
                else {
                    continue;
                };
                arrived.push((level, run, entries));
            }
        }
        let mut earliest = NEVER;
        for (level, run, entries) in &mut arrived {
            queue.ready.uncount_run(run);
            // The log needs the persistent ones again (below); the rest move.
            let keep = persisted && run.persistent > 0;
            let mut taken = if keep {
                entries.clone()
            } else {
                std::mem::take(entries)
            };
            if run.recovered {
                // A run rebuilt from the log lost its transient messages.
                taken.retain(|e| e.msg.persistent());
            }
            if run.crashed {
                for e in taken.iter_mut().filter(|e| e.deliveries == 0) {
                    e.deliveries = 1;
                }
            }
            earliest = taken.iter().fold(earliest, |m, e| m.min(e.expires_at));
            queue.push_ready_run(*level, taken);
        }
        for l in queue.ready.levels_mut() {
            l.merge_tail();
        }
        if earliest != NEVER {
            self.schedule(earliest);
        }
        for (_, run, entries) in arrived {
            if persisted && run.persistent > 0 {
                // The log holds these again before the page goes.
                for e in entries.iter().filter(|e| e.msg.persistent()) {
                    let e = Entry {
                        deliveries: if run.crashed {
                            e.deliveries.max(1)
                        } else {
                            e.deliveries
                        },
                        ..e.clone()
                    };
                    if let Some(r) = self.message_record(q, &e) {
                        self.record_cold(r);
                    }
                    if e.failed > 0 {
                        self.record_cold(StoreRecord::Returned {
                            seq: e.seq,
                            deliveries: e.deliveries.into(),
                            failed: e.failed.into(),
                        });
                    }
                }
                self.record_cold(StoreRecord::Unpaged { page: run.page });
            }
            self.page_ops.push(PageOp::Delete { page: run.page });
        }
    }

    /// Drops paged runs (a purge or a deleted queue): their pages go, and
    /// the log forgets their messages.
    pub(crate) fn drop_runs(
        &mut self,
        (vhost, queue): (&ShortStr, &ShortStr),
        runs: Vec<PageRun>,
        persisted: bool,
        reason: super::event::DropReason,
    ) {
        let count: u64 = runs.iter().map(|r| u64::from(r.count)).sum();
        if count > 0 {
            let queue = queue.clone();
            self.event_cold(|| super::event::EventKind::PagedDropped {
                queue,
                count,
                reason,
            });
        }
        for run in runs {
            self.reading.remove(&run.page);
            if persisted && run.persistent > 0 {
                self.record_cold(StoreRecord::PageDropped {
                    vhost: vhost.clone(),
                    queue: queue.clone(),
                    page: run.page,
                    first_seq: run.first_seq,
                    last_seq: run.last_seq,
                });
            }
            self.page_ops.push(PageOp::Delete { page: run.page });
        }
    }
}
