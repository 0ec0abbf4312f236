//! Benchmarks at scale (issue 8): decide latency per decision class, batch
//! decide throughput, `apply` throughput, snapshot load throughput, and
//! resident bytes per record. docs/PERFORMANCE.md has the figures and the
//! commands.
//!
//! Sizes: 1k and 100k by default; `AUTHPROOF_BENCH_FULL=1` adds 1M (1M keys,
//! 1M sessions, 100k tenants: about 3.15 M records). Each size is generated
//! once per process. Latencies start from the raw request headers, so they
//! include extraction and the token's SHA-256; each iteration decides the
//! next of up to 1024 different requests of its class (different records,
//! as production traffic over a large state would), not one hot request.
#![forbid(unsafe_code)]

mod common;

use std::{
    collections::BTreeMap,
    hint::black_box,
    io::Write,
    time::{Duration, Instant},
};

use authproof_engine::{load, Command, Id, Op, Policy, Request, Snapshot, State, Token};
use authproof_verification::synth::SplitMix64;
use common::Meta;
use criterion::{BatchSize, Criterion, Throughput};

/// Requests kept per class: enough to defeat the caches at 1M records.
const PER_CLASS: usize = 1024;
/// Requests in one batch (a JSON Lines file's worth).
const BATCH: usize = 10_000;

fn main() {
    // Child mode: measure resident memory in a fresh process (see `memory`).
    if let Ok(n) = std::env::var("AUTHPROOF_BENCH_RSS_CHILD") {
        memory_child(n.parse().expect("a size"));
        return;
    }
    // Dump mode: write the generated snapshot and every class's requests,
    // to reproduce a figure with the CLI or compare two engine builds.
    if let Ok(dir) = std::env::var("AUTHPROOF_BENCH_DUMP") {
        dump(std::path::Path::new(&dir));
        return;
    }
    // Count mode: decide requests of one class and nothing else, for an
    // instruction count under `valgrind --tool=callgrind` (repeatable on a
    // loaded machine, unlike time): see scripts/bench-callgrind.
    if let Ok(class) = std::env::var("AUTHPROOF_BENCH_COUNT_CLASS") {
        count(&class);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let policy = common::policy();
    for n in common::bench_sizes() {
        let label = common::label(n);
        memory(n, &label);
        let started = Instant::now();
        let (snap, meta) = common::generate(n);
        let state = State::from_snapshot(snap.clone()).expect("generated data passes integrity");
        eprintln!(
            "generated {label}: {} records in {:.1?}",
            state.record_count(),
            started.elapsed()
        );
        bench_decide(&mut c, &label, &snap, &meta, &state, &policy);
        bench_load(&mut c, &label, &snap);
        bench_apply(&mut c, &label, &snap, &meta, state, &policy);
    }
    c.final_summary();
}

fn bench_decide(
    c: &mut Criterion,
    label: &str,
    snap: &Snapshot,
    meta: &Meta,
    state: &State,
    policy: &Policy,
) {
    let mut by_class: Vec<(&str, Vec<Request>)> = Vec::new();
    for class in common::CLASSES {
        let reqs = common::requests(class, snap, meta, state, policy, PER_CLASS);
        if reqs.is_empty() {
            eprintln!("decide/{label}/{class}: no request of this class in the generated data");
            continue;
        }
        by_class.push((class, reqs));
    }

    let mut g = c.benchmark_group(format!("decide/{label}"));
    for (class, reqs) in &by_class {
        g.bench_function(*class, |b| {
            let mut i = 0usize;
            b.iter(|| {
                let r = &reqs[i % reqs.len()];
                i = i.wrapping_add(1);
                black_box(state.decide(policy, black_box(r)))
            })
        });
    }
    g.finish();

    // A mixed batch: 70 % allows, the rest spread over the deny classes.
    let mut rng = SplitMix64::new(common::SEED);
    let allows: Vec<&Vec<Request>> = by_class
        .iter()
        .filter(|(c, _)| c.starts_with("allow"))
        .map(|(_, r)| r)
        .collect();
    let denies: Vec<&Vec<Request>> = by_class
        .iter()
        .filter(|(c, _)| !c.starts_with("allow"))
        .map(|(_, r)| r)
        .collect();
    let batch: Vec<Request> = (0..BATCH)
        .map(|_| {
            let pool = if common::percent(&mut rng, 70) {
                &allows
            } else {
                &denies
            };
            let reqs = pool[rng.below(pool.len())];
            reqs[rng.below(reqs.len())].clone()
        })
        .collect();
    let mut jsonl = Vec::new();
    for r in &batch {
        serde_json::to_writer(&mut jsonl, r).expect("a request serializes");
        jsonl.push(b'\n');
    }

    let mut g = c.benchmark_group(format!("decide_batch/{label}"));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    g.bench_function("decide", |b| {
        b.iter(|| {
            let mut allowed = 0usize;
            for r in &batch {
                allowed += usize::from(state.decide(policy, r).is_allow());
            }
            black_box(allowed)
        })
    });
    // What `authproof decide --requests R.jsonl` does per line, minus the
    // file I/O: parse, decide, serialize.
    let mut out = Vec::with_capacity(jsonl.len() * 4);
    g.bench_function("jsonl_parse_decide_serialize", |b| {
        b.iter(|| {
            out.clear();
            let reqs = load::requests_jsonl(&jsonl, "requests.jsonl").expect("valid JSONL");
            for r in &reqs {
                serde_json::to_writer(&mut out, &state.decide(policy, r)).expect("serializes");
                out.push(b'\n');
            }
            black_box(out.len())
        })
    });
    g.finish();
}

fn bench_load(c: &mut Criterion, label: &str, snap: &Snapshot) {
    let bytes = serde_json::to_vec(snap).expect("a snapshot serializes");
    let mb = bytes.len() as f64 / 1e6;
    eprintln!("snapshot {label}: {mb:.1} MB of JSON");
    if bytes.len() > 200_000_000 {
        // Too big for criterion's ten samples on a shared machine: timed
        // single runs, printed, the alternatives side by side and in turn
        // (twice each, so none is always the first to touch fresh memory).
        // `snapshot` is `load::snapshot` as shipped (one pass, the build on
        // a second thread); `one_thread` the same pass on one thread;
        // `two_step` the load before the one pass (parse a whole snapshot,
        // then build); `parse_only` the first of those two steps.
        let mut best = [f64::INFINITY; 4];
        let mut records = 0;
        for _round in 0..2 {
            for (i, best) in best.iter_mut().enumerate() {
                let t = Instant::now();
                match i {
                    0 => {
                        records = load::snapshot(&bytes, "snapshot.json")
                            .expect("loads")
                            .record_count()
                    }
                    1 => drop(load::snapshot_on(&bytes, "snapshot.json", 1).expect("loads")),
                    2 => {
                        let s = load::parse_snapshot(&bytes, "snapshot.json").expect("parses");
                        drop(State::from_snapshot(s).expect("loads"));
                    }
                    _ => drop(load::parse_snapshot(&bytes, "snapshot.json").expect("parses")),
                }
                *best = best.min(t.elapsed().as_secs_f64());
            }
        }
        for (name, secs) in ["snapshot", "one_thread", "two_step", "parse_only"]
            .into_iter()
            .zip(best)
        {
            println!(
                "load/{label}/{name}: {secs:.2} s for {mb:.1} MB: {:.1} MB/s (best of two runs, {records} records)",
                mb / secs,
            );
        }
        return;
    }
    let mut g = c.benchmark_group(format!("load/{label}"));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(10);
    if bytes.len() > 10_000_000 {
        g.measurement_time(Duration::from_secs(10));
    }
    g.bench_function("snapshot", |b| {
        b.iter(|| load::snapshot(black_box(&bytes), "snapshot.json").expect("loads"))
    });
    g.bench_function("one_thread", |b| {
        b.iter(|| load::snapshot_on(black_box(&bytes), "snapshot.json", 1).expect("loads"))
    });
    g.bench_function("two_step", |b| {
        b.iter(|| {
            let s = load::parse_snapshot(black_box(&bytes), "snapshot.json").expect("parses");
            State::from_snapshot(s).expect("loads")
        })
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| load::parse_snapshot(black_box(&bytes), "snapshot.json").expect("parses"))
    });
    g.bench_function("from_snapshot", |b| {
        b.iter_batched(
            || snap.clone(),
            |s| State::from_snapshot(s).expect("integrity"),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// One command of a cycle of eight that keeps every op succeeding (mostly)
/// however many times it runs: two authentications (one allowed, one of an
/// unknown token), a login and its logout, a mint and its revocation, a key
/// rename and a role change. `j` makes new ids unique.
fn command(j: u64, snap: &Snapshot, meta: &Meta) -> Command {
    let at = common::at();
    let mut rng = SplitMix64::new(common::SEED ^ j.rotate_left(17));
    let cycle = j / 8;
    let user = (cycle as usize).wrapping_mul(7919) % snap.users.len();
    let user_id = snap.users[user].id.clone();
    let m = &snap.memberships[meta.memberships_of[user][0] as usize];
    let id = |s: String| Id::new(s).expect("valid id");
    let op = match j % 8 {
        0 => {
            let s = rng.below(snap.sessions.len());
            let r = common::session_request(s, "workspace.read", snap.sessions[s].tenant.as_ref());
            Op::Authenticate {
                action: r.action,
                headers: r.headers,
                tenant: r.tenant,
                resource: None,
            }
        }
        1 => {
            let r = common::key_request(rng.below(snap.api_keys.len()), "workspace.read", None);
            Op::Authenticate {
                action: r.action,
                headers: r.headers,
                tenant: r.tenant,
                resource: None,
            }
        }
        2 => Op::Login {
            session: id(format!("bench_ses_{cycle}")),
            user: user_id,
            token: Token::new(format!("bench-session-token-{cycle}")),
            tenant: Some(m.tenant.clone()),
        },
        3 => Op::Logout {
            session: id(format!("bench_ses_{cycle}")),
        },
        4 => Op::MintApiKey {
            key: id(format!("bench_key_{cycle}")),
            owner: user_id,
            tenant: m.tenant.clone(),
            token: Token::new(format!("sk_live_bench_{cycle}")),
            capabilities: vec!["supervisor".into()],
            expires_at: None,
            name: Some("bench".into()),
        },
        5 => Op::RevokeApiKey {
            key: id(format!("bench_key_{cycle}")),
        },
        6 => Op::UpdateApiKey {
            key: snap.api_keys[rng.below(snap.api_keys.len())].id.clone(),
            name: Some(format!("renamed-{j}")),
            enabled: None,
            expires_at: None,
            immutable: BTreeMap::new(),
        },
        _ => Op::SetRole {
            user: user_id,
            tenant: m.tenant.clone(),
            role: if cycle & 1 == 0 { "admin" } else { "member" }.into(),
        },
    };
    Command { at, op }
}

fn bench_apply(
    c: &mut Criterion,
    label: &str,
    snap: &Snapshot,
    meta: &Meta,
    mut state: State,
    policy: &Policy,
) {
    let mut next = 0u64;
    let mut g = c.benchmark_group(format!("apply/{label}"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("mixed_commands", |b| {
        b.iter_custom(|iters| {
            let cmds: Vec<Command> = (next..next + iters)
                .map(|j| command(j, snap, meta))
                .collect();
            next += iters;
            let t = Instant::now();
            for cmd in &cmds {
                black_box(state.apply(policy, cmd));
            }
            t.elapsed()
        })
    });
    g.finish();
}

/// Resident memory of a State of size `n`, measured in a fresh child process
/// so nothing this process allocated before skews it.
/// Two children: the State built from a generated `Snapshot`
/// (`State::from_snapshot`, which knows every section's size), and the
/// State `load::snapshot` builds from the same snapshot's JSON (its tables
/// grow as records come).
fn memory(n: usize, label: &str) {
    let exe = std::env::current_exe().expect("the bench's own path");
    for via_json in [false, true] {
        let mut child = std::process::Command::new(&exe);
        child.env("AUTHPROOF_BENCH_RSS_CHILD", n.to_string());
        if via_json {
            child.env("AUTHPROOF_BENCH_RSS_JSON", "1");
        }
        let out = child.output().expect("runs the memory child");
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{}", text.replace("{label}", label));
    }
    std::io::stdout().flush().ok();
}

fn memory_child(n: usize) {
    let rss = || common::rss_bytes().expect("/proc/self/statm") as f64;
    if std::env::var_os("AUTHPROOF_BENCH_RSS_JSON").is_some() {
        let (snap, meta) = common::generate(n);
        let bytes = serde_json::to_vec(&snap).expect("a snapshot serializes");
        drop((snap, meta));
        // The JSON stays resident across both readings: only the State
        // (and what the load left allocated) is the difference.
        let r0 = rss();
        let state = load::snapshot(&bytes, "snapshot.json").expect("loads");
        let r2 = rss();
        let records = state.record_count() as f64;
        println!(
            "memory/{{label}}: {records} records; State loaded from JSON (load::snapshot) \
             {:.0} B/record resident ({:.1} MB)",
            (r2 - r0) / records,
            (r2 - r0) / 1e6,
        );
        black_box(&state);
        return;
    }
    let r0 = rss();
    let (snap, meta) = common::generate(n);
    drop(meta);
    let r1 = rss();
    let records = snap.record_count() as f64;
    let state = State::from_snapshot(snap).expect("integrity");
    let r2 = rss();
    println!(
        "memory/{{label}}: {records} records; snapshot records alone {:.0} B/record; \
         State (records + indexes) {:.0} B/record resident ({:.1} MB)",
        (r1 - r0) / records,
        (r2 - r0) / records,
        (r2 - r0) / 1e6,
    );
    black_box(&state);
}

/// Writes `snapshot.json`, `requests.jsonl` (every class, in `CLASSES`
/// order, up to 64 each) and `policy.toml` for the first bench size.
fn dump(dir: &std::path::Path) {
    let n = common::bench_sizes()[0];
    let policy = common::policy();
    let (snap, meta) = common::generate(n);
    let state = State::from_snapshot(snap.clone()).expect("integrity");
    std::fs::create_dir_all(dir).expect("creates the dump directory");
    std::fs::write(
        dir.join("snapshot.json"),
        serde_json::to_vec(&snap).expect("serializes"),
    )
    .expect("writes snapshot.json");
    let mut jsonl = Vec::new();
    for class in common::CLASSES {
        for r in common::requests(class, &snap, &meta, &state, &policy, 64) {
            serde_json::to_writer(&mut jsonl, &r).expect("serializes");
            jsonl.push(b'\n');
        }
    }
    std::fs::write(dir.join("requests.jsonl"), jsonl).expect("writes requests.jsonl");
    std::fs::write(dir.join("policy.toml"), toml_policy(&policy)).expect("writes policy.toml");
    eprintln!("wrote {}", dir.display());
}

/// The bench policy as TOML: the default one with `supervisor.connect`
/// limited to owners and admins.
fn toml_policy(_: &Policy) -> String {
    authproof_engine::DEFAULT_POLICY_TOML.replace(
        "[actions.\"supervisor.connect\"]\ncredentials = [\"api_key\"]\n",
        "[actions.\"supervisor.connect\"]\ncredentials = [\"api_key\"]\nroles = [\"owner\", \"admin\"]\n",
    )
}

/// Decides `AUTHPROOF_BENCH_COUNT_N` (default 0) requests of `class` at the
/// first bench size, cycling over up to 1024 of them. Running it with 0 and
/// with N under callgrind, the difference over N is the instructions of one
/// decision (generation and setup cancel out: they are deterministic).
fn count(class: &str) {
    let n = common::bench_sizes()[0];
    let times: usize = std::env::var("AUTHPROOF_BENCH_COUNT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let policy = common::policy();
    let (snap, meta) = common::generate(n);
    let state = State::from_snapshot(snap.clone()).expect("integrity");
    let reqs = common::requests(class, &snap, &meta, &state, &policy, PER_CLASS);
    assert!(!reqs.is_empty(), "no request of class {class}");
    let mut allowed = 0usize;
    for i in 0..times {
        allowed += usize::from(
            black_box(state.decide(&policy, black_box(&reqs[i % reqs.len()]))).is_allow(),
        );
    }
    black_box(allowed);
}
