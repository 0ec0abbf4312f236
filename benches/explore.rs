//! Exhaustive exploration throughput: transitions per second of
//! `authproof explore` (engine + model + all ten invariants per transition)
//! on the small universe, one thread.
//!
//! ```sh
//! cargo bench --bench explore
//! ```

use std::time::Duration;

use authproof_engine::Policy;
use authproof_verification::explore::{explore, Config, Universe};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    let universe = Universe::for_policy(&policy);
    let mut group = c.benchmark_group("explore");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for depth in [1, 2] {
        let cfg = Config {
            depth,
            ..Config::default()
        };
        // The work is fixed for a depth: count it once for the throughput.
        let report = explore(&universe, &policy, &cfg, &mut |_| {});
        assert!(report.counterexample.is_none(), "the engine holds");
        group.throughput(Throughput::Elements(report.transitions));
        group.bench_function(format!("depth{depth}/transitions"), |b| {
            b.iter(|| explore(&universe, &policy, &cfg, &mut |_| {}).transitions)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
