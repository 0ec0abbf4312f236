//! Work done so far, for a moving progress line.
//!
//! A review runs on several threads (the census splits the credentials, the
//! small-scope searches run beside each other), so progress is a few
//! counters the workers bump and a reader samples when it wants to draw,
//! not a callback. Rejected: a callback per unit of work (it would need
//! `Sync` and a lock, and would put the terminal's pace into the workers'
//! loops); a channel of events (unbounded when nobody reads it).
//!
//! The counters never influence the work: the report is the same whether or
//! not anybody samples them.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

use crate::pipeline::Stage;

/// Shared progress of one review.
#[derive(Debug, Default)]
pub struct Progress {
    /// The stage and when it began.
    stage: Mutex<(String, Option<Instant>)>,
    done: AtomicU64,
    total: AtomicU64,
}

/// What [`Progress::sample`] saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// What the review is doing (empty before it starts).
    pub stage: String,
    /// Units done in this stage: census cases, requests, or small-scope
    /// states and transitions.
    pub done: u64,
    /// Units this stage has in all, when known in advance (0 otherwise).
    pub total: u64,
    /// Time since the stage began.
    pub elapsed: Duration,
}

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Starts `stage` of `total` units (0 when not known).
    pub(crate) fn begin(&self, stage: Stage<'_>, total: u64) {
        let mut s = self.stage.lock().unwrap_or_else(|p| p.into_inner());
        *s = (stage.to_string(), Some(Instant::now()));
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    /// `n` more units of the current stage are done.
    pub(crate) fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// The current stage and counters.
    pub fn sample(&self) -> Sample {
        let (stage, began) = self.stage.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Sample {
            stage,
            elapsed: began.map_or(Duration::ZERO, |t| t.elapsed()),
            done: self.done.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
        }
    }
}
