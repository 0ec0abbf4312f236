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
//! A caller that runs the same command on state after state (explore: a
//! move on every node) names it by a slot, and the line last found for the
//! slot is tried first ([`Lines::recent`]): the same move mostly gives the
//! result it gave on the node before, so the result is compared once and
//! not hashed (hashing a decision and its notes was ≈ 3.5 % of a
//! transition). A miss falls back to the hash. The lines lie in one vector
//! and the table holds their places, so a slot finds its line by index,
//! without a lookup by hash (≈ 1 % of a transition).
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
    /// Every kept line, in the order kept.
    lines: Vec<Line>,
    /// By the hash of the result: where the kept results that hash so lie
    /// in `lines`.
    kept: HashMap<u64, Vec<usize>, foldhash::fast::RandomState>,
    hasher: foldhash::fast::RandomState,
    /// By the caller's slot (explore: the move), where the line last found
    /// or kept for it lies in `lines`: found again without a hash lookup.
    recent: Vec<Option<usize>>,
}

/// Where a kept line lies: for [`Lines::note`].
#[derive(Clone, Copy)]
pub(crate) struct Place(usize);

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
    /// absent from it, and where it lies.
    pub(crate) fn get(&self, hash: u64, result: &CommandResult) -> Option<(&str, &Absent, Place)> {
        let (index, l) = self
            .kept
            .get(&hash)?
            .iter()
            .map(|&i| (i, &self.lines[i]))
            .find(|(_, l)| same(&l.result, result))?;
        Some((&*l.text, &l.absent, Place(index)))
    }

    /// The line last noted for `slot` ([`Lines::note`]) when its result
    /// equals `result`: a caller that judges the same move on state after
    /// state (explore) mostly gets the result it got there last, and this
    /// finds its line without hashing the result.
    pub(crate) fn recent(&self, slot: usize, result: &CommandResult) -> Option<(&str, &Absent)> {
        let l = &self.lines[(*self.recent.get(slot)?)?];
        same(&l.result, result).then_some((&*l.text, &l.absent))
    }

    /// Notes `place` as the line of `slot`, for [`Lines::recent`].
    pub(crate) fn note(&mut self, slot: usize, place: Place) {
        if self.recent.len() <= slot {
            self.recent.resize(slot + 1, None);
        }
        self.recent[slot] = Some(place.0);
    }

    /// Keeps `line` as `result`'s, which I6 found serializing to it twice,
    /// and says where.
    pub(crate) fn keep(&mut self, hash: u64, result: &CommandResult, line: String) -> Place {
        if self.lines.len() >= CAPACITY {
            self.lines.clear();
            self.kept.clear();
            self.recent.clear();
        }
        let index = self.lines.len();
        self.lines.push(Line {
            result: result.clone(),
            text: line.into_boxed_str(),
            absent: Absent::default(),
        });
        self.kept.entry(hash).or_default().push(index);
        Place(index)
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
                Some((got, _, _)) => {
                    assert_eq!(got, line, "a kept line differs from {r:?}'s");
                    hits += 1;
                }
                None => {
                    let _ = lines.keep(hash, &r, line);
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
        let _ = lines.keep(lines.hash(&r), &r, serde_json::to_string(&r).unwrap());
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
            let _ = lines.keep(lines.hash(r), r, serde_json::to_string(r).unwrap());
        }
        let absent = |r| lines.get(lines.hash(r), r).unwrap().1 as *const Absent;
        assert_eq!(absent(a), absent(a));
        assert_ne!(absent(a), absent(b));
    }

    /// A slot's recent line is the one noted for it, for an equal result
    /// only, and goes with the table when it is emptied.
    #[test]
    fn a_slot_finds_its_last_line_for_an_equal_result_only() {
        let mut lines = Lines::default();
        let rs = results();
        let (a, b) = (&rs[0], rs.iter().find(|r| !same(r, &rs[0])).unwrap());
        assert!(lines.recent(0, a).is_none());
        let pa = lines.keep(lines.hash(a), a, serde_json::to_string(a).unwrap());
        let pb = lines.keep(lines.hash(b), b, serde_json::to_string(b).unwrap());
        assert!(lines.recent(0, a).is_none(), "nothing noted yet");
        lines.note(0, pa);
        lines.note(5, pb);
        let line = |r| serde_json::to_string(r).unwrap();
        assert_eq!(
            lines.recent(0, a).map(|(t, _)| t.to_string()),
            Some(line(a))
        );
        assert!(lines.recent(0, b).is_none(), "another result");
        assert_eq!(
            lines.recent(5, b).map(|(t, _)| t.to_string()),
            Some(line(b))
        );
        assert!(lines.recent(3, a).is_none() && lines.recent(6, a).is_none());
        // The same absent tokens as the line `get` finds.
        let via_get = lines.get(lines.hash(b), b).unwrap().1 as *const Absent;
        assert_eq!(lines.recent(5, b).unwrap().1 as *const Absent, via_get);
        for _ in 0..CAPACITY {
            let _ = lines.keep(lines.hash(a), a, String::new());
        }
        assert!(lines.recent(0, a).is_none() && lines.recent(5, b).is_none());
    }

    #[test]
    fn a_full_table_is_emptied_not_grown() {
        let mut lines = Lines::default();
        let rs = results();
        let r = &rs[0];
        for _ in 0..CAPACITY + 3 {
            let _ = lines.keep(lines.hash(r), r, String::new());
        }
        assert_eq!(lines.lines.len(), 3);
        assert_eq!(lines.kept.values().map(Vec::len).sum::<usize>(), 3);
    }
}
