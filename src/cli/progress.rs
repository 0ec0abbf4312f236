//! The moving progress line on stderr (docs/SPEC.md §10).
//!
//! Long work (check, conform, explore, diff) redraws one line in place, at
//! most five times a second, so a terminal shows that it is alive and how
//! fast it goes; when stderr is not a terminal (a CI log, a pipe) nothing is
//! drawn, so logs hold only the report. One type for every command, so the
//! rate, the escape codes and the clean-up are the same everywhere.

use std::{
    io::{IsTerminal, Write},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

/// Redraw at most this often.
const PERIOD: Duration = Duration::from_millis(200);

/// A progress line on stderr.
pub struct Line {
    on: bool,
    started: Instant,
    /// When the line was last drawn; `None` when nothing is on it.
    drawn: Option<Instant>,
}

impl Line {
    /// A line on stderr, drawn only when stderr is a terminal.
    pub fn stderr() -> Line {
        Line {
            on: std::io::stderr().is_terminal(),
            started: Instant::now(),
            drawn: None,
        }
    }

    /// Whether anything is drawn at all.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Seconds since the line was created.
    pub fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Redraws the line with `text` unless it was drawn less than a period
    /// ago (`text` is then not even built).
    pub fn update(&mut self, text: impl FnOnce(f64) -> String) {
        if !self.on || self.drawn.is_some_and(|t| t.elapsed() < PERIOD) {
            return;
        }
        let line = text(self.secs());
        self.draw(&line, false);
        self.drawn = Some(Instant::now());
    }

    /// Redraws the line with `text` now (a new stage, say).
    pub fn show(&mut self, text: &str) {
        if self.on {
            self.draw(text, false);
            self.drawn = Some(Instant::now());
        }
    }

    /// Replaces the line with `text` and ends it: the text stays on the
    /// terminal (a finished level, say).
    pub fn keep(&mut self, text: &str) {
        if self.on {
            self.draw(text, true);
            self.drawn = None;
        }
    }

    /// Erases the line.
    pub fn clear(&mut self) {
        if self.on && self.drawn.take().is_some() {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
        }
    }

    fn draw(&self, text: &str, end: bool) {
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K{text}{}", if end { "\n" } else { "" });
        let _ = e.flush();
    }
}

/// Runs `work` while another thread redraws `line` with `text` every
/// period: for work that reports through shared counters rather than
/// calling back (a review's census runs on several threads).
pub fn while_drawing<R>(
    mut line: Line,
    text: impl Fn(f64) -> String + Sync,
    work: impl FnOnce() -> R,
) -> R {
    if !line.is_on() {
        return work();
    }
    let stop = AtomicBool::new(false);
    let (stop, text) = (&stop, &text);
    std::thread::scope(|s| {
        let drawer = s.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                line.update(text);
                std::thread::park_timeout(PERIOD);
            }
            line.clear();
        });
        let r = work();
        stop.store(true, Ordering::Relaxed);
        drawer.thread().unpark();
        let _ = drawer.join();
        r
    })
}

/// Resident memory of this process in MiB (Linux; `None` elsewhere).
pub fn rss_mib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096 / (1 << 20))
}

/// `12.3k` for counts on a progress line.
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=9_999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

impl Drop for Line {
    /// An error printed after the work must not land on the half-drawn line.
    fn drop(&mut self) {
        self.clear();
    }
}
