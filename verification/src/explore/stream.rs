//! Work in numbered chunks on worker threads, its results taken in chunk
//! order on the calling thread while the workers go on: the last level of a
//! search ([`Merged::last_level`](super::Merged)), whose merge must see the
//! transitions in the sequential order but need not stop the workers.
//!
//! The workers take chunks in increasing order from a shared counter and
//! run at most `ahead` chunks past the one the caller waits for, so the
//! results held are bounded whatever the threads' speeds. A chunk taken is
//! always finished before its worker waits, so the chunk the caller waits
//! for is never held up by the window: the stream cannot deadlock.
//!
//! A worker that panics cancels the stream (the other workers stop at
//! their next chunk, including one waiting for the window) and the panic
//! reaches the caller when the threads are joined: a failed assertion in
//! the search (its cross-check) fails the run instead of hanging it.
//!
//! Rejected: one channel per worker read round-robin (chunks are taken by
//! whichever worker is free, so they do not alternate); rayon's ordered
//! parallel iterators (a dependency for one loop, and they collect a whole
//! level's transitions before the merge sees the first).

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc, Condvar, Mutex,
    },
};

/// Runs `work(worker, chunk)` for the chunks `0..chunks` on `workers`
/// threads, at most `ahead` chunks ahead of `take`, which gets each
/// chunk's result in chunk order on the calling thread and returns whether
/// to stop. Whether `take` stopped the stream.
pub(super) fn stream<T: Send>(
    workers: usize,
    chunks: usize,
    ahead: usize,
    work: impl Fn(usize, usize) -> T + Sync,
    mut take: impl FnMut(usize, T) -> bool,
) -> bool {
    let claimed = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    // Chunks taken by the caller, and the signal that the count moved.
    let window = (Mutex::new(0usize), Condvar::new());
    let (tx, rx) = mpsc::channel::<(usize, T)>();
    std::thread::scope(|s| {
        for worker in 0..workers.clamp(1, chunks.max(1)) {
            let (tx, claimed, cancel, window, work) =
                (tx.clone(), &claimed, &cancel, &window, &work);
            s.spawn(move || {
                let _release = Release { cancel, window };
                loop {
                    let c = claimed.fetch_add(1, Ordering::Relaxed);
                    if c >= chunks {
                        break;
                    }
                    let mut taken = lock(&window.0);
                    while c >= *taken + ahead && !cancel.load(Ordering::Relaxed) {
                        taken = window.1.wait(taken).unwrap_or_else(|e| e.into_inner());
                    }
                    drop(taken);
                    if cancel.load(Ordering::Relaxed) || tx.send((c, work(worker, c))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut want = 0;
        let mut stop = false;
        // Ends when every chunk is taken, when `take` stops, or when every
        // worker is gone (one panicked and cancelled the rest).
        'take: while want < chunks {
            let Ok((c, out)) = rx.recv() else { break };
            waiting.insert(c, out);
            while let Some(out) = waiting.remove(&want) {
                if take(want, out) {
                    stop = true;
                    break 'take;
                }
                want += 1;
                *lock(&window.0) = want;
                window.1.notify_all();
            }
        }
        // Workers waiting for the window, or about to take a chunk, stop;
        // one at work finishes its chunk unread.
        cancel.store(true, Ordering::Relaxed);
        let _taken = lock(&window.0);
        window.1.notify_all();
        stop
    })
}

/// On a worker's panic: cancels the stream and wakes the workers waiting
/// for the window, so that they end, drop their senders and let the caller
/// go on to the join, where the panic resumes.
struct Release<'a> {
    cancel: &'a AtomicBool,
    window: &'a (Mutex<usize>, Condvar),
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.cancel.store(true, Ordering::Relaxed);
            let _taken = lock(&self.window.0);
            self.window.1.notify_all();
        }
    }
}

/// The count, poisoned or not: no one panics while holding it.
fn lock(m: &Mutex<usize>) -> std::sync::MutexGuard<'_, usize> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every chunk is taken once, in order, on any number of workers and
    /// any window, including a window of one chunk and more workers than
    /// chunks.
    #[test]
    fn every_chunk_is_taken_in_order() {
        for (workers, chunks, ahead) in
            [(1, 10, 1), (3, 200, 1), (3, 200, 4), (8, 3, 64), (2, 0, 2)]
        {
            let mut got = Vec::new();
            let stopped = stream(
                workers,
                chunks,
                ahead,
                |_, c| c * 10,
                |c, out| {
                    got.push((c, out));
                    false
                },
            );
            assert!(!stopped);
            let want: Vec<_> = (0..chunks).map(|c| (c, c * 10)).collect();
            assert_eq!(got, want, "{workers} workers, window {ahead}");
        }
    }

    /// `take` stops the stream: nothing after the chunk it stopped at is
    /// taken, and the workers end.
    #[test]
    fn take_stops_the_stream() {
        let mut got = Vec::new();
        let stopped = stream(
            2,
            1000,
            3,
            |_, c| c,
            |c, _| {
                got.push(c);
                c == 17
            },
        );
        assert!(stopped);
        assert_eq!(got, (0..=17).collect::<Vec<_>>());
    }

    /// A worker's panic reaches the caller, with the others waiting for
    /// the window (the chunk after the panicking one never arrives):
    /// the stream ends instead of waiting for it.
    #[test]
    fn a_worker_panic_reaches_the_caller() {
        let r = std::panic::catch_unwind(|| {
            stream(
                3,
                1000,
                2,
                |_, c| {
                    assert!(c != 5, "chunk 5 fails");
                    c
                },
                |_, _| false,
            )
        });
        let e = r.expect_err("the panic goes on");
        let text = e
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| e.downcast_ref::<&str>().copied())
            .unwrap_or("");
        assert!(
            text.contains("panicked") || text.contains("chunk 5"),
            "{text}"
        );
    }
}
