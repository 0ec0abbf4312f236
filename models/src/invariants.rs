//! The invariant catalogue of SPEC §9, checked after every step of a trace.
//!
//! Each invariant is a small function over one [`Step`]: the command, the
//! engine's state before and after it, the engine's result and output line,
//! and what the reference model did with the same command. Invariants look at
//! the *engine*; only I5 consults the model. Some invariants need memory
//! across steps (a session once seen expired must stay dead; a removed member
//! must stay out until re-added): that memory is the [`History`], which
//! [`check_step`] updates as it goes.
//!
//! Every invariant here can fail; the unit tests build a violating step by
//! hand for each one, so a checker that silently always passes is caught.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use authproof_engine::snapshot::{ApiKey, Diff, Membership, Resource, Session, Tenant, User};
use authproof_engine::{
    Command, CommandResult, CredentialKind, CredentialRef, Decision, Effect, Id, Op, Policy,
    Reason, Snapshot, Timestamp, Unbound, Verdict,
};
use serde_json::Value;

/// One invariant of SPEC §9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// I1.
    TenantIsolation,
    /// I2.
    NoRevival,
    /// I3.
    ImmutableKeyMetadata,
    /// I4.
    LiveMembership,
    /// I5.
    PreciseReasons,
    /// I6.
    Determinism,
    /// I7.
    NoSilentWrites,
    /// I8.
    NarrowScope,
    /// I9.
    NoSecretLeakage,
    /// I10.
    BoundedSliding,
}

impl Invariant {
    /// Every invariant, in catalogue order.
    pub const ALL: [Invariant; 10] = [
        Invariant::TenantIsolation,
        Invariant::NoRevival,
        Invariant::ImmutableKeyMetadata,
        Invariant::LiveMembership,
        Invariant::PreciseReasons,
        Invariant::Determinism,
        Invariant::NoSilentWrites,
        Invariant::NarrowScope,
        Invariant::NoSecretLeakage,
        Invariant::BoundedSliding,
    ];

    /// `"I1"` .. `"I10"`.
    pub fn id(self) -> &'static str {
        match self {
            Invariant::TenantIsolation => "I1",
            Invariant::NoRevival => "I2",
            Invariant::ImmutableKeyMetadata => "I3",
            Invariant::LiveMembership => "I4",
            Invariant::PreciseReasons => "I5",
            Invariant::Determinism => "I6",
            Invariant::NoSilentWrites => "I7",
            Invariant::NarrowScope => "I8",
            Invariant::NoSecretLeakage => "I9",
            Invariant::BoundedSliding => "I10",
        }
    }

    /// The SPEC §9 name, e.g. `"tenant isolation"`.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::TenantIsolation => "tenant isolation",
            Invariant::NoRevival => "no revival",
            Invariant::ImmutableKeyMetadata => "immutable key metadata",
            Invariant::LiveMembership => "live membership",
            Invariant::PreciseReasons => "precise reasons",
            Invariant::Determinism => "determinism",
            Invariant::NoSilentWrites => "no silent writes",
            Invariant::NarrowScope => "narrow scope",
            Invariant::NoSecretLeakage => "no secret leakage",
            Invariant::BoundedSliding => "bounded sliding",
        }
    }
}

/// Serialized as its id (`"I1"`), the catalogue's stable name.
impl serde::Serialize for Invariant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl std::fmt::Display for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.id(), self.name())
    }
}

/// What I5 (precise reasons) compares of a decision: every field but the
/// free-form `explain`, whose wording two correct implementations may
/// choose differently. It is built by destructuring [`Decision`] without
/// `..`, so a field added to `Decision` does not compile here until it is
/// listed as compared or deliberately left out.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DecisionProjection<'a> {
    pub decision: Verdict,
    pub reason: Option<Reason>,
    pub status: u16,
    pub user: Option<&'a Id>,
    pub credential: Option<&'a CredentialRef>,
    pub tenant: Option<&'a Id>,
    pub scope: &'a [Id],
    pub effects: &'a [Effect],
}

impl<'a> DecisionProjection<'a> {
    /// The fields of [`Decision`] compared.
    pub const COMPARED: [&'static str; 8] = [
        "decision",
        "reason",
        "status",
        "user",
        "credential",
        "tenant",
        "scope",
        "effects",
    ];
    /// The fields of [`Decision`] left out: `action` is the request's own
    /// action echoed back (an input, not an outcome), `explain` is prose.
    pub const IGNORED: [&'static str; 2] = ["action", "explain"];

    /// The compared part of `d`.
    pub fn of(d: &'a Decision) -> DecisionProjection<'a> {
        let Decision {
            decision,
            reason,
            status,
            action: _,
            user,
            credential,
            tenant,
            scope,
            effects,
            explain: _,
        } = d;
        DecisionProjection {
            decision: *decision,
            reason: *reason,
            status: *status,
            user: user.as_ref(),
            credential: credential.as_ref(),
            tenant: tenant.as_ref(),
            scope,
            effects,
        }
    }
}

/// One invariant broken on one step.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    pub invariant: Invariant,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.invariant, self.message)
    }
}

/// Everything one step of a trace produced, for the invariants.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    pub policy: &'a Policy,
    /// Step number, 0-based.
    pub index: usize,
    pub command: &'a Command,
    /// Engine state before the step.
    pub before: &'a Snapshot,
    /// Engine state after the step.
    pub after: &'a Snapshot,
    /// Engine result.
    pub engine: &'a CommandResult,
    /// Model result.
    pub model: &'a CommandResult,
    /// Model state after the step.
    pub model_after: &'a Snapshot,
    /// The engine result serialized as the JSON line the CLI prints.
    pub engine_output: &'a str,
    /// The caller already found `engine_output` to be what serializing a
    /// result equal to `engine` gives, twice the same (explore keeps each
    /// distinct result's checked line): I6 does not serialize it again.
    pub output_verified: bool,
    /// Records already found to survive a JSON round trip: I6 round-trips
    /// a changed record only when it is not among them, and adds it.
    pub round_tripped: Option<&'a RoundTripped>,
    /// Searchers of tokens met before ([`Secrets`]): a token new to the
    /// path takes its searcher from here, built only when none is kept.
    pub secrets: Option<&'a Secrets>,
    /// Tokens already found absent from `engine_output` ([`Absent`]): I9
    /// does not search it for them again, and adds each it finds absent.
    pub absent: Option<&'a Absent>,
    /// Where `after` differs from `before` ([`Diff`]), when the caller
    /// already knows (explore exports each step's state over the state it
    /// started from, which finds it): I6 and I7 take whether anything
    /// changed from it, I6 round-trips and I3 looks at only the records it
    /// names, instead of each comparing the two snapshots again.
    /// [`check_step_whole`] compares anyway.
    pub diff: Option<&'a Diff>,
    /// Where `model_after` differs from `before`, when the caller knows
    /// (explore): with `diff`, I5 compares the two states at the positions
    /// either names and their lengths, not record by record
    /// ([`same_by_diffs`]).
    pub model_diff: Option<&'a Diff>,
    /// [`longest_public`] of `before`, when the caller knows it (explore
    /// computes it once per node for the thirty-odd commands it runs
    /// there): a presented token longer than it is not searched for in the
    /// state's public strings, which it cannot occur in. When given, it
    /// must be that value.
    pub longest_public: Option<usize>,
    /// [`PolicyStrings::new`] of `policy`, when the caller judges many
    /// steps under one policy (explore builds it once per search): I9
    /// searches a presented token in the policy's strings with one search
    /// of this instead of one per string. When given, it must be that value.
    pub policy_strings: Option<&'a PolicyStrings>,
    /// The history already holds what [`History::note_before`] notes of
    /// `before` at the command's `at`: a caller that judges many commands
    /// on one state at one time (explore: a node's moves) notes it once in
    /// the history it copies for each, and the check does not scan
    /// `before` again.
    pub before_noted: bool,
}

/// Records found to survive a JSON round trip, so that I6 round-trips each
/// distinct record once rather than on every step that writes it (explore
/// keeps one per worker: its states share a few thousand records, and the
/// round trips were a sixth of a transition). Records are kept whole and
/// compared by `==`, not by a hash of them, so a record is skipped only when
/// an equal one passed. Emptied when full.
#[derive(Debug, Default)]
pub struct RoundTripped(std::cell::RefCell<Known>);

#[derive(Debug, Default)]
struct Known {
    len: usize,
    tenants: Kept<Tenant>,
    users: Kept<User>,
    memberships: Kept<Membership>,
    api_keys: Kept<ApiKey>,
    sessions: Kept<Session>,
    resources: Kept<Resource>,
}

/// A memo table of the judge, hashed with foldhash: SipHash over each
/// changed record was a fifth of I6's incremental round trip. No table is
/// iterated, so no order shows.
type Kept<T> = HashSet<T, foldhash::fast::RandomState>;

impl Known {
    /// Kept records before the sets are emptied.
    const CAPACITY: usize = 1 << 16;
}

/// A snapshot record type, and its set in [`Known`].
trait Record: Clone + Eq + std::hash::Hash + serde::Serialize + serde::de::DeserializeOwned {
    fn set(known: &mut Known) -> &mut Kept<Self>;
}

macro_rules! record {
    ($($t:ty => $field:ident),* $(,)?) => {$(
        impl Record for $t {
            fn set(known: &mut Known) -> &mut Kept<Self> {
                &mut known.$field
            }
        }
    )*};
}

record!(
    Tenant => tenants,
    User => users,
    Membership => memberships,
    ApiKey => api_keys,
    Session => sessions,
    Resource => resources,
);

impl RoundTripped {
    /// Whether the whole of `snap` survives a JSON round trip: its
    /// `taken_at` with every section empty, then each record that no equal
    /// record passed before. A snapshot's JSON is its records side by side
    /// (docs/SPEC.md §2), as in [`round_trips_changed`]; the lockstep
    /// checks an initial snapshot so (`tests::a_known_round_trip_is_the_whole_one`).
    pub fn snapshot(&self, snap: &Snapshot) -> bool {
        let envelope = Snapshot {
            taken_at: snap.taken_at,
            ..Snapshot::default()
        };
        // Every record is new against the empty envelope.
        round_trips(&envelope) && round_trips_changed(&envelope, snap, Some(self), None)
    }

    /// Whether `rec` survives a JSON round trip, round-tripping it only if
    /// no equal record did before.
    fn check<T: Record>(&self, rec: &T) -> bool {
        let mut known = self.0.borrow_mut();
        if T::set(&mut known).contains(rec) {
            return true;
        }
        if !round_trips_record(rec) {
            return false;
        }
        if known.len >= Known::CAPACITY {
            *known = Known::default();
        }
        known.len += 1;
        T::set(&mut known).insert(rec.clone());
        true
    }
}

/// Cross-step memory for I2, I4 and I9.
///
/// Sessions and keys seen dead, memberships removed and not re-added, and
/// every token the trace has presented so far.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct History {
    /// Sessions seen revoked or expired at some step's `at`, with the
    /// `expires_at` they had then (I2: it never changes again).
    dead_sessions: Vec<(Id, Timestamp)>,
    /// Keys seen revoked or deleted at some step's `at` (I2).
    dead_keys: Vec<Id>,
    /// (user, tenant) memberships removed by `remove_member` and not added
    /// back since (I4).
    removed: Vec<(Id, Id)>,
    /// Token-like strings presented so far (I9).
    tokens: Vec<Secret>,
}

/// Written out for `clone_from`, which copies into the existing vectors:
/// explore copies a node's history once per transition.
impl Clone for History {
    fn clone(&self) -> Self {
        let mut copy = Self::default();
        copy.clone_from(self);
        copy
    }

    fn clone_from(&mut self, source: &Self) {
        let History {
            dead_sessions,
            dead_keys,
            removed,
            tokens,
        } = self;
        copy(dead_sessions, &source.dead_sessions);
        copy(dead_keys, &source.dead_keys);
        copy(removed, &source.removed);
        copy(tokens, &source.tokens);
    }
}

/// `to.clone_from(from)`, at once when both are empty, as most of a
/// history's lists are: the slice copy behind `clone_from` is a call.
#[inline]
fn copy<T: Clone>(to: &mut Vec<T>, from: &Vec<T>) {
    if !(to.is_empty() && from.is_empty()) {
        to.clone_from(from);
    }
}

/// A presented token with its substring searcher, built once: I9 looks for
/// every token of the path in every output line, and building memchr's
/// searcher on each look was a twentieth of an explored transition. Shared,
/// so a history's clone (one per explored transition) copies no searcher.
/// Equal, hashed and printed as its text.
struct Secret(Arc<memchr::memmem::Finder<'static>>);

impl Secret {
    fn new(text: &str) -> Secret {
        Secret(Arc::new(
            memchr::memmem::Finder::new(text.as_bytes()).into_owned(),
        ))
    }

    fn text(&self) -> &[u8] {
        self.0.needle()
    }
}

impl Clone for Secret {
    fn clone(&self) -> Secret {
        Secret(Arc::clone(&self.0))
    }

    /// Nothing to do when both share one searcher, as a history copied
    /// over the last one copied from the same node (explore's, on every
    /// transition) nearly always does: `Arc`'s own `clone_from` counts a
    /// reference up and one down even then.
    fn clone_from(&mut self, source: &Secret) {
        if !Arc::ptr_eq(&self.0, &source.0) {
            self.0 = Arc::clone(&source.0);
        }
    }
}

/// As its text, as it is hashed and compared: [`Secrets`] is looked up by
/// a token's text.
impl std::borrow::Borrow<[u8]> for Secret {
    fn borrow(&self) -> &[u8] {
        self.text()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.text() == other.text()
    }
}

impl Eq for Secret {}

impl std::hash::Hash for Secret {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text().hash(state);
    }
}

impl fmt::Debug for Secret {
    /// Its length only: a history is printed in test failures, and a
    /// secret must not be.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.text().len())
    }
}

/// The searcher of every distinct token a judge met, so that a token is
/// built a searcher once rather than on every path that presents it:
/// explore meets each node's tokens anew on each of its transitions, and
/// those builds (and their allocations) were ≈ 2 % of a transition. Kept
/// per judge beside [`RoundTripped`] (one per explore worker, one per fuzz
/// thread), by text, so a token is searched exactly as one built for it
/// now: the searcher depends on nothing else. Emptied when full.
#[derive(Debug, Default)]
pub struct Secrets(std::cell::RefCell<Kept<Secret>>);

impl Secrets {
    /// Kept searchers before the table is emptied.
    const CAPACITY: usize = 1 << 12;

    /// The searcher of `text`, built if no kept one is.
    fn get(&self, text: &str) -> Secret {
        let mut kept = self.0.borrow_mut();
        if let Some(s) = kept.get(text.as_bytes()) {
            return s.clone();
        }
        if kept.len() >= Secrets::CAPACITY {
            kept.clear();
        }
        let s = Secret::new(text);
        kept.insert(s.clone());
        s
    }
}

/// Tokens found absent from one output line, so that I9 searches a line
/// many steps print for each token once rather than on every such step:
/// explore judges most transitions on the kept line of an earlier equal
/// result (`lines.rs` in authproof-verification keeps one of these beside
/// each), and those searches were ≈ 1.5 % of a transition. Tokens are
/// compared as [`Secret`]s, by text; the first [`Absent::CAPACITY`] found
/// are kept.
#[derive(Debug, Default)]
pub struct Absent(std::cell::RefCell<Vec<Secret>>);

impl Absent {
    /// Tokens kept per line: a path presents a few.
    const CAPACITY: usize = 16;

    fn holds(&self, t: &Secret) -> bool {
        self.0.borrow().contains(t)
    }

    fn add(&self, t: &Secret) {
        let mut kept = self.0.borrow_mut();
        if kept.len() < Absent::CAPACITY {
            kept.push(t.clone());
        }
    }
}

/// I9 only looks for strings at least this long: shorter ones (`ab`, `1`)
/// occur in ids and timestamps by coincidence, and a real token is longer.
pub const MIN_SECRET_LEN: usize = 8;

impl History {
    /// A history starting at `initial`. Nothing is known dead yet: deadness
    /// is relative to a step's `at`, and the first step records it.
    pub fn new(initial: &Snapshot) -> History {
        let _ = initial;
        History::default()
    }

    /// What a check notes first about a step, from the state the command
    /// runs on and its time alone: what is dead in `before` at `at` (I2).
    /// For [`Step::before_noted`].
    pub fn note_before(&mut self, before: &Snapshot, at: Timestamp) {
        self.note_dead(before, at);
    }

    /// Back to `from`, which this history was equal to before some checks
    /// ran on it: a caller that judges many steps from one history (explore:
    /// every move of a node) rewinds it after each instead of copying it
    /// before each. A check only appends to the dead and the presented
    /// (`push` is their only write), so those are cut back to `from`'s
    /// lengths; the removed memberships, which a check may also shrink, are
    /// copied back when they differ.
    pub fn rewind(&mut self, from: &History) {
        let History {
            dead_sessions,
            dead_keys,
            removed,
            tokens,
        } = self;
        dead_sessions.truncate(from.dead_sessions.len());
        dead_keys.truncate(from.dead_keys.len());
        tokens.truncate(from.tokens.len());
        if *removed != from.removed {
            removed.clone_from(&from.removed);
        }
    }

    /// Records what is dead at `at` in `snap` (I2).
    fn note_dead(&mut self, snap: &Snapshot, at: Timestamp) {
        for s in &snap.sessions {
            let dead = reached(s.revoked_at, at) || s.expires_at <= at;
            if dead && !self.dead_sessions.iter().any(|(id, _)| *id == s.id) {
                self.dead_sessions.push((s.id.clone(), s.expires_at));
            }
        }
        for k in &snap.api_keys {
            let dead = reached(k.revoked_at, at) || reached(k.deleted_at, at);
            if dead && !self.dead_keys.contains(&k.id) {
                self.dead_keys.push(k.id.clone());
            }
        }
    }

    /// Records the secrets a command presents (I9): the token of a mint or
    /// a login, and for `authenticate` what the request presents *as a
    /// credential* under the step's policy — the API-key header's value,
    /// the token after the `Authorization` scheme (the whole value without
    /// one), the value of each pair of the policy's session cookies. Other
    /// headers are not credentials, and a cookie header without `name=` (a
    /// bare cookie name) presents nothing: counting them made I9 cry wolf
    /// when an explanation legitimately named the cookie.
    ///
    /// A candidate that occurs in a public string — a name the policy
    /// defines, the request's own action, tenant and resource, any id,
    /// prefix, name, role or capability in the state — is not a secret: the
    /// output may name those.
    ///
    /// This is read from the headers independently of the engine's
    /// extraction, on purpose: redaction must not be judged by the code it
    /// judges.
    fn note_tokens(
        &mut self,
        cmd: &Command,
        policy: &Policy,
        state: &Snapshot,
        secrets: Option<&Secrets>,
        known: (Option<usize>, Option<&PolicyStrings>),
    ) {
        // Each candidate is judged as it is found, in order: no list of
        // them is built on every step.
        let tokens = &mut self.tokens;
        let mut note = |t: &str| {
            if t.len() < MIN_SECRET_LEN || tokens.iter().any(|k| k.text() == t.as_bytes()) {
                return;
            }
            // Its searcher first when one is kept: the public search then
            // runs it over the joined policy strings instead of building one.
            let secret = secrets.map(|s| s.get(t));
            if !occurs_in_public(t, secret.as_ref(), cmd, policy, state, known) {
                tokens.push(secret.unwrap_or_else(|| Secret::new(t)));
            }
        };
        match &cmd.op {
            Op::MintApiKey { token, .. } | Op::Login { token, .. } => note(token.expose()),
            Op::Authenticate { headers, .. } => {
                for (name, value) in headers.iter() {
                    if name.eq_ignore_ascii_case(&policy.api_key.header) {
                        note(value);
                        note(value.trim_matches(' '));
                    }
                    if name.eq_ignore_ascii_case("authorization") {
                        match value.trim_matches(' ').split_once(' ') {
                            Some((_, rest)) => note(rest.trim_matches(' ')),
                            None => note(value.trim_matches(' ')),
                        }
                    }
                    if name.eq_ignore_ascii_case("cookie") {
                        for pair in value.split(';') {
                            if let Some((n, v)) = pair.trim_matches(' ').split_once('=') {
                                if policy.session.cookies.iter().any(|c| c == n) {
                                    note(v);
                                    note(v.trim_matches('"'));
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether `t` occurs in a string an output may legitimately contain (I9):
/// what the policy names, what the request names, and the public fields of
/// every record.
///
/// Searched in place with the length compared first, not collected: this
/// runs on most steps of a search (each path meets its tokens anew), and a
/// token is longer than nearly every public string, so almost no string is
/// searched.
fn occurs_in_public(
    t: &str,
    searcher: Option<&Secret>,
    cmd: &Command,
    policy: &Policy,
    state: &Snapshot,
    (longest, joined): (Option<usize>, Option<&PolicyStrings>),
) -> bool {
    // The length compared here, inline: a call to `occurs` per public
    // string, nearly all shorter than the token, was most of this search.
    let mut hit = |p: &str| p.len() >= t.len() && occurs(p.as_bytes(), t.as_bytes());
    if let Op::Authenticate {
        action,
        tenant,
        resource,
        ..
    } = &cmd.op
    {
        if hit(action)
            || tenant.iter().any(|x| hit(x.as_str()))
            || resource.iter().any(|x| hit(x.as_str()))
        {
            return true;
        }
    }
    let in_policy = match joined.and_then(|j| j.contains(t, searcher)) {
        Some(found) => found,
        None => policy_strings(policy, &mut hit),
    };
    if in_policy {
        return true;
    }
    // Longer than every public string of the state: in none of them.
    if longest.is_some_and(|n| t.len() > n) {
        return false;
    }
    state_strings(state, &mut hit)
}

/// The length of the longest public string of `state` (an id, a prefix, a
/// name, a role, a capability): a token longer than it occurs in none. For
/// [`Step::longest_public`]. The policy's strings are left out: they are
/// longer than tokens (cookie names) and searched anyway.
pub fn longest_public(state: &Snapshot) -> usize {
    let mut longest = 0;
    state_strings(state, &mut |p| {
        longest = longest.max(p.len());
        false
    });
    longest
}

/// The strings a policy names ([`policy_strings`]), each followed by a
/// newline, for one substring search instead of one per string: I9 looks
/// for every token a path presents in them, and those searches (a dozen
/// strings as long as a token, per token) were a twentieth of an explored
/// transition. A match without a newline lies inside one string, so the
/// search answers exactly for a token without one; a token with one is
/// searched string by string.
///
/// Rejected: remembering each token's answer in the judge ([`Secrets`]),
/// which would have to know the policy it was found under (a judge is
/// kept across fuzz runs with different policies).
#[derive(Clone, Debug)]
pub struct PolicyStrings(String);

impl PolicyStrings {
    /// The strings `policy` names, joined.
    pub fn new(policy: &Policy) -> PolicyStrings {
        let mut joined = String::new();
        policy_strings(policy, &mut |p| {
            joined.push_str(p);
            joined.push('\n');
            false
        });
        PolicyStrings(joined)
    }

    /// Whether `t` occurs in one of the strings, with `t`'s searcher when
    /// there is one; `None` for a `t` with a newline, which this cannot
    /// answer.
    fn contains(&self, t: &str, searcher: Option<&Secret>) -> Option<bool> {
        if t.contains('\n') {
            return None;
        }
        let hay = self.0.as_bytes();
        Some(match searcher {
            Some(s) => s.0.find(hay).is_some(),
            None => memchr::memmem::find(hay, t.as_bytes()).is_some(),
        })
    }
}

/// Whether `f` holds for one of the strings `policy` names.
fn policy_strings(policy: &Policy, f: &mut impl FnMut(&str) -> bool) -> bool {
    policy.session.cookies.iter().any(|c| f(c))
        || f(&policy.api_key.header)
        || policy.api_key.prefixes.iter().any(|p| f(p))
        || policy.actions.iter().any(|(action, rule)| {
            f(action) || rule.roles.iter().any(|r| f(r)) || f(&rule.capability)
        })
}

/// Whether `f` holds for one of the public fields of `state`'s records.
/// One list for the search ([`occurs_in_public`]) and the bound
/// ([`longest_public`]), so the two cannot drift apart.
fn state_strings(state: &Snapshot, f: &mut impl FnMut(&str) -> bool) -> bool {
    state.tenants.iter().any(|x| f(x.id.as_str()))
        || state.users.iter().any(|x| f(x.id.as_str()))
        || state.memberships.iter().any(|m| f(&m.role))
        || state.api_keys.iter().any(|k| {
            f(k.id.as_str()) || f(&k.prefix) || f(&k.name) || k.capabilities.iter().any(|c| f(c))
        })
        || state.sessions.iter().any(|x| f(x.id.as_str()))
        || state.resources.iter().any(|x| f(x.id.as_str()))
}

/// Whether `needle` (not empty) occurs in `hay`. The strings here are
/// short (ids, names, a policy's cookie names): a scan of the positions
/// where the first byte matches is a few dozen instructions, where
/// `str::contains` sets up a searcher for each call (≈ 200). Scanning 8
/// positions at a time gained nothing: a string has few.
fn occurs(hay: &[u8], needle: &[u8]) -> bool {
    if hay.len() < needle.len() {
        return false;
    }
    if hay.len() > 64 {
        return memchr::memmem::find(hay, needle).is_some();
    }
    // First and last bytes before the whole: a token's first byte is
    // often in a cookie name ("session"), its last rarely beside it.
    let (first, last) = (needle[0], needle[needle.len() - 1]);
    hay.windows(needle.len())
        .any(|w| w[0] == first && w[w.len() - 1] == last && w == needle)
}

/// SPEC §2: a time takes effect when it is `<= at`.
fn reached(t: Option<Timestamp>, at: Timestamp) -> bool {
    matches!(t, Some(t) if t <= at)
}

fn key<'s>(snap: &'s Snapshot, id: &Id) -> Option<&'s ApiKey> {
    snap.api_keys.iter().find(|k| k.id == *id)
}

fn session<'s>(snap: &'s Snapshot, id: &Id) -> Option<&'s Session> {
    snap.sessions.iter().find(|s| s.id == *id)
}

fn member_at(snap: &Snapshot, user: &Id, tenant: &Id, at: Timestamp) -> bool {
    snap.memberships
        .iter()
        .any(|m| m.user == *user && m.tenant == *tenant && m.since <= at)
}

fn suspended(snap: &Snapshot, tenant: &Id) -> Option<bool> {
    snap.tenants
        .iter()
        .find(|t| t.id == *tenant)
        .map(|t| t.suspended)
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("engine types always serialize")
}

/// Collects violations for one step.
struct Findings(Vec<Violation>);

impl Findings {
    fn fail(&mut self, invariant: Invariant, message: impl Into<String>) {
        self.0.push(Violation {
            invariant,
            message: message.into(),
        });
    }
}

/// Checks every invariant on one step (and records what later steps need).
/// Returns all violations, in invariant order.
///
/// Each invariant looks at what the step changed, against the [`History`]
/// summary: I6 round-trips only the records the step changed.
/// [`check_step_whole`] is the same check on whole states, for tests that
/// prove the two agree.
pub fn check_step(history: &mut History, step: &Step<'_>) -> Vec<Violation> {
    check_step_with(history, step, Scope::Changed)
}

/// [`check_step`], round-tripping the whole `after` state for I6.
pub fn check_step_whole(history: &mut History, step: &Step<'_>) -> Vec<Violation> {
    check_step_with(history, step, Scope::Whole)
}

/// What I6 round-trips after a step that changed the state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Changed,
    Whole,
}

fn check_step_with(history: &mut History, step: &Step<'_>, scope: Scope) -> Vec<Violation> {
    let at = step.command.at;
    // What this step knows before judging it: deadness in the state the
    // engine decided on, and the tokens presented so far, this one included.
    if !step.before_noted {
        history.note_dead(step.before, at);
    }
    history.note_tokens(
        step.command,
        step.policy,
        step.before,
        step.secrets,
        (step.longest_public, step.policy_strings),
    );

    let mut r = Findings(Vec::new());
    let decision = step.engine.decision();
    if let Some(d) = decision {
        i1_tenant_isolation(&mut r, step, d);
    }
    i2_no_revival(&mut r, history, step, decision);
    // What the caller found changed, where the incremental check takes it.
    let diff = match scope {
        Scope::Changed => step.diff,
        Scope::Whole => None,
    };
    i3_immutable_key_metadata(&mut r, step, diff);
    i4_live_membership(&mut r, history, step, decision);
    // `diff` is the caller's only for the incremental check.
    i5_precise_reasons(&mut r, step, diff.zip(step.model_diff));
    // Compared once for I6 and I7: a whole-snapshot comparison on every
    // command that changes nothing.
    let unchanged = match diff {
        Some(diff) => diff.is_empty(),
        None => same(step.before, step.after),
    };
    i6_determinism(&mut r, step, scope, unchanged);
    i7_no_silent_writes(&mut r, step, unchanged);
    if let Some(d) = decision {
        i8_narrow_scope(&mut r, step, d);
    }
    i9_no_secret_leakage(&mut r, history, step);
    i10_bounded_sliding(&mut r, step, decision, diff);

    // What later steps need: what this step killed, which memberships it
    // removed or restored. A state equal to `before` kills nothing that
    // was not noted from `before` above.
    if !unchanged {
        history.note_dead(step.after, at);
    }
    if let CommandResult::Ok { .. } = step.engine {
        match &step.command.op {
            Op::RemoveMember { user, tenant } => {
                let pair = (user.clone(), tenant.clone());
                if !history.removed.contains(&pair) {
                    history.removed.push(pair);
                }
            }
            Op::AddMember { user, tenant, .. } => {
                history.removed.retain(|(u, t)| !(u == user && t == tenant));
            }
            _ => {}
        }
    }
    r.0.sort_by_key(|v| v.invariant);
    r.0
}

/// I1: an allow's tenant has the user as a member at `at` and is not
/// suspended; an API-key allow acts in the key's tenant; a named resource
/// belongs to that tenant; a tenant the request names is the one acted in.
fn i1_tenant_isolation(r: &mut Findings, step: &Step<'_>, d: &Decision) {
    if !d.is_allow() {
        return;
    }
    let at = step.command.at;
    let snap = step.before;
    let Some(user) = &d.user else {
        r.fail(Invariant::TenantIsolation, "an allow names no user");
        return;
    };
    if let Some(t) = &d.tenant {
        if !member_at(snap, user, t, at) {
            r.fail(
                Invariant::TenantIsolation,
                format!("allow for {user} in tenant {t} without membership at {at}"),
            );
        }
        if suspended(snap, t) != Some(false) {
            r.fail(
                Invariant::TenantIsolation,
                format!("allow in tenant {t}, which is suspended or unknown"),
            );
        }
    }
    let Op::Authenticate {
        tenant: asked,
        resource,
        ..
    } = &step.command.op
    else {
        return;
    };
    if let (Some(asked), Some(t)) = (asked, &d.tenant) {
        if asked != t {
            r.fail(
                Invariant::TenantIsolation,
                format!("request named tenant {asked} but the allow acts in {t}"),
            );
        }
    }
    if let Some(c) = &d.credential {
        if c.kind == CredentialKind::ApiKey {
            match key(snap, &c.id) {
                None => r.fail(
                    Invariant::TenantIsolation,
                    format!("allow by unknown key {}", c.id),
                ),
                Some(k) => match &k.tenant {
                    Some(bound) => {
                        if d.tenant.as_ref() != Some(bound) {
                            r.fail(
                                Invariant::TenantIsolation,
                                format!(
                                    "key {} is bound to {bound} but the allow acts in {:?}",
                                    k.id, d.tenant
                                ),
                            );
                        }
                    }
                    None => match step.policy.api_key.unbound {
                        Unbound::Deny => r.fail(
                            Invariant::TenantIsolation,
                            format!("legacy unbound key {} allowed under unbound = deny", k.id),
                        ),
                        Unbound::OldestMembership => {
                            // Bound to the oldest (since, tenant) membership.
                            let oldest = snap
                                .memberships
                                .iter()
                                .filter(|m| m.user == k.owner && m.since <= at)
                                .min_by(|a, b| (a.since, &a.tenant).cmp(&(b.since, &b.tenant)))
                                .map(|m| &m.tenant);
                            if d.tenant.as_ref() != oldest {
                                r.fail(
                                    Invariant::TenantIsolation,
                                    format!(
                                        "legacy key {} acts in {:?}, not its oldest membership",
                                        k.id, d.tenant
                                    ),
                                );
                            }
                        }
                    },
                },
            }
        }
    }
    if let Some(rid) = resource {
        let ok = match &d.tenant {
            Some(t) => snap
                .resources
                .iter()
                .any(|res| res.tenant == *t && res.id == *rid && res.created_at <= at),
            None => false,
        };
        if !ok {
            r.fail(
                Invariant::TenantIsolation,
                format!(
                    "allow names resource {rid} that is not in tenant {:?}",
                    d.tenant
                ),
            );
        }
    }
}

/// I2: a session once revoked or expired is never used by an allow again
/// and its `expires_at` never changes; a key once revoked or deleted never
/// allows again and is never re-enabled.
fn i2_no_revival(r: &mut Findings, h: &History, step: &Step<'_>, d: Option<&Decision>) {
    if let Some(d) = d {
        if let (true, Some(c)) = (d.is_allow(), &d.credential) {
            let dead = match c.kind {
                CredentialKind::Session => h.dead_sessions.iter().any(|(id, _)| *id == c.id),
                CredentialKind::ApiKey => h.dead_keys.contains(&c.id),
            };
            if dead {
                r.fail(
                    Invariant::NoRevival,
                    format!(
                        "{} {} allowed after it was revoked, deleted or expired",
                        c.kind.as_str(),
                        c.id
                    ),
                );
            }
        }
    }
    for (id, expires_at) in &h.dead_sessions {
        if let Some(s) = session(step.after, id) {
            if s.expires_at != *expires_at {
                r.fail(
                    Invariant::NoRevival,
                    format!(
                        "dead session {id} changed expires_at from {expires_at} to {}",
                        s.expires_at
                    ),
                );
            }
        }
    }
    for id in &h.dead_keys {
        let (Some(b), Some(a)) = (key(step.before, id), key(step.after, id)) else {
            continue;
        };
        if !b.enabled && a.enabled {
            r.fail(
                Invariant::NoRevival,
                format!("dead key {id} was re-enabled"),
            );
        }
        let at = step.command.at;
        if (reached(b.revoked_at, at) && a.revoked_at != b.revoked_at)
            || (reached(b.deleted_at, at) && a.deleted_at != b.deleted_at)
        {
            r.fail(
                Invariant::NoRevival,
                format!("dead key {id} had its revocation or deletion undone"),
            );
        }
    }
}

/// I3: a key's owner, tenant, token hash, capabilities and created_at never
/// change, and a key never disappears.
fn i3_immutable_key_metadata(r: &mut Findings, step: &Step<'_>, diff: Option<&Diff>) {
    // With a diff, only the keys it names can have changed: a key at a
    // position it does not name is the same record in both states, and
    // ids are unique within a state (SPEC §2), so looking it up by id finds
    // that record. Keys past a shortened section are checked too.
    let named = |i: usize| {
        diff.is_none_or(|d| {
            d.shortened && i >= step.after.api_keys.len()
                || d.sections[3].binary_search(&(i as u32)).is_ok()
        })
    };
    if diff.is_some_and(|d| d.is_empty()) {
        return;
    }
    for (i, b) in step.before.api_keys.iter().enumerate() {
        if !named(i) {
            continue;
        }
        let Some(a) = key(step.after, &b.id) else {
            r.fail(
                Invariant::ImmutableKeyMetadata,
                format!("key {} disappeared", b.id),
            );
            continue;
        };
        let mut changed: Vec<&str> = Vec::new();
        if a.owner != b.owner {
            changed.push("owner");
        }
        if a.tenant != b.tenant {
            changed.push("tenant");
        }
        if a.token_sha256 != b.token_sha256 {
            changed.push("token_sha256");
        }
        if a.capabilities != b.capabilities {
            changed.push("capabilities");
        }
        if a.created_at != b.created_at {
            changed.push("created_at");
        }
        if !changed.is_empty() {
            r.fail(
                Invariant::ImmutableKeyMetadata,
                format!("key {} changed {}", b.id, changed.join(", ")),
            );
        }
    }
}

/// I4: an allow implies membership at `at`, and a membership removed by
/// `remove_member` grants nothing until `add_member` restores it.
fn i4_live_membership(r: &mut Findings, h: &History, step: &Step<'_>, d: Option<&Decision>) {
    let Some(d) = d else { return };
    if !d.is_allow() {
        return;
    }
    let (Some(user), Some(tenant)) = (&d.user, &d.tenant) else {
        return;
    };
    if !member_at(step.before, user, tenant, step.command.at) {
        r.fail(
            Invariant::LiveMembership,
            format!(
                "allow for {user} in {tenant} without a membership at {}",
                step.command.at
            ),
        );
    }
    if h.removed.iter().any(|(u, t)| u == user && t == tenant) {
        r.fail(
            Invariant::LiveMembership,
            format!("allow for {user} in {tenant} after remove_member and no add_member since"),
        );
    }
}

/// I5: engine and model agree on every outcome and on the resulting state.
fn i5_precise_reasons(r: &mut Findings, step: &Step<'_>, diffs: Option<(&Diff, &Diff)>) {
    match (step.engine, step.model) {
        (
            CommandResult::Decision { decision: e, .. },
            CommandResult::Decision { decision: m, .. },
        ) => {
            if DecisionProjection::of(e) != DecisionProjection::of(m) {
                r.fail(
                    Invariant::PreciseReasons,
                    format!(
                        "decision differs: engine {} vs model {}",
                        json(&DecisionProjection::of(e)),
                        json(&DecisionProjection::of(m))
                    ),
                );
            }
        }
        (
            CommandResult::Ok {
                op: eo,
                changes: ec,
            },
            CommandResult::Ok {
                op: mo,
                changes: mc,
            },
        ) => {
            if eo != mo {
                r.fail(
                    Invariant::PreciseReasons,
                    format!("op differs: engine {eo} vs model {mo}"),
                );
            }
            if ec != mc {
                r.fail(
                    Invariant::PreciseReasons,
                    format!("changes differ: engine {} vs model {}", json(ec), json(mc)),
                );
            }
        }
        (
            CommandResult::Rejected {
                op: eo, reason: er, ..
            },
            CommandResult::Rejected {
                op: mo, reason: mr, ..
            },
        ) => {
            if eo != mo || er != mr {
                r.fail(
                    Invariant::PreciseReasons,
                    format!("rejection differs: engine {eo} {er} vs model {mo} {mr}"),
                );
            }
        }
        (e, m) => r.fail(
            Invariant::PreciseReasons,
            format!(
                "result differs: engine {} vs model {}",
                summary(e),
                summary(m)
            ),
        ),
    }
    // Structural equality is JSON equality for these plain data types; the
    // JSON is only built to describe a difference.
    let same_states = match diffs {
        Some((engine, model)) => {
            std::ptr::eq(step.after, step.model_after)
                || same_by_diffs(step.after, engine, step.model_after, model)
        }
        None => same(step.after, step.model_after),
    };
    if !same_states {
        let (a, m) = (json(step.after), json(step.model_after));
        r.fail(
            Invariant::PreciseReasons,
            format!("state differs after the step: {}", first_difference(&a, &m)),
        );
    }
}

/// A one-line description of a result, without explain text.
fn summary(result: &CommandResult) -> String {
    match result {
        CommandResult::Ok { op, changes } => format!("{op} ok ({} changes)", changes.len()),
        CommandResult::Rejected { op, reason, .. } => format!("{op} rejected {reason}"),
        CommandResult::Decision { op, decision } => {
            format!("{op} {}", json(&DecisionProjection::of(decision)))
        }
    }
}

/// The first JSON path where two values differ, for a readable message.
fn first_difference(a: &Value, b: &Value) -> String {
    fn walk(path: String, a: &Value, b: &Value) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, va) in x {
                    match y.get(k) {
                        Some(vb) => {
                            if let Some(p) = walk(format!("{path}.{k}"), va, vb) {
                                return Some(p);
                            }
                        }
                        None => return Some(format!("{path}.{k}: engine only")),
                    }
                }
                y.keys()
                    .find(|k| !x.contains_key(*k))
                    .map(|k| format!("{path}.{k}: model only"))
            }
            (Value::Array(x), Value::Array(y)) => {
                for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                    if let Some(p) = walk(format!("{path}[{i}]"), va, vb) {
                        return Some(p);
                    }
                }
                (x.len() != y.len())
                    .then(|| format!("{path}: engine has {} records, model {}", x.len(), y.len()))
            }
            _ => (a != b).then(|| format!("{path}: engine {a} vs model {b}")),
        }
    }
    walk("$".into(), a, b).unwrap_or_else(|| "$".into())
}

/// I6: the output line is exactly the serialization of the result (one
/// trailing newline, as a JSON Lines writer adds, is not part of it), and
/// the state a step leaves survives a JSON round trip unchanged (the
/// initial state's round trip is the caller's initial check).
fn i6_determinism(r: &mut Findings, step: &Step<'_>, scope: Scope, unchanged: bool) {
    if !step.output_verified {
        let printed = step
            .engine_output
            .strip_suffix('\n')
            .unwrap_or(step.engine_output);
        match serde_json::to_string(step.engine) {
            Ok(line) if line == printed => {}
            Ok(_) => r.fail(
                Invariant::Determinism,
                "re-serializing the engine result does not give the same bytes",
            ),
            Err(e) => r.fail(
                Invariant::Determinism,
                format!("the engine result does not serialize: {e}"),
            ),
        }
    }
    // Every state of a trace is the initial one or some step's `after`. The
    // initial state is round-tripped once, before the first step, by
    // whoever runs the steps (the lockstep's and explore's initial check:
    // it was round-tripped twice, a fifth of a short fuzzed trace); a state
    // equal to the previous one was already round-tripped, and so was every
    // record it shares with it: only what the step changed is round-tripped
    // again (see `round_trips_changed`).
    let round_trips_after = || match scope {
        Scope::Changed => {
            round_trips_changed(step.before, step.after, step.round_tripped, step.diff)
        }
        Scope::Whole => round_trips(step.after),
    };
    if !unchanged && !round_trips_after() {
        r.fail(
            Invariant::Determinism,
            "the snapshot changes in a JSON round trip",
        );
    }
}

fn round_trips(snap: &Snapshot) -> bool {
    serde_json::to_string(snap)
        .ok()
        .and_then(|s| serde_json::from_str::<Snapshot>(&s).ok())
        .as_ref()
        == Some(snap)
}

/// Whether `after` survives a JSON round trip, given that `before` does:
/// each record of `after` is round-tripped on its own unless it equals the
/// record at the same position in `before`. A snapshot's JSON is its records
/// side by side (docs/SPEC.md §2), so this is the whole check at the cost of
/// the changed records: a step changes one or two. When `taken_at` changed,
/// the whole snapshot is round-tripped.
/// `tests::incremental_round_trip_agrees` compares it with [`round_trips`],
/// with and without a [`RoundTripped`] memo.
fn round_trips_changed(
    before: &Snapshot,
    after: &Snapshot,
    known: Option<&RoundTripped>,
    diff: Option<&Diff>,
) -> bool {
    /// With a diff, the records at the positions it names (`at`); else
    /// each record not equal to `before`'s at its position.
    fn section<T: Record>(
        known: Option<&RoundTripped>,
        at: Option<&[u32]>,
        before: &[T],
        after: &[T],
    ) -> bool {
        let check = |rec: &T| known.map_or_else(|| round_trips_record(rec), |k| k.check(rec));
        match at {
            Some(at) => at.iter().all(|&i| check(&after[i as usize])),
            None => after
                .iter()
                .enumerate()
                .all(|(i, rec)| before.get(i) == Some(rec) || check(rec)),
        }
    }
    // Destructured without `..`: a new section must be listed here.
    let Snapshot {
        taken_at,
        tenants,
        users,
        memberships,
        api_keys,
        sessions,
        resources,
    } = after;
    if *taken_at != before.taken_at {
        return round_trips(after);
    }
    let at = |k: usize| diff.map(|d| &d.sections[k][..]);
    section(known, at(0), &before.tenants, tenants)
        && section(known, at(1), &before.users, users)
        && section(known, at(2), &before.memberships, memberships)
        && section(known, at(3), &before.api_keys, api_keys)
        && section(known, at(4), &before.sessions, sessions)
        && section(known, at(5), &before.resources, resources)
}

/// Whether one record survives a JSON round trip.
fn round_trips_record<T: Record>(rec: &T) -> bool {
    serde_json::to_string(rec)
        .ok()
        .and_then(|s| serde_json::from_str::<T>(&s).ok())
        .as_ref()
        == Some(rec)
}

/// Whether `a` equals `b`, given where each differs from one state
/// `before` (`da`, `db`): at a position neither diff names, both hold
/// `before`'s record there, so only the named positions, the lengths and
/// `taken_at` are compared. Exact, at the cost of what the step changed:
/// I5 compared the engine's and the model's whole states on every step
/// that changed either.
fn same_by_diffs(a: &Snapshot, da: &Diff, b: &Snapshot, db: &Diff) -> bool {
    fn section<T: PartialEq>(a: &[T], b: &[T], da: &[u32], db: &[u32]) -> bool {
        a.len() == b.len()
            && da
                .iter()
                .chain(db)
                .all(|&i| a.get(i as usize) == b.get(i as usize))
    }
    // Destructured without `..`: a new section must be listed here.
    let Snapshot {
        taken_at,
        tenants,
        users,
        memberships,
        api_keys,
        sessions,
        resources,
    } = a;
    let ([t, u, m, k, s, r], [t2, u2, m2, k2, s2, r2]) = (&da.sections, &db.sections);
    *taken_at == b.taken_at
        && section(tenants, &b.tenants, t, t2)
        && section(users, &b.users, u, u2)
        && section(memberships, &b.memberships, m, m2)
        && section(api_keys, &b.api_keys, k, k2)
        && section(sessions, &b.sessions, s, s2)
        && section(resources, &b.resources, r, r2)
}

/// Snapshot equality, at once when both are the same value: a request
/// without effects is judged with one snapshot as `before`, `after` and the
/// model's `after` (explore does so), where three whole comparisons were
/// 8 % of a transition.
fn same(a: &Snapshot, b: &Snapshot) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// I7: `ok` changes something and says what; `rejected` changes nothing; a
/// decision changes the state only through its effects.
fn i7_no_silent_writes(r: &mut Findings, step: &Step<'_>, same: bool) {
    match step.engine {
        CommandResult::Ok { op, changes } => {
            if changes.is_empty() {
                r.fail(
                    Invariant::NoSilentWrites,
                    format!("{op} ok with no changes"),
                );
            }
            if same {
                r.fail(
                    Invariant::NoSilentWrites,
                    format!("{op} ok but the state did not change"),
                );
            }
        }
        CommandResult::Rejected { op, reason, .. } => {
            if !same {
                r.fail(
                    Invariant::NoSilentWrites,
                    format!("{op} rejected {reason} but the state changed"),
                );
            }
        }
        CommandResult::Decision { decision, .. } => {
            if decision.effects.is_empty() && !same {
                r.fail(
                    Invariant::NoSilentWrites,
                    "a decision without effects changed the state",
                );
            }
        }
    }
}

/// I8: an API-key allow is scoped to exactly its tenant; a session allow
/// lists only non-suspended tenants the user is a member of at `at`.
fn i8_narrow_scope(r: &mut Findings, step: &Step<'_>, d: &Decision) {
    if !d.is_allow() {
        if !d.scope.is_empty() {
            r.fail(Invariant::NarrowScope, "a deny carries a scope");
        }
        return;
    }
    let Some(c) = &d.credential else { return };
    match c.kind {
        CredentialKind::ApiKey => {
            let want: Vec<Id> = d.tenant.iter().cloned().collect();
            if d.scope[..] != want[..] {
                r.fail(
                    Invariant::NarrowScope,
                    format!(
                        "API-key allow scoped to {:?}, not [{:?}]",
                        d.scope, d.tenant
                    ),
                );
            }
        }
        CredentialKind::Session => {
            let Some(user) = &d.user else { return };
            for t in &d.scope {
                let current = member_at(step.before, user, t, step.command.at)
                    && suspended(step.before, t) == Some(false);
                if !current {
                    r.fail(
                        Invariant::NarrowScope,
                        format!("session scope lists {t}, not a current membership of {user}"),
                    );
                }
            }
        }
    }
}

/// I9: no token presented so far occurs in the engine's output line. Only
/// strings of at least [`MIN_SECRET_LEN`] bytes are looked for, so short
/// values that happen to occur in ids or timestamps do not count.
fn i9_no_secret_leakage(r: &mut Findings, h: &History, step: &Step<'_>) {
    // memchr's SIMD substring search: this scan of every output line for
    // every token seen so far was a tenth of an explore transition with
    // `str::contains`.
    let output = step.engine_output.as_bytes();
    for t in &h.tokens {
        if step.absent.is_some_and(|a| a.holds(t)) {
            continue;
        }
        if t.0.find(output).is_some() {
            // Name the secret by its length only: the report must not leak it.
            r.fail(
                Invariant::NoSecretLeakage,
                format!(
                    "the output contains a presented token ({} bytes)",
                    t.text().len()
                ),
            );
        } else if let Some(a) = step.absent {
            a.add(t);
        }
    }
}

/// I10: a session's `expires_at` never decreases, never passes
/// `created_at + absolute_max`, and moves only through an allowed
/// `authenticate` on that session while it is live.
fn i10_bounded_sliding(
    r: &mut Findings,
    step: &Step<'_>,
    d: Option<&Decision>,
    diff: Option<&Diff>,
) {
    let at = step.command.at;
    let max = step.policy.session.absolute_max;
    for (i, a) in step.after.sessions.iter().enumerate() {
        // With a diff, a session at a position it does not name is
        // `before`'s at that position, expiry and all: nothing moved.
        if diff.is_some_and(|d| d.sections[4].binary_search(&(i as u32)).is_err()) {
            continue;
        }
        let b = session(step.before, &a.id);
        if b.map(|b| b.expires_at) == Some(a.expires_at) {
            continue;
        }
        // New, or its expiry moved: it must respect absolute_max.
        if let Some(max) = max {
            let cap = a.created_at.saturating_add(max);
            if a.expires_at > cap {
                r.fail(
                    Invariant::BoundedSliding,
                    format!(
                        "session {} expires at {} past its cap {cap}",
                        a.id, a.expires_at
                    ),
                );
            }
        }
        let Some(b) = b else { continue };
        if a.expires_at < b.expires_at {
            r.fail(
                Invariant::BoundedSliding,
                format!(
                    "session {} expiry went back from {} to {}",
                    a.id, b.expires_at, a.expires_at
                ),
            );
        }
        let by_allow = d.is_some_and(|d| {
            d.is_allow()
                && d.credential
                    .as_ref()
                    .is_some_and(|c| c.kind == CredentialKind::Session && c.id == a.id)
        });
        let live = b.created_at <= at && !reached(b.revoked_at, at) && b.expires_at > at;
        if !by_allow || !live {
            r.fail(
                Invariant::BoundedSliding,
                format!(
                    "session {} expiry moved without an allowed request on it while live",
                    a.id
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! Every invariant must be able to fail: each test takes a clean step
    //! (the model standing in for the engine) and breaks it by hand.

    use super::*;
    use crate::Model;
    use authproof_engine::{Effect, Reason, Rejection, TokenHash, Verdict};
    use serde_json::json;

    const T: &str = "2026-05-28T12:00:00Z";

    fn snapshot() -> Snapshot {
        serde_json::from_value(json!({
            "tenants": [{"id": "acme"}, {"id": "beta"}],
            "users": [{"id": "alice"}, {"id": "bob"}],
            "memberships": [
                {"user": "alice", "tenant": "acme", "role": "owner"},
                {"user": "alice", "tenant": "beta", "role": "owner"},
                {"user": "bob", "tenant": "acme", "role": "member"}
            ],
            "api_keys": [{"id": "key_1", "owner": "alice", "tenant": "acme",
                          "token_sha256": TokenHash::of("sk_live_alice1").to_string(),
                          "created_at": "2026-02-01T00:00:00Z"}],
            "sessions": [{"id": "ses_1", "user": "alice", "tenant": "acme",
                          "token_sha256": TokenHash::of("sessionalice1").to_string(),
                          "created_at": "2026-05-01T00:00:00Z",
                          "expires_at": "2026-05-31T00:00:00Z"}],
            "resources": [{"tenant": "beta", "id": "conv_1", "owner": "alice"}]
        }))
        .unwrap()
    }

    fn cmd(v: serde_json::Value) -> Command {
        Command::from_value(v).unwrap()
    }

    fn key_auth(extra: serde_json::Value) -> Command {
        let mut v = json!({"at": T, "op": "authenticate", "action": "workspace.read",
                           "headers": {"x-api-key": "sk_live_alice1"}});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        cmd(v)
    }

    fn session_auth(at: &str) -> Command {
        cmd(
            json!({"at": at, "op": "authenticate", "action": "workspace.read",
                   "headers": {"cookie": "better-auth.session_token=sessionalice1"}}),
        )
    }

    /// One step, owned, so a test can break any part of it.
    struct Owned {
        policy: Policy,
        command: Command,
        before: Snapshot,
        after: Snapshot,
        engine: CommandResult,
        model: CommandResult,
        model_after: Snapshot,
        output: Option<String>,
    }

    impl Owned {
        /// A clean step: the model plays both engine and model.
        fn new(before: Snapshot, command: Command) -> Owned {
            let policy = Policy::default();
            let mut m = Model::new(&before, &policy);
            let result = m.apply(&command);
            let after = m.snapshot();
            Owned {
                policy,
                command,
                before,
                after: after.clone(),
                engine: result.clone(),
                model: result,
                model_after: after,
                output: None,
            }
        }

        /// Breaks the engine's decision (the model keeps the right one).
        fn decision(&mut self) -> &mut Decision {
            match &mut self.engine {
                CommandResult::Decision { decision, .. } => decision,
                _ => panic!("not a decision"),
            }
        }

        fn check(&self, history: &mut History) -> Vec<Violation> {
            self.check_with(history, None)
        }

        /// [`Owned::check`] with a judge's token searchers.
        fn check_with(&self, history: &mut History, secrets: Option<&Secrets>) -> Vec<Violation> {
            let output = match &self.output {
                Some(o) => o.clone(),
                None => serde_json::to_string(&self.engine).unwrap(),
            };
            check_step(
                history,
                &Step {
                    policy: &self.policy,
                    index: 0,
                    command: &self.command,
                    before: &self.before,
                    after: &self.after,
                    engine: &self.engine,
                    model: &self.model,
                    model_after: &self.model_after,
                    engine_output: &output,
                    output_verified: false,
                    diff: None,
                    model_diff: None,
                    longest_public: None,
                    policy_strings: None,
                    before_noted: false,
                    round_tripped: None,
                    secrets,
                    absent: None,
                },
            )
        }

        fn fired(&self) -> Vec<Invariant> {
            let mut h = History::new(&self.before);
            let mut ids: Vec<Invariant> = self.check(&mut h).iter().map(|v| v.invariant).collect();
            ids.dedup();
            ids
        }
    }

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(Invariant::TenantIsolation.id(), "I1");
        assert_eq!(Invariant::BoundedSliding.id(), "I10");
        assert_eq!(Invariant::TenantIsolation.name(), "tenant isolation");
        assert_eq!(Invariant::BoundedSliding.name(), "bounded sliding");
        assert_eq!(Invariant::ALL.len(), 10);
    }

    #[test]
    fn clean_steps_hold() {
        for c in [
            key_auth(json!({})),
            session_auth(T),
            cmd(json!({"at": T, "op": "remove_member", "user": "bob", "tenant": "acme"})),
            cmd(json!({"at": T, "op": "logout", "session": "ghost"})),
            cmd(
                json!({"at": T, "op": "login", "session": "s2", "user": "bob",
                       "token": "bobsession1"}),
            ),
        ] {
            assert_eq!(Owned::new(snapshot(), c).fired(), vec![]);
        }
    }

    #[test]
    fn i1_fires_on_foreign_tenant_and_resource() {
        let mut s = Owned::new(snapshot(), key_auth(json!({})));
        assert!(s.decision().is_allow());
        s.decision().tenant = Some(Id::new("beta").unwrap());
        s.decision().scope = vec![Id::new("beta").unwrap()].into();
        assert!(s.fired().contains(&Invariant::TenantIsolation));

        // A resource of another tenant.
        let mut s = Owned::new(snapshot(), key_auth(json!({"resource": "conv_1"})));
        assert_eq!(s.decision().reason, Some(Reason::ResourceNotFound));
        let d = s.decision();
        d.decision = Verdict::Allow;
        d.reason = None;
        d.status = 200;
        d.scope = vec![Id::new("acme").unwrap()].into();
        assert!(s.fired().contains(&Invariant::TenantIsolation));
    }

    #[test]
    fn i2_fires_on_revived_session_and_key() {
        // Session expired exactly at `at`, yet allowed.
        let mut s = Owned::new(snapshot(), session_auth("2026-05-31T00:00:00Z"));
        assert_eq!(s.decision().reason, Some(Reason::SessionExpired));
        let d = s.decision();
        d.decision = Verdict::Allow;
        d.reason = None;
        d.status = 200;
        d.tenant = Some(Id::new("acme").unwrap());
        d.scope = vec![Id::new("acme").unwrap(), Id::new("beta").unwrap()].into();
        assert!(s.fired().contains(&Invariant::NoRevival));

        // A revoked key re-enabled.
        let mut before = snapshot();
        before.api_keys[0].revoked_at = Some(ts("2026-05-01T00:00:00Z"));
        before.api_keys[0].enabled = false;
        let mut s = Owned::new(
            before,
            cmd(json!({"at": T, "op": "update_api_key", "key": "key_1", "enabled": true})),
        );
        assert_eq!(s.engine.rejection(), Some(Rejection::ApiKeyRevoked));
        s.after.api_keys[0].enabled = true;
        assert!(s.fired().contains(&Invariant::NoRevival));
    }

    #[test]
    fn i3_fires_on_repointed_key() {
        let mut s = Owned::new(
            snapshot(),
            cmd(json!({"at": T, "op": "update_api_key", "key": "key_1", "name": "x"})),
        );
        s.after.api_keys[0].tenant = Some(Id::new("beta").unwrap());
        assert!(s.fired().contains(&Invariant::ImmutableKeyMetadata));
        s.after = s.model_after.clone();
        s.after.api_keys.clear();
        assert!(s.fired().contains(&Invariant::ImmutableKeyMetadata));
    }

    #[test]
    fn i4_fires_on_stale_membership() {
        // Allowed without a membership at `at`.
        let mut before = snapshot();
        before.memberships.remove(0);
        let mut s = Owned::new(before, key_auth(json!({})));
        assert_eq!(s.decision().reason, Some(Reason::NotAMember));
        let d = s.decision();
        d.decision = Verdict::Allow;
        d.reason = None;
        d.status = 200;
        d.scope = vec![Id::new("acme").unwrap()].into();
        assert!(s.fired().contains(&Invariant::LiveMembership));

        // remove_member, then an allow with no add_member in between (the
        // engine "forgot" to remove the membership).
        let mut h = History::new(&snapshot());
        let mut rm = Owned::new(
            snapshot(),
            cmd(json!({"at": T, "op": "remove_member", "user": "alice", "tenant": "acme"})),
        );
        rm.after = rm.before.clone();
        rm.check(&mut h);
        let next = Owned::new(snapshot(), key_auth(json!({})));
        let fired: Vec<Invariant> = next.check(&mut h).iter().map(|v| v.invariant).collect();
        assert_eq!(fired, vec![Invariant::LiveMembership]);
        // add_member clears it.
        let add = Owned::new(
            snapshot(),
            cmd(
                json!({"at": T, "op": "add_member", "user": "alice", "tenant": "gamma",
                       "role": "x"}),
            ),
        );
        add.check(&mut h);
        assert_eq!(
            next.check(&mut h).len(),
            1,
            "another tenant does not clear it"
        );
        let mut add = Owned::new(
            snapshot(),
            cmd(
                json!({"at": T, "op": "add_member", "user": "alice", "tenant": "acme",
                       "role": "x"}),
            ),
        );
        add.engine = CommandResult::Ok {
            op: "add_member".into(),
            changes: vec![],
        };
        add.check(&mut h);
        assert_eq!(next.check(&mut h), vec![]);
    }

    #[test]
    fn i5_fires_on_any_disagreement() {
        let mut s = Owned::new(snapshot(), key_auth(json!({"tenant": "beta"})));
        assert_eq!(s.decision().reason, Some(Reason::CrossTenant));
        s.decision().reason = Some(Reason::NotAMember);
        assert_eq!(s.fired(), vec![Invariant::PreciseReasons]);

        // Explain text is free-form.
        let mut s = Owned::new(snapshot(), key_auth(json!({})));
        s.decision().explain = vec!["other words".to_string()].into();
        assert_eq!(s.fired(), vec![]);

        let mut s = Owned::new(
            snapshot(),
            cmd(json!({"at": T, "op": "logout", "session": "ghost"})),
        );
        s.engine = CommandResult::Rejected {
            op: "logout".into(),
            reason: Rejection::SessionExpired,
            explain: String::new(),
        };
        assert_eq!(s.fired(), vec![Invariant::PreciseReasons]);

        let mut s = Owned::new(
            snapshot(),
            cmd(json!({"at": T, "op": "create_tenant", "tenant": "gamma"})),
        );
        if let CommandResult::Ok { changes, .. } = &mut s.engine {
            changes.push(changes[0].clone());
        }
        assert_eq!(s.fired(), vec![Invariant::PreciseReasons]);

        // Same result, different state.
        let mut s = Owned::new(
            snapshot(),
            cmd(json!({"at": T, "op": "create_tenant", "tenant": "gamma"})),
        );
        s.after.tenants[2].suspended = true;
        assert_eq!(s.fired(), vec![Invariant::PreciseReasons]);
    }

    #[test]
    fn i6_fires_on_unstable_output() {
        let mut s = Owned::new(snapshot(), key_auth(json!({})));
        let line = serde_json::to_string(&s.engine).unwrap();
        s.output = Some(line.replace("\"decision\":\"allow\"", "\"decision\": \"allow\""));
        assert_eq!(s.fired(), vec![Invariant::Determinism]);
    }

    #[test]
    fn i7_fires_on_silent_writes() {
        let mut s = Owned::new(
            snapshot(),
            cmd(json!({"at": T, "op": "revoke_api_key", "key": "ghost"})),
        );
        s.engine = CommandResult::Ok {
            op: "revoke_api_key".into(),
            changes: vec![],
        };
        s.model = s.engine.clone();
        assert_eq!(s.fired(), vec![Invariant::NoSilentWrites]);

        let mut s = Owned::new(
            snapshot(),
            cmd(json!({"at": T, "op": "revoke_api_key", "key": "ghost"})),
        );
        s.after.api_keys[0].name = "x".into();
        s.model_after = s.after.clone();
        assert_eq!(s.fired(), vec![Invariant::NoSilentWrites]);
    }

    #[test]
    fn i8_fires_on_wide_scope() {
        let mut s = Owned::new(snapshot(), key_auth(json!({})));
        s.decision().scope = vec![Id::new("acme").unwrap(), Id::new("beta").unwrap()].into();
        s.model = s.engine.clone();
        assert_eq!(s.fired(), vec![Invariant::NarrowScope]);

        let mut s = Owned::new(snapshot(), session_auth(T));
        s.decision().scope.push(Id::new("gamma").unwrap());
        s.model = s.engine.clone();
        assert_eq!(s.fired(), vec![Invariant::NarrowScope]);
    }

    /// The false alarm the `differential` fuzz target found: a cookie header
    /// whose whole value is the cookie *name* presents no token, so the
    /// explanation that names the cookie is no leak.
    #[test]
    fn i9_ignores_a_bare_cookie_name() {
        let name = "__Secure-better-auth.session_token";
        let mut s = Owned::new(
            snapshot(),
            cmd(
                json!({"at": T, "op": "authenticate", "action": "workspace.read",
                       "headers": {"cookie": name}}),
            ),
        );
        s.decision().explain = vec![format!("no {name} cookie pair")].into();
        assert_eq!(s.fired(), vec![]);
    }

    /// What the policy or the state makes public is never a secret, even
    /// presented where a token goes; a real token in a session cookie is.
    #[test]
    fn i9_public_strings_are_not_secrets_but_cookie_tokens_are() {
        let mut s = Owned::new(
            snapshot(),
            cmd(
                json!({"at": T, "op": "authenticate", "action": "workspace.read",
                       "headers": {"x-api-key": "workspace.read"}}),
            ),
        );
        s.decision().explain = vec!["action workspace.read".to_string()].into();
        assert_eq!(s.fired(), vec![]);

        let mut s = Owned::new(
            snapshot(),
            cmd(
                json!({"at": T, "op": "authenticate", "action": "workspace.read",
                       "headers": {"cookie": "other=x; better-auth.session_token=\"s3cr3t-cookie\""}}),
            ),
        );
        s.decision().explain = vec!["looked up s3cr3t-cookie".to_string()].into();
        assert_eq!(s.fired(), vec![Invariant::NoSecretLeakage]);

        // A header that is no credential under the policy presents nothing.
        let mut s = Owned::new(
            snapshot(),
            cmd(
                json!({"at": T, "op": "authenticate", "action": "workspace.read",
                       "headers": {"x-trace-id": "abcdef0123456789"}}),
            ),
        );
        s.decision().explain = vec!["trace abcdef0123456789".to_string()].into();
        assert_eq!(s.fired(), vec![]);
    }

    /// `occurs` is `str::contains` (for a needle that is not empty), on
    /// both sides of its 64-byte switch: every needle of up to 3 bytes of
    /// `a b /` in haystacks built from them, at every length 0–70.
    /// `occurs` is a plain search for needles as long as a token: every
    /// piece of up to 12 bytes of haystacks of up to 70 (both sides of the
    /// 64-byte switch), each also with one byte changed.
    #[test]
    fn occurs_is_contains_for_long_needles() {
        let bytes = b"ab/+=%_-.xyzAB01\x80\xff";
        let (mut found, mut missed) = (0, 0);
        for len in 0..=70usize {
            let hay: Vec<u8> = (0..len)
                .map(|i| bytes[(i * 5 + i / 7) % bytes.len()])
                .collect();
            for from in 0..len {
                for n in 1..=12.min(len - from) {
                    let piece = &hay[from..from + n];
                    for change in [None, Some(0), Some(n - 1), Some(n / 2)] {
                        let mut needle = piece.to_vec();
                        if let Some(c) = change {
                            needle[c] = needle[c].wrapping_add(1);
                        }
                        let want = hay.windows(n).any(|w| w == needle);
                        assert_eq!(occurs(&hay, &needle), want, "{hay:?} {needle:?}");
                        if want {
                            found += 1;
                        } else {
                            missed += 1;
                        }
                    }
                }
            }
        }
        assert!(found > 1000 && missed > 1000, "{found} {missed}");
    }

    #[test]
    fn occurs_is_contains() {
        let alphabet = ["a", "b", "/"];
        let mut needles = Vec::new();
        for x in alphabet {
            needles.push(x.to_string());
            for y in alphabet {
                needles.push(format!("{x}{y}"));
                for z in alphabet {
                    needles.push(format!("{x}{y}{z}"));
                }
            }
        }
        for n in 0..=70 {
            for seed in 0..4usize {
                let hay: String = (0..n)
                    .map(|i| alphabet[(i * 7 + seed * (i / 3)) % 3])
                    .collect();
                for needle in &needles {
                    assert_eq!(
                        occurs(hay.as_bytes(), needle.as_bytes()),
                        hay.contains(needle.as_str()),
                        "{hay:?} {needle:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn i9_fires_on_leaked_token() {
        let mut s = Owned::new(snapshot(), key_auth(json!({})));
        s.decision().explain = vec!["looked up sk_live_alice1".to_string()].into();
        assert_eq!(s.fired(), vec![Invariant::NoSecretLeakage]);

        // A token from an earlier step counts too.
        let mut h = History::new(&snapshot());
        Owned::new(
            snapshot(),
            cmd(
                json!({"at": T, "op": "login", "session": "s2", "user": "bob",
                       "token": "bobsecret99"}),
            ),
        )
        .check(&mut h);
        let mut s = Owned::new(
            snapshot(),
            cmd(json!({"at": T, "op": "logout", "session": "ghost"})),
        );
        s.engine = CommandResult::Rejected {
            op: "logout".into(),
            reason: Rejection::SessionNotFound,
            explain: "token bobsecret99 unknown".into(),
        };
        let fired: Vec<Invariant> = s.check(&mut h).iter().map(|v| v.invariant).collect();
        assert_eq!(fired, vec![Invariant::NoSecretLeakage]);
    }

    #[test]
    fn i10_fires_on_unbounded_sliding() {
        // Expiry moved by a command that is not an allowed request.
        let mut s = Owned::new(
            snapshot(),
            cmd(json!({"at": T, "op": "create_tenant", "tenant": "gamma"})),
        );
        s.after.sessions[0].expires_at = ts("2026-06-30T00:00:00Z");
        s.model_after = s.after.clone();
        assert_eq!(s.fired(), vec![Invariant::BoundedSliding]);

        // Expiry moved backwards by an allowed request.
        let mut s = Owned::new(snapshot(), session_auth(T));
        s.after.sessions[0].expires_at = ts("2026-05-30T00:00:00Z");
        s.model_after = s.after.clone();
        s.decision().effects = vec![Effect::ExtendSession {
            session: Id::new("ses_1").unwrap(),
            expires_at: ts("2026-05-30T00:00:00Z"),
        }]
        .into();
        s.model = s.engine.clone();
        assert_eq!(s.fired(), vec![Invariant::BoundedSliding]);

        // Past absolute_max.
        let mut s = Owned::new(snapshot(), session_auth(T));
        s.policy.session.absolute_max =
            Some(authproof_engine::Duration::from_secs(86_400 * 40).unwrap());
        // created 05-01 + 40d = 06-10; the model under the default policy
        // extended to 06-27.
        assert!(s.fired().contains(&Invariant::BoundedSliding));
    }

    #[test]
    fn equality_by_diffs_is_equality() {
        // Every pair of states a few commands apart (a removal in the
        // middle of a section, one at the end, a record changed, one
        // added), each against every common base.
        let policy = Policy::default();
        let mut m = Model::new(&snapshot(), &policy);
        let mut states = vec![m.snapshot()];
        for op in [
            json!({"at": T, "op": "revoke_api_key", "key": "key_1"}),
            json!({"at": T, "op": "remove_member", "user": "alice", "tenant": "beta"}),
            json!({"at": T, "op": "add_member", "user": "alice", "tenant": "beta", "role": "member"}),
            json!({"at": T, "op": "set_role", "user": "bob", "tenant": "acme", "role": "admin"}),
            json!({"at": T, "op": "logout", "session": "ses_1"}),
        ] {
            let r = m.apply(&cmd(op));
            assert!(matches!(r, CommandResult::Ok { .. }), "{r:?}");
            states.push(m.snapshot());
        }
        let mut pairs = 0;
        for base in &states {
            for a in &states {
                for b in &states {
                    let (da, db) = (Diff::between(base, a), Diff::between(base, b));
                    assert_eq!(same_by_diffs(a, &da, b, &db), a == b);
                    pairs += usize::from(a != b);
                }
            }
        }
        assert!(pairs > 100, "{pairs} unequal pairs");
    }

    #[test]
    fn incremental_round_trip_agrees() {
        // Snapshots a few commands apart, each with records the step before
        // did not have, judged against the whole round trip, with and
        // without the record memo.
        let policy = Policy::default();
        let mut m = Model::new(&snapshot(), &policy);
        let mut states = vec![m.snapshot()];
        for op in [
            json!({"at": T, "op": "revoke_api_key", "key": "key_1"}),
            json!({"at": T, "op": "set_role", "user": "bob", "tenant": "acme", "role": "admin"}),
            json!({"at": T, "op": "remove_member", "user": "alice", "tenant": "beta"}),
            json!({"at": T, "op": "logout", "session": "ses_1"}),
        ] {
            let r = m.apply(&cmd(op));
            assert!(matches!(r, CommandResult::Ok { .. }), "{r:?}");
            states.push(m.snapshot());
        }
        assert!(
            states.windows(2).all(|w| w[0] != w[1]),
            "every step changes"
        );
        let memo = RoundTripped::default();
        for w in states.windows(2) {
            let whole = round_trips(&w[1]);
            assert!(whole);
            assert_eq!(round_trips_changed(&w[0], &w[1], None, None), whole);
            let diff = Diff::between(&w[0], &w[1]);
            assert_eq!(round_trips_changed(&w[0], &w[1], None, Some(&diff)), whole);
            let kept = memo.0.borrow().len;
            assert_eq!(round_trips_changed(&w[0], &w[1], Some(&memo), None), whole);
            let added = memo.0.borrow().len - kept;
            // Asked again, nothing new: each was kept once.
            assert!(round_trips_changed(&w[0], &w[1], Some(&memo), Some(&diff)));
            assert_eq!(memo.0.borrow().len - kept, added);
        }
        // The revoked key, the re-roled and the moved membership (the same
        // record), the logged-out session.
        assert_eq!(memo.0.borrow().len, 3);
    }

    #[test]
    fn a_known_round_trip_is_the_whole_one() {
        // Every state a few commands reach, with and without `taken_at`,
        // and with nothing in it: the memo's answer is the whole round
        // trip's, and a second asking round-trips no record again.
        let policy = Policy::default();
        let mut m = Model::new(&snapshot(), &policy);
        let mut states = vec![Snapshot::default(), m.snapshot()];
        for op in [
            json!({"at": T, "op": "revoke_api_key", "key": "key_1"}),
            json!({"at": T, "op": "remove_member", "user": "alice", "tenant": "beta"}),
        ] {
            m.apply(&cmd(op));
            states.push(m.snapshot());
        }
        for s in states.clone() {
            states.push(Snapshot {
                taken_at: if s.taken_at.is_some() {
                    None
                } else {
                    Some(s.sessions.first().map_or(Timestamp::MIN, |x| x.expires_at))
                },
                ..s
            });
        }
        let memo = RoundTripped::default();
        for s in &states {
            assert_eq!(memo.snapshot(s), round_trips(s));
            let kept = memo.0.borrow().len;
            assert!(memo.snapshot(s));
            assert_eq!(memo.0.borrow().len, kept);
        }
        let records = |s: &Snapshot| {
            s.tenants.len()
                + s.users.len()
                + s.memberships.len()
                + s.api_keys.len()
                + s.sessions.len()
                + s.resources.len()
        };
        // Every record of the first real state was kept: none is skipped
        // unchecked.
        assert!(memo.0.borrow().len >= records(&states[1]));
        assert!(records(&states[1]) > 5);
    }

    #[test]
    fn a_kept_secret_is_a_fresh_one() {
        let secrets = Secrets::default();
        let a = secrets.get("sk_live_k1/+=%2F");
        assert_eq!(a.text(), b"sk_live_k1/+=%2F");
        assert!(a == Secret::new("sk_live_k1/+=%2F"));
        // Asked again: the one kept, not another built.
        assert!(Arc::ptr_eq(&a.0, &secrets.get("sk_live_k1/+=%2F").0));
        let b = secrets.get("s2%2B+/=tok");
        assert!(b != a && b == Secret::new("s2%2B+/=tok"));
        // It searches as a fresh one does.
        for hay in [
            "",
            "x sk_live_k1/+=%2F y",
            "sk_live_k1/+=%2",
            "s2%2B+/=toks2%2B+/=tok",
        ] {
            for (kept, text) in [(&a, "sk_live_k1/+=%2F"), (&b, "s2%2B+/=tok")] {
                assert_eq!(kept.0.find(hay.as_bytes()).is_some(), hay.contains(text));
            }
        }
        // Full: emptied, and still right.
        for i in 0..Secrets::CAPACITY + 3 {
            let t = format!("token-{i:08}");
            assert_eq!(secrets.get(&t).text(), t.as_bytes());
        }
        // Two kept before, so five since it was emptied.
        assert_eq!(secrets.0.borrow().len(), 5);
        assert!(secrets.get("sk_live_k1/+=%2F") == a);
    }

    #[test]
    fn a_secret_copied_over_another_is_the_source() {
        let (a, b) = (Secret::new("first-token"), Secret::new("second-token"));
        let mut copy = a.clone();
        assert!(Arc::ptr_eq(&copy.0, &a.0));
        copy.clone_from(&b);
        assert!(copy == b && Arc::ptr_eq(&copy.0, &b.0));
        copy.clone_from(&b);
        assert!(Arc::ptr_eq(&copy.0, &b.0));
        assert_eq!(Arc::strong_count(&b.0), 2);
    }

    /// A judge with a [`Secrets`] table notes the same tokens, in the same
    /// order, and finds the same leaks as one without: a trace presenting
    /// tokens in every credential position, twice, with public strings
    /// among them, and a leak of one.
    #[test]
    fn a_history_built_with_kept_secrets_is_the_same() {
        let auth = |headers: serde_json::Value| {
            cmd(
                json!({"at": T, "op": "authenticate", "action": "workspace.read",
                       "headers": headers}),
            )
        };
        let mut leak = Owned::new(snapshot(), key_auth(json!({})));
        leak.decision().explain = vec!["looked up sk_live_alice1".to_string()].into();
        let steps = [
            Owned::new(snapshot(), key_auth(json!({}))),
            Owned::new(
                snapshot(),
                cmd(
                    json!({"at": T, "op": "login", "session": "s2", "user": "bob",
                           "token": "bobsecret99"}),
                ),
            ),
            Owned::new(
                snapshot(),
                auth(json!({"authorization": "Bearer  tok-en-12345 ",
                            "cookie": "a=b; better-auth.session_token=\"s3cr3t-cookie\"",
                            "x-api-key": " workspace.read "})),
            ),
            Owned::new(snapshot(), session_auth(T)),
            Owned::new(snapshot(), auth(json!({"authorization": "plainvalue42"}))),
            leak,
            Owned::new(snapshot(), key_auth(json!({}))),
        ];
        let secrets = Secrets::default();
        for kept in [None, Some(&secrets), Some(&secrets)] {
            let (mut with, mut without) = (History::default(), History::default());
            for s in &steps {
                assert_eq!(s.check_with(&mut with, kept), s.check(&mut without));
                assert_eq!(with, without);
            }
            let texts: Vec<&[u8]> = with.tokens.iter().map(Secret::text).collect();
            assert_eq!(
                texts,
                [
                    &b"sk_live_alice1"[..],
                    b"bobsecret99",
                    b"tok-en-12345",
                    b"\"s3cr3t-cookie\"",
                    b"s3cr3t-cookie",
                    // Presented as is, spaces and all, it is no public
                    // string; trimmed, it is the action.
                    b" workspace.read ",
                    b"sessionalice1",
                    b"plainvalue42",
                ]
            );
        }
        // The eight, and the searcher of the one candidate found public
        // ("workspace.read" trimmed): taken before the public search.
        assert_eq!(secrets.0.borrow().len(), 9);
        assert!(secrets.0.borrow().get(&b"workspace.read"[..]).is_some());
    }

    /// `occurs_in_public` is the plain search of every public string: every
    /// public string of a state, policy and request, and pieces of them,
    /// as candidates.
    /// Each kind of public string of a state, made the longest in turn, is
    /// the bound.
    #[test]
    fn longest_public_is_the_longest_of_every_kind() {
        let long = "x".repeat(120);
        let base = snapshot();
        assert!(longest_public(&base) < 120);
        let kinds: Vec<fn(&mut Snapshot, &str)> = vec![
            |s, l| s.tenants[0].id = Id::new(l).unwrap(),
            |s, l| s.users[0].id = Id::new(l).unwrap(),
            |s, l| s.memberships[0].role = l.into(),
            |s, l| s.api_keys[0].id = Id::new(l).unwrap(),
            |s, l| s.api_keys[0].prefix = l.into(),
            |s, l| s.api_keys[0].name = l.into(),
            |s, l| s.api_keys[0].capabilities.push(l.into()),
            |s, l| s.sessions[0].id = Id::new(l).unwrap(),
            |s, l| s.resources[0].id = Id::new(l).unwrap(),
        ];
        for (i, kind) in kinds.iter().enumerate() {
            let mut state = base.clone();
            kind(&mut state, &long);
            assert_eq!(longest_public(&state), 120, "kind {i}");
        }
    }

    #[test]
    fn occurs_in_public_is_a_search_of_every_public_string() {
        let policy = Policy::default();
        // Each kind of public string with one no other kind contains.
        let mut state = snapshot();
        state.memberships[0].role = "custodian-of-records".into();
        state.api_keys[0].name = "deploy key of the ci".into();
        state.api_keys[0].prefix = "sk_live_".into();
        state.api_keys[0].capabilities = vec!["supervisor".into(), "conversations".into()];
        let command = key_auth(json!({"tenant": "asked-tenant", "resource": "asked-resource"}));
        let Op::Authenticate {
            action,
            tenant,
            resource,
            ..
        } = &command.op
        else {
            unreachable!()
        };
        let mut public: Vec<String> = Vec::new();
        public.extend(policy.session.cookies.iter().cloned());
        public.push(policy.api_key.header.clone());
        public.extend(policy.api_key.prefixes.iter().cloned());
        for (a, rule) in &policy.actions {
            public.push(a.clone());
            public.extend(rule.roles.iter().cloned());
            public.push(rule.capability.clone());
        }
        public.push(action.to_string());
        public.extend(tenant.iter().chain(resource).map(|x| x.to_string()));
        public.extend(state.tenants.iter().map(|x| x.id.to_string()));
        public.extend(state.users.iter().map(|x| x.id.to_string()));
        public.extend(state.memberships.iter().map(|m| m.role.to_string()));
        for k in &state.api_keys {
            public.extend([k.id.to_string(), k.prefix.to_string(), k.name.to_string()]);
            public.extend(k.capabilities.iter().map(|c| c.to_string()));
        }
        public.extend(state.sessions.iter().map(|x| x.id.to_string()));
        public.extend(state.resources.iter().map(|x| x.id.to_string()));
        let mut candidates: Vec<String> = vec!["sk_live_alice1".into(), "nowhere-at-all".into()];
        for p in &public {
            for from in 0..p.len() {
                candidates.push(p[from..].to_string());
                candidates.push(p[..p.len() - from].to_string());
            }
            candidates.push(format!("{p}!"));
        }
        // Across two of the policy's strings, as they lie joined: in no
        // one string.
        for pair in public.windows(2) {
            candidates.push(format!("{}\n{}", pair[0], pair[1]));
            let (a, b) = (&pair[0], &pair[1]);
            candidates.push(format!("{}\n{}", &a[a.len() / 2..], &b[..b.len() / 2]));
        }
        let (mut hits, mut misses) = (0, 0);
        for c in candidates
            .iter()
            .filter(|c| !c.is_empty() && c.is_char_boundary(0))
        {
            let want = public.iter().any(|p| p.contains(c.as_str()));
            assert_eq!(
                occurs_in_public(c, None, &command, &policy, &state, (None, None)),
                want,
                "{c:?}"
            );
            // The bound skips no string a token can occur in, and the
            // joined policy strings find what a search of each finds.
            let longest = Some(longest_public(&state));
            let joined = PolicyStrings::new(&policy);
            let searcher = Secret::new(c);
            for known in [
                (longest, None),
                (None, Some(&joined)),
                (longest, Some(&joined)),
            ] {
                for s in [None, Some(&searcher)] {
                    assert_eq!(
                        occurs_in_public(c, s, &command, &policy, &state, known),
                        want,
                        "{c:?}, {known:?}, searcher {}",
                        s.is_some()
                    );
                }
            }
            if want {
                hits += 1;
            } else {
                misses += 1;
            }
        }
        assert!(hits > 100 && misses > 20, "{hits} hits, {misses} misses");
    }

    /// What a step kills is noted whether or not it changed the state:
    /// after a step that changed nothing (its `after` not noted again), after
    /// one that killed a session and one that revoked a key, the history is
    /// the whole check's, and holds what is dead.
    #[test]
    fn a_history_notes_the_dead_of_changed_and_unchanged_steps() {
        let mut before = snapshot();
        before.sessions[0].expires_at = ts("2026-05-20T00:00:00Z");
        let steps = [
            // Rejected: nothing changes, the expired session is noted from `before`.
            cmd(json!({"at": T, "op": "logout", "session": "ghost"})),
            cmd(json!({"at": T, "op": "revoke_api_key", "key": "key_1"})),
            cmd(
                json!({"at": T, "op": "login", "session": "s2", "user": "bob",
                       "token": "bobsession1"}),
            ),
            cmd(json!({"at": T, "op": "logout", "session": "s2"})),
        ];
        let (mut changed, mut whole) = (History::default(), History::default());
        let mut pre = History::default();
        let mut state = before;
        for c in steps {
            let s = Owned::new(state, c);
            assert_eq!(s.check(&mut changed), vec![]);
            let output = serde_json::to_string(&s.engine).unwrap();
            let step = Step {
                policy: &s.policy,
                index: 0,
                command: &s.command,
                before: &s.before,
                after: &s.after,
                engine: &s.engine,
                model: &s.model,
                model_after: &s.model_after,
                engine_output: &output,
                output_verified: false,
                diff: None,
                model_diff: None,
                longest_public: None,
                policy_strings: None,
                before_noted: false,
                round_tripped: None,
                secrets: None,
                absent: None,
            };
            assert_eq!(check_step_whole(&mut whole, &step), vec![]);
            assert_eq!(changed, whole);
            // Noted by the caller beforehand: the same history.
            pre.note_before(&s.before, s.command.at);
            let noted = Step {
                before_noted: true,
                ..step
            };
            assert_eq!(check_step(&mut pre, &noted), vec![]);
            assert_eq!(pre, whole);
            state = s.after;
        }
        let ids = |v: &[Id]| v.iter().map(Id::as_str).collect::<Vec<_>>().join(" ");
        let sessions: Vec<Id> = changed
            .dead_sessions
            .iter()
            .map(|(id, _)| id.clone())
            .collect();
        assert_eq!(ids(&sessions), "ses_1 s2");
        assert_eq!(ids(&changed.dead_keys), "key_1");
        // Copied over an empty history and back.
        let mut copy = History::default();
        copy.clone_from(&changed);
        assert_eq!(copy, changed);
        copy.clone_from(&History::default());
        assert_eq!(copy, History::default());
    }

    /// A history rewound after any check is the one it was before: each
    /// kind of note a check makes (a dead session, a dead key, a removed
    /// membership, one restored, a presented token) is undone.
    #[test]
    fn a_rewound_history_is_the_one_before_the_check() {
        let mut before = snapshot();
        before.sessions[0].expires_at = ts("2026-05-20T00:00:00Z");
        // A history with something in every list, built by checks.
        let mut start = History::default();
        let mut state = before;
        for c in [
            json!({"at": T, "op": "login", "session": "s2", "user": "bob",
                   "token": "bobsession1"}),
            json!({"at": T, "op": "remove_member", "user": "bob", "tenant": "acme"}),
            json!({"at": T, "op": "revoke_api_key", "key": "key_1"}),
        ] {
            let s = Owned::new(state, cmd(c));
            assert_eq!(s.check(&mut start), vec![]);
            state = s.after;
        }
        assert!(
            !start.dead_sessions.is_empty()
                && !start.dead_keys.is_empty()
                && !start.removed.is_empty()
                && !start.tokens.is_empty(),
            "{start:?}"
        );
        let mut moved = 0;
        for c in [
            json!({"at": T, "op": "add_member", "user": "bob", "tenant": "acme",
                   "role": "member"}),
            json!({"at": T, "op": "remove_member", "user": "alice", "tenant": "beta"}),
            json!({"at": T, "op": "logout", "session": "s2"}),
            json!({"at": T, "op": "login", "session": "s3", "user": "alice",
                   "token": "alicesession2"}),
            json!({"at": T, "op": "authenticate", "action": "workspace.read",
                   "headers": {"x-api-key": "sk_live_unknown9"}}),
            json!({"at": T, "op": "logout", "session": "ghost"}),
        ] {
            let s = Owned::new(state.clone(), cmd(c));
            let mut h = start.clone();
            let _ = s.check(&mut h);
            moved += usize::from(h != start);
            h.rewind(&start);
            assert_eq!(h, start, "{:?}", s.command.op);
        }
        assert!(moved >= 5, "only {moved} checks noted anything");
    }

    /// A line's [`Absent`] gets each token I9 finds absent from it, not one
    /// it finds, and spares the search for those it holds: a stale list
    /// (one kept for another line) would hide a leak, so this shows it is
    /// read.
    #[test]
    fn i9_searches_a_line_once_per_token() {
        let mut h = History::default();
        let login = Owned::new(
            snapshot(),
            cmd(
                json!({"at": T, "op": "login", "session": "s2", "user": "bob",
                       "token": "bobsecret99"}),
            ),
        );
        login.check(&mut h);
        let auth = Owned::new(snapshot(), key_auth(json!({})));
        let judge = |s: &Owned, h: &History, output: &str, absent: &Absent| {
            let mut h = h.clone();
            let step = Step {
                policy: &s.policy,
                index: 0,
                command: &s.command,
                before: &s.before,
                after: &s.after,
                engine: &s.engine,
                model: &s.model,
                model_after: &s.model_after,
                engine_output: output,
                output_verified: false,
                diff: None,
                model_diff: None,
                longest_public: None,
                policy_strings: None,
                before_noted: false,
                round_tripped: None,
                secrets: None,
                absent: Some(absent),
            };
            let fired: Vec<Invariant> = check_step(&mut h, &step)
                .iter()
                .map(|v| v.invariant)
                .collect();
            fired
        };
        let clean = serde_json::to_string(&auth.engine).unwrap();
        let absent = Absent::default();
        assert_eq!(judge(&auth, &h, &clean, &absent), vec![]);
        // Both tokens, the earlier step's and this one's.
        assert_eq!(absent.0.borrow().len(), 2);
        assert_eq!(judge(&auth, &h, &clean, &absent), vec![]);
        assert_eq!(absent.0.borrow().len(), 2);
        // A line with a token: found, and not kept as absent.
        let mut leaking = Owned::new(snapshot(), key_auth(json!({})));
        leaking.decision().explain = vec!["token bobsecret99".to_string()].into();
        let leaked = serde_json::to_string(&leaking.engine).unwrap();
        let fresh = Absent::default();
        assert_eq!(
            judge(&leaking, &h, &leaked, &fresh),
            vec![Invariant::NoSecretLeakage]
        );
        assert_eq!(fresh.0.borrow().len(), 1);
        // The list is trusted: the clean line's, given with the leaking one,
        // hides the leak. (Callers keep one list per line.)
        assert_eq!(judge(&leaking, &h, &leaked, &absent), vec![]);
        // Full: no more kept.
        let full = Absent::default();
        for i in 0..Absent::CAPACITY + 2 {
            full.add(&Secret::new(&format!("token-{i:04}")));
        }
        assert_eq!(full.0.borrow().len(), Absent::CAPACITY);
        assert!(full.holds(&Secret::new("token-0000")) && !full.holds(&Secret::new("token-0016")));
    }
}
