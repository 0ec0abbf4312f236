//! The `diff` census on a large snapshot: every key and session × every
//! action × the tenants that matter × every channel, under two policies.
//!
//! The snapshot is generated (`authproof_verification::synth`, seed 1): half API
//! keys, half sessions, 6 % legacy keys, one user per five credentials.
//! `CENSUS_CREDENTIALS` sets its size (default 1,000,000); `CENSUS_THREADS`
//! the census threads (default 2, the project's machine). One iteration of
//! the full size takes tens of seconds: criterion's minimum of 10 samples
//! makes this a long bench, run on purpose:
//!
//! ```sh
//! cargo bench --bench census
//! CENSUS_CREDENTIALS=20000 cargo bench --bench census   # quick
//! ```

use std::time::Duration;

use authproof_engine::{Policy, State, Unbound};
use authproof_review as review;
use authproof_verification::synth;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn census(c: &mut Criterion) {
    let creds = env("CENSUS_CREDENTIALS", 1_000_000);
    let threads = env("CENSUS_THREADS", 2);
    let snap = synth::snapshot(&synth::Shape {
        keys: creds / 2,
        users: (creds / 5).max(1),
        tenants: (creds / 50).max(1),
        sessions: creds - creds / 2,
        legacy_ratio: 0.06,
        seed: 1,
        ..synth::Shape::default()
    });
    let at = snap.taken_at.expect("generated snapshots have taken_at");
    let state = State::from_snapshot(snap).expect("generated snapshots pass integrity");
    let mut old = Policy::default();
    old.api_key.unbound = Unbound::OldestMembership;
    let new = Policy::default();
    let cases = review::census_size(&state, &old, &new);

    let mut g = c.benchmark_group("census");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(cases));
    g.bench_function(format!("{creds} credentials, {threads} threads"), |b| {
        b.iter(|| review::census(&state, &old, &new, at, "bench", threads))
    });
    g.finish();
}

criterion_group!(benches, census);
criterion_main!(benches);
