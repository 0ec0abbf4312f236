//! The fuzz targets' side of the lockstep harness: the fault named in the
//! environment, and a trace run through `authproof_verification::Lockstep`
//! (engine beside the reference model, every invariant after every step).

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use authproof_engine::{Command, CommandResult, Fault};
use authproof_verification::lockstep::Judged;
use authproof_verification::{Error, Lockstep, Trace, Violation};

thread_local! {
    /// What the judge remembered from this thread's earlier inputs (kept
    /// lines, records known to round-trip): the same verdicts with less
    /// work, the way `explore` keeps one per worker.
    static JUDGED: RefCell<Judged> = RefCell::default();
}

/// The fault named by `AUTHPROOF_FAULT` (`F03`, `f03`, `F03-reencoded-token`),
/// read once. Only builds with the `faults` feature can inject it; others
/// warn once and inject nothing. An unknown name is a usage error.
pub fn fault_from_env() -> Option<Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    *FAULT.get_or_init(|| {
        let name = std::env::var("AUTHPROOF_FAULT").ok()?;
        let Some(f) = Fault::parse(&name) else {
            panic!("AUTHPROOF_FAULT={name}: expected F01..F16");
        };
        if cfg!(feature = "faults") {
            eprintln!("authproof-fuzz: injecting fault {f} into the engine");
            Some(f)
        } else {
            eprintln!(
                "authproof-fuzz: AUTHPROOF_FAULT is set but this build has no `faults` feature; \
                 nothing injected (build with --features faults)"
            );
            None
        }
    })
}

/// The first place a trace broke an invariant — the initial snapshot or a
/// step — and every invariant it broke there, one per line.
fn describe(at: &str, violations: &[Violation]) -> String {
    let mut s = format!("{at}:");
    for v in violations {
        s += &format!("\n  {v}");
    }
    s
}

/// Runs `trace` in the lockstep harness on the engine (with `fault`
/// injected) and the model. Returns where it first broke an invariant, as
/// text for a crash message; `Err` when the trace is not valid input. `each`
/// sees every step's command and engine result. The trace is taken, not
/// borrowed: its policy becomes the model's rather than being copied.
pub fn run_with(
    trace: Trace,
    fault: Option<Fault>,
    mut each: impl FnMut(usize, &Command, &CommandResult),
) -> Result<Option<String>, Error> {
    let Trace {
        policy,
        snapshot,
        steps,
    } = trace;
    let judged = JUDGED.take();
    let mut lockstep = Lockstep::engine_remembering(Arc::new(policy), &snapshot, fault, judged)?;
    let found = first_violation(&mut lockstep, &steps, &mut each);
    JUDGED.set(lockstep.into_judged());
    found
}

fn first_violation(
    lockstep: &mut Lockstep<authproof_engine::State>,
    steps: &[Command],
    each: &mut impl FnMut(usize, &Command, &CommandResult),
) -> Result<Option<String>, Error> {
    if !lockstep.initial_violations().is_empty() {
        return Ok(Some(describe(
            "the initial snapshot",
            lockstep.initial_violations(),
        )));
    }
    for command in steps {
        let step = lockstep.step(command)?;
        each(step.index, command, &step.result);
        if !step.violations.is_empty() {
            let at = format!("step {} ({})", step.index, command.op.name());
            return Ok(Some(describe(&at, &step.violations)));
        }
    }
    Ok(None)
}

/// [`run_with`] without a per-step callback.
pub fn run(trace: Trace, fault: Option<Fault>) -> Result<Option<String>, Error> {
    run_with(trace, fault, |_, _, _| {})
}
