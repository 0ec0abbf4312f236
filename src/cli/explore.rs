//! `authproof explore`: exhaustive small-scope exploration.

use std::path::PathBuf;

use authproof_verification::explore::{self, Config, ExploreReport, Universe};

use super::{
    io,
    progress::{self, Line},
    CliError, Outcome, PolicyArg,
};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  authproof explore --depth 3
  authproof explore --depth 5 --shard 0/4 --max-states 2000000
  authproof explore --depth 7 --time 600 --threads 2
  authproof explore --universe wide --depth 3
  authproof explore --policy policies/better-auth.toml --depth 3 --format json")]
pub struct Args {
    #[command(flatten)]
    policy: PolicyArg,
    /// Maximum number of commands on a path (clock ticks are free).
    #[arg(long, default_value_t = 4)]
    depth: usize,
    /// Explore only shard I of N (`I/N`, 0-based): a CI matrix splits the work.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, default_value = "0/1")]
    shard: (usize, usize),
    /// Bound on distinct states (about 250 bytes each kept for expansion,
    /// about 40 each of the last level, which is only counted).
    #[arg(long, default_value_t = 20_000_000)]
    max_states: usize,
    /// Directory for the shortest counterexample trace.
    #[arg(long, value_name = "DIR", default_value = "authproof-out")]
    out: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExploreFormat::Text)]
    format: ExploreFormat,
    /// Stop after this many seconds; the report says the depth completed
    /// (exit 3 unless `--allow-incomplete`). 0.001 to 10^7.
    #[arg(long, value_name = "SECONDS", value_parser = parse_secs)]
    time: Option<f64>,
    /// Worker threads (default: every core); the result does not depend on it. 1 to 256.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    /// Exit 0 even when a bound stopped the search before `--depth` was
    /// covered (the report still says how deep it got).
    #[arg(long)]
    allow_incomplete: bool,
    /// The universe: `small` (2 tenants, no two elements alike) or `wide`
    /// (a third tenant mirroring the second; docs/VERIFICATION.md).
    #[arg(long, value_enum, default_value_t = UniverseArg::Small)]
    universe: UniverseArg,
    /// Explore every state, not one per set of mirrored states (symmetry
    /// reduction, on by default; the small universe has no symmetry).
    #[arg(long)]
    no_symmetry: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UniverseArg {
    Small,
    Wide,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.001..=1e7).contains(&v) => Ok(v),
        _ => Err("expected a number of seconds from 0.001 to 10000000".into()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExploreFormat {
    Text,
    Json,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let i: usize = i.parse().map_err(|_| "I is not a number")?;
    let n: usize = n.parse().map_err(|_| "N is not a number")?;
    if n == 0 || i >= n {
        return Err("need 0 <= I < N".into());
    }
    Ok((i, n))
}

pub fn run(a: Args) -> Result<Outcome, CliError> {
    let policy = io::policy(a.policy.policy.as_deref())?;
    let universe = match a.universe {
        UniverseArg::Small => Universe::for_policy(&policy),
        UniverseArg::Wide => Universe::wide_for_policy(&policy),
    };
    let cfg = Config {
        symmetry: !a.no_symmetry,
        depth: a.depth,
        shard: a.shard,
        max_states: a.max_states,
        time_limit: a.time.map(std::time::Duration::from_secs_f64),
        threads: a.threads.map_or(Config::default().threads, usize::from),
        ..Config::default()
    };
    // The output directory is checked before the search, so a bad --out
    // never loses a counterexample found minutes later.
    let out_dir = io::OutputDir::prepare(&a.out)?;
    // A moving line on a terminal (nothing when stderr is not one): inside a
    // level after every batch, and a line that stays when a level ends.
    let mut line = Line::stderr();
    let report = explore::explore(&universe, &policy, &cfg, &mut |l| {
        let text = |secs: f64| {
            let rate = progress::count((l.transitions as f64 / secs.max(1e-3)) as u64);
            let mem = progress::rss_mib().map_or(String::new(), |m| format!(", {m} MiB"));
            format!(
                "depth {}: {}/{} nodes, {} states, {} transitions ({rate}/s), next frontier {}, {secs:.1} s{mem}",
                l.depth,
                l.expanded,
                l.of,
                progress::count(l.states),
                progress::count(l.transitions),
                progress::count(l.frontier as u64),
            )
        };
        if l.done {
            let secs = line.secs();
            line.keep(&text(secs));
        } else {
            line.update(text);
        }
    });
    let trace_path = match &report.counterexample {
        Some(c) => {
            let name = format!("explore-{}.json", c.violation.invariant.id());
            let file = out_dir.file(&name)?;
            let mut json = serde_json::to_string_pretty(&c.trace).expect("traces serialize");
            json.push('\n');
            file.finish(json.as_bytes())?;
            Some(a.out.join(name))
        }
        None => None,
    };
    match a.format {
        ExploreFormat::Json => {
            let mut v = serde_json::to_value(&report).expect("reports serialize");
            if let Some(c) = v.get_mut("counterexample").and_then(|c| c.as_object_mut()) {
                c.remove("trace");
                c.insert(
                    "trace_file".into(),
                    trace_path.as_ref().map(|p| io::name(p)).into(),
                );
            }
            v["transitions_per_sec"] = (report.rate().round()).into();
            v["complete"] = complete(&report, &cfg).into();
            io::print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&v).expect("json")
            ))?;
        }
        ExploreFormat::Text => io::print(&text(&report, &universe, &cfg, trace_path.as_deref()))?,
    }
    Ok(if report.counterexample.is_some() {
        Outcome::Failure
    } else if !complete(&report, &cfg) && !a.allow_incomplete {
        Outcome::Incomplete
    } else {
        Outcome::Success
    })
}

/// Whether every level up to `--depth` was explored.
fn complete(r: &ExploreReport, cfg: &Config) -> bool {
    r.depth_completed >= cfg.depth && !r.limit_reached && !r.timed_out
}

fn text(r: &ExploreReport, u: &Universe, cfg: &Config, trace: Option<&std::path::Path>) -> String {
    let mut s = format!(
        "explore: universe of {}, {} clock values, {} moves per state\n",
        u.summary(),
        u.times.len(),
        u.branching()
    );
    if r.symmetries > 0 {
        let names: Vec<String> = u.symmetries.iter().map(|r| r.describe()).collect();
        s += &format!(
            "symmetry reduction: one state per orbit under {}\n",
            names.join("; ")
        );
    }
    s += &format!(
        "shard {}/{}: depth {} completed of {}{}\n",
        cfg.shard.0,
        cfg.shard.1,
        r.depth_completed,
        cfg.depth,
        if r.limit_reached {
            " (state limit reached)"
        } else {
            ""
        }
    );
    s += &format!(
        "{} states, {} transitions in {:.2} s ({:.0} transitions/s)\n",
        r.states,
        r.transitions,
        r.elapsed.as_secs_f64(),
        r.rate()
    );
    match (&r.counterexample, trace) {
        (Some(c), Some(p)) => {
            s += &format!("VIOLATION {} after {} steps\n", c.violation, c.steps);
            s += &format!(
                "shortest counterexample: {}\nreplay: authproof replay {}\n",
                p.display(),
                p.display()
            );
        }
        _ if complete(r, cfg) => s += "held: no invariant violated\n",
        _ => {
            s += &format!(
                "INCOMPLETE: no invariant violated up to depth {}, but depth {} was not covered ({}); exit 3 unless --allow-incomplete\n",
                r.depth_completed,
                cfg.depth,
                if r.limit_reached { "--max-states reached" } else { "time limit reached" }
            )
        }
    }
    s
}
