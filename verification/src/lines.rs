//! Each distinct result's JSON line, serialized once per judge
//! ([`Judged`](crate::lockstep::Judged)).
//!
//! A transition's result is judged on the line the CLI would print for it
//! (I9 scans it for presented tokens) and I6 serializes it a second time to
//! check that the bytes do not change. Most transitions of a search give a
//! result some earlier transition gave already — the same deny on a
//! hundred states, the same `ok` for the same `revoke` —, and those two
//! serializations, with the explanation rendered each time, were ≈ 30 % of
//! a transition (docs/VERIFICATION.md §1).
//!
//! So a judge keeps the line of every distinct result it has judged (one
//! per explore worker, one per fuzz thread carried from input to input),
//! and a result equal to a kept one is judged on the kept line with I6's
//! second serialization skipped: that line *was* checked by I6 when it was
//! kept (a line that failed I6 is never kept). "Equal" is strict: the same variant
//! and fields, and for a decision the same recorded explanation
//! ([`Decision::same_recorded`]: notes, not rendered lines), so a kept line
//! is byte for byte what serializing the result now would give — both
//! serializations read nothing else. Every other invariant still runs on
//! every transition; I9 searches a kept line only for the tokens not yet
//! found absent from it, kept beside it ([`Absent`]): a line that does not
//! change need not be searched twice for one token.
//!
//! Rejected: keying by the rendered line (rendering is a third of the cost
//! saved); a table shared by the workers (a lock on every transition); an
//! unbounded table (at [`CAPACITY`] it is emptied and refilled: the hit
//! rate, not the verdict, depends on it, so output stays the same for any
//! thread count); hashing a decision's fields without its recorded notes
//! (cheaper to hash, but results differing only in their notes collide:
//! +2.5 % instructions on explore --depth 3); the first result of a hash
//! held in the table itself rather than in a `Vec` (no gain natively).

use std::{
    collections::HashMap,
    hash::{BuildHasher, Hash, Hasher},
};

use authproof_engine::CommandResult;

use crate::Absent;

/// Kept lines before the table is emptied: a few tens of MB at about 1 KB a
/// result and its line.
const CAPACITY: usize = 1 << 15;

/// One judge's kept lines.
#[derive(Default)]
pub(crate) struct Lines {
    /// By the hash of the result: the kept results that hash so.
    kept: HashMap<u64, Vec<Line>, foldhash::fast::RandomState>,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

/// A kept result, its line, and the tokens I9 found absent from the line.
struct Line {
    result: CommandResult,
    text: Box<str>,
    absent: Absent,
}

impl Lines {
    /// The hash [`Lines::get`] and [`Lines::keep`] take.
    pub(crate) fn hash(&self, result: &CommandResult) -> u64 {
        let mut h = self.hasher.build_hasher();
        match result {
            CommandResult::Decision { op, decision } => {
                op.hash(&mut h);
                decision.hash_recorded(&mut h);
            }
            CommandResult::Ok { op, changes } => (op, changes).hash(&mut h),
            CommandResult::Rejected {
                op,
                reason,
                explain,
            } => (op, reason, explain).hash(&mut h),
        }
        h.finish()
    }

    /// The kept line of a result equal to `result`, with the tokens found
    /// absent from it.
    pub(crate) fn get(&self, hash: u64, result: &CommandResult) -> Option<(&str, &Absent)> {
        self.kept
            .get(&hash)?
            .iter()
            .find(|l| same(&l.result, result))
            .map(|l| (&*l.text, &l.absent))
    }

    /// Keeps `line` as `result`'s, which I6 found serializing to it twice.
    pub(crate) fn keep(&mut self, hash: u64, result: &CommandResult, line: String) {
        if self.len >= CAPACITY {
            self.kept.clear();
            self.len = 0;
        }
        self.kept.entry(hash).or_default().push(Line {
            result: result.clone(),
            text: line.into_boxed_str(),
            absent: Absent::default(),
        });
        self.len += 1;
    }
}

/// Equal and, for decisions, recorded the same: serializing gives the same
/// bytes.
fn same(a: &CommandResult, b: &CommandResult) -> bool {
    match (a, b) {
        (
            CommandResult::Decision { op, decision },
            CommandResult::Decision {
                op: op2,
                decision: decision2,
            },
        ) => op == op2 && decision.same_recorded(decision2),
        (CommandResult::Decision { .. }, _) | (_, CommandResult::Decision { .. }) => false,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use authproof_engine::{Command, Policy, State};

    use super::*;
    use crate::explore::Universe;

    /// Every result of every move of the universe, at every clock value, on
    /// the initial state and on the state each op reaches.
    fn results() -> Vec<CommandResult> {
        let u = Universe::small();
        let policy = Policy::default();
        let start = State::from_snapshot(u.snapshot.clone()).expect("universe loads");
        let mut out = Vec::new();
        for &at in &u.times {
            for first in u.ops.iter().chain(&u.requests) {
                let mut s = start.clone();
                let cmd = |op: &authproof_engine::Op| Command { at, op: op.clone() };
                out.push(s.apply(&policy, &cmd(first)));
                for then in u.ops.iter().chain(&u.requests) {
                    out.push(s.clone().apply(&policy, &cmd(then)));
                }
            }
        }
        out
    }

    #[test]
    fn a_kept_line_is_what_serializing_gives() {
        let mut lines = Lines::default();
        let (mut hits, mut kept) = (0, 0);
        for r in results() {
            let line = serde_json::to_string(&r).unwrap();
            let hash = lines.hash(&r);
            match lines.get(hash, &r) {
                Some((got, _)) => {
                    assert_eq!(got, line, "a kept line differs from {r:?}'s");
                    hits += 1;
                }
                None => {
                    lines.keep(hash, &r, line);
                    kept += 1;
                }
            }
        }
        // Both paths taken: results repeat, and they are not all one.
        assert!(hits > 10 * kept && kept > 50, "{hits} hits, {kept} kept");
    }

    #[test]
    fn a_decision_recorded_otherwise_is_not_taken_for_a_kept_one() {
        let r = results()
            .into_iter()
            .find(|r| r.decision().is_some_and(|d| d.is_allow()))
            .expect("the universe allows something");
        let mut lines = Lines::default();
        lines.keep(lines.hash(&r), &r, serde_json::to_string(&r).unwrap());
        assert!(lines.get(lines.hash(&r), &r).is_some());
        // Same fields, one more explanation line.
        let mut other = r.clone();
        if let CommandResult::Decision { decision, .. } = &mut other {
            decision.explain.push("one more line".into());
        }
        assert!(lines.get(lines.hash(&other), &other).is_none());
        // Different op, same decision.
        let mut other = r.clone();
        if let CommandResult::Decision { op, .. } = &mut other {
            *op = "authenticate2".into();
        }
        assert!(lines.get(lines.hash(&other), &other).is_none());
    }

    /// Tokens found absent are a property of one line: each kept line has
    /// its own list, and the same one each time.
    #[test]
    fn each_kept_line_has_its_own_absent_tokens() {
        let mut lines = Lines::default();
        let rs = results();
        let (a, b) = (&rs[0], rs.iter().find(|r| !same(r, &rs[0])).unwrap());
        for r in [a, b] {
            lines.keep(lines.hash(r), r, serde_json::to_string(r).unwrap());
        }
        let absent = |r| lines.get(lines.hash(r), r).unwrap().1 as *const Absent;
        assert_eq!(absent(a), absent(a));
        assert_ne!(absent(a), absent(b));
    }

    #[test]
    fn a_full_table_is_emptied_not_grown() {
        let mut lines = Lines::default();
        let rs = results();
        let r = &rs[0];
        for _ in 0..CAPACITY + 3 {
            lines.keep(lines.hash(r), r, String::new());
        }
        assert_eq!(lines.len, 3);
        assert_eq!(lines.kept.values().map(Vec::len).sum::<usize>(), 3);
    }
}
