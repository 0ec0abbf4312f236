//! Loading a snapshot in one pass: each record goes to the state's builder
//! as soon as it is parsed, on a second thread when the input is large.
//!
//! Why: parsing a whole [`Snapshot`] and then building the [`State`] from
//! it writes every record twice, and at a million records the memory the
//! intermediate snapshot touches for the first time is itself a large part
//! of the load (the kernel zeroes each fresh page: docs/PERFORMANCE.md,
//! "Load at 1M"). Here the parser hands records over in batches of
//! [`BATCH`], which the builder consumes while the next batch is parsed:
//! the intermediate memory is a few batches, reused, and on two cores the
//! parse and the build (hash inserts, integrity checks) overlap.
//!
//! Exactness, by construction rather than by care:
//!
//! - The stream reads the same language as [`Snapshot`]'s `Deserialize`
//!   (an object with the seven known keys at most once each, every section
//!   an array of the same record types). On *any* parse error the stream's
//!   result is dropped and the caller parses the two-step way, which reports
//!   the error exactly as before; a parse error therefore still wins over
//!   any integrity error, wherever each is in the file.
//! - Integrity and indexes are the builder's ([`crate::state::Builder`]),
//!   fed in the format's section order: a section that arrives before one
//!   it refers to (`"users"` after `"api_keys"`, or absent until the end)
//!   is held until the sections before it are complete. A file in the
//!   format's own order — what every writer here produces — streams; any
//!   other order loads as before, held in memory.
//! - The one difference is where a section of 2^32 − 1 records is refused
//!   (at that record rather than before the first): unreachable, since such
//!   a file would not fit in memory.
//!
//! Measured (docs/PERFORMANCE.md "Load in one pass"): at 2.7M records the
//! load takes ≈ 4.0–4.4 s on two threads against 5.7–6.4 s the two-step
//! way, and 1.44 GB resident against 1.55; on one thread it costs about
//! what the two-step way does (the tables grow by doubling where the
//! two-step build knew each section's size).
//!
//! Rejected: reserving each section's tables from an estimate (a sample of
//! the section's first records scaled to the bytes left) — a section early
//! in the file is estimated from the whole rest of the file, and the tables
//! of the small sections (tenants, users) reserved at 16M slots touched
//! 400 MB more than they held; parsing sections in parallel (finding where
//! a section starts takes a pass over the JSON, about the cost of the parse
//! it would split);
//! mapping the file instead of reading it (needs `unsafe`, and a file
//! changed by another process while mapped is undefined behaviour); a
//! different JSON parser (the error paths and messages are serde_json's).

use std::{fmt, sync::mpsc};

use serde::{
    de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer as _,
};

use crate::{
    snapshot::{ApiKey, Membership, Resource, Session, Tenant, User},
    state::{Builder, Capacity},
    Error, State, Timestamp,
};

/// Records per batch handed from the parser to the builder: large enough
/// that the hand-over (a channel send) is noise, small enough that a batch
/// of API keys (≈ 260 KB) stays in the cache and is reused by the allocator.
const BATCH: usize = 1024;

/// Inputs below this many bytes load on the calling thread: a thread costs
/// tens of microseconds, a 1 MB parse about ten milliseconds.
const PARALLEL_MIN: usize = 1 << 20;

/// The sections, in the snapshot format's order.
const SECTIONS: usize = 6;

/// Loads `bytes` as a snapshot on up to `threads` threads (1: the calling
/// thread only; more: one more thread for the builder when the input is
/// large). `None` when the bytes do not parse as a snapshot: the caller
/// then reports the error the two-step way.
pub(super) fn snapshot(bytes: &[u8], threads: usize) -> Option<Result<State, Error>> {
    if threads < 2 || bytes.len() < PARALLEL_MIN {
        let mut asm = Assembler::default();
        let taken_at = parse(bytes, &mut asm).ok()?;
        return Some(asm.finish(taken_at));
    }
    std::thread::scope(|scope| {
        // A few batches in flight: enough to absorb the jitter between the
        // two sides, few enough that the batches stay hot. Emptied batches
        // go back to the parser to be filled again.
        let (tx, rx) = mpsc::sync_channel::<Piece>(IN_FLIGHT);
        let (back, spares) = mpsc::sync_channel::<Piece>(IN_FLIGHT);
        let builder = scope.spawn(move || {
            let mut asm = Assembler::default();
            for p in rx {
                asm.feed(p);
                for empty in asm.spares.drain(..) {
                    // Full: the parser has spares enough; this one is freed.
                    let _ = back.try_send(empty);
                }
            }
            asm
        });
        let parsed = parse(bytes, &mut Channel { tx, spares });
        let asm = builder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Some(asm.finish(parsed.ok()?))
    })
}

/// Batches sent to the builder and not yet built, at most.
const IN_FLIGHT: usize = 4;

/// Where the parser's batches go.
trait Sink {
    fn send(&mut self, p: Piece);
    /// A built batch, emptied, to fill again (any section's: one of
    /// another section is dropped).
    fn spare(&mut self) -> Option<Piece>;
}

/// The builder on another thread.
struct Channel {
    tx: mpsc::SyncSender<Piece>,
    spares: mpsc::Receiver<Piece>,
}

impl Sink for Channel {
    fn send(&mut self, p: Piece) {
        // Fails only if the builder thread is gone, which it is only by a
        // panic, re-raised when it is joined.
        let _ = self.tx.send(p);
    }

    fn spare(&mut self) -> Option<Piece> {
        self.spares.try_recv().ok()
    }
}

/// The builder on the parser's own thread.
impl Sink for Assembler {
    fn send(&mut self, p: Piece) {
        self.feed(p);
    }

    fn spare(&mut self) -> Option<Piece> {
        self.spares.pop()
    }
}

/// Parses the snapshot object, handing every record to `sink` in input
/// order; returns `taken_at`.
fn parse(bytes: &[u8], sink: &mut dyn Sink) -> serde_json::Result<Option<Timestamp>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let taken_at = (&mut de).deserialize_map(Top { sink })?;
    de.end()?;
    Ok(taken_at)
}

/// A batch of records of one section, with the index of its first record;
/// or the end of a section.
#[derive(Debug)]
enum Piece {
    Tenants(usize, Vec<Tenant>),
    Users(usize, Vec<User>),
    Memberships(usize, Vec<Membership>),
    ApiKeys(usize, Vec<ApiKey>),
    Sessions(usize, Vec<Session>),
    Resources(usize, Vec<Resource>),
    End(usize),
}

impl Piece {
    fn section(&self) -> usize {
        match self {
            Piece::Tenants(..) => 0,
            Piece::Users(..) => 1,
            Piece::Memberships(..) => 2,
            Piece::ApiKeys(..) => 3,
            Piece::Sessions(..) => 4,
            Piece::Resources(..) => 5,
            Piece::End(k) => *k,
        }
    }
}

/// A record type of a section.
trait Record: DeserializeOwned {
    const SECTION: usize;
    fn piece(first: usize, batch: Vec<Self>) -> Piece;
    /// The batch of a piece of this section.
    fn batch(p: Piece) -> Option<Vec<Self>>;
}

macro_rules! record {
    ($($t:ty => $variant:ident, $k:expr;)*) => {$(
        impl Record for $t {
            const SECTION: usize = $k;
            fn piece(first: usize, batch: Vec<Self>) -> Piece {
                Piece::$variant(first, batch)
            }
            fn batch(p: Piece) -> Option<Vec<Self>> {
                match p {
                    Piece::$variant(_, batch) => Some(batch),
                    _ => None,
                }
            }
        }
    )*};
}

record! {
    Tenant => Tenants, 0;
    User => Users, 1;
    Membership => Memberships, 2;
    ApiKey => ApiKeys, 3;
    Session => Sessions, 4;
    Resource => Resources, 5;
}

/// The snapshot's keys, as [`Snapshot`](crate::Snapshot) names them.
#[derive(Clone, Copy, Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    // The sections first, in the format's order: a section's number.
    Tenants,
    Users,
    Memberships,
    ApiKeys,
    Sessions,
    Resources,
    TakenAt,
}

/// The snapshot object.
struct Top<'s> {
    sink: &'s mut dyn Sink,
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Option<Timestamp>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a snapshot object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = [false; SECTIONS + 1];
        let mut taken_at = None;
        while let Some(field) = map.next_key::<Field>()? {
            if std::mem::replace(&mut seen[field as usize], true) {
                return Err(de::Error::custom("duplicate field"));
            }
            let sink = &mut *self.sink;
            match field {
                Field::TakenAt => taken_at = map.next_value::<Option<Timestamp>>()?,
                Field::Tenants => map.next_value_seed(Section::<Tenant>::new(sink))?,
                Field::Users => map.next_value_seed(Section::<User>::new(sink))?,
                Field::Memberships => map.next_value_seed(Section::<Membership>::new(sink))?,
                Field::ApiKeys => map.next_value_seed(Section::<ApiKey>::new(sink))?,
                Field::Sessions => map.next_value_seed(Section::<Session>::new(sink))?,
                Field::Resources => map.next_value_seed(Section::<Resource>::new(sink))?,
            }
        }
        Ok(taken_at)
    }
}

/// One section's array, handed on in batches, then its end.
struct Section<'s, T> {
    sink: &'s mut dyn Sink,
    _record: std::marker::PhantomData<T>,
}

impl<'s, T> Section<'s, T> {
    fn new(sink: &'s mut dyn Sink) -> Self {
        Section {
            sink,
            _record: std::marker::PhantomData,
        }
    }
}

impl<'de, T: Record> DeserializeSeed<'de> for Section<'_, T> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Record> Visitor<'de> for Section<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let sink = self.sink;
        fn fresh<T: Record>(sink: &mut dyn Sink) -> Vec<T> {
            let spare = sink.spare().and_then(T::batch);
            spare.unwrap_or_else(|| Vec::with_capacity(BATCH))
        }
        let mut first = 0;
        let mut batch = fresh(sink);
        while let Some(record) = seq.next_element::<T>()? {
            batch.push(record);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, fresh(sink));
                sink.send(T::piece(first, full));
                first += BATCH;
            }
        }
        if !batch.is_empty() {
            sink.send(T::piece(first, batch));
        }
        sink.send(Piece::End(T::SECTION));
        Ok(())
    }
}

/// The builder's side: builds pieces in the format's section order,
/// holding any that arrive before the sections they follow are complete,
/// and keeps the first integrity error (later pieces are then dropped).
#[derive(Default)]
struct Assembler {
    builder: Option<Builder>,
    /// Pieces not built yet, per section.
    held: [Vec<Piece>; SECTIONS],
    /// Sections whose end the parser has reached.
    ended: [bool; SECTIONS],
    /// Sections fully built.
    built: [bool; SECTIONS],
    /// Built batches, emptied, for the parser to fill again.
    spares: Vec<Piece>,
    error: Option<Error>,
}

impl Assembler {
    fn feed(&mut self, p: Piece) {
        match p {
            Piece::End(k) => self.ended[k] = true,
            p => self.held[p.section()].push(p),
        }
        self.advance();
    }

    /// Builds what can be: the held pieces of the first section not built
    /// yet, and of the next ones as each ends.
    fn advance(&mut self) {
        for k in 0..SECTIONS {
            if self.built[k] {
                continue;
            }
            for p in std::mem::take(&mut self.held[k]) {
                self.build(p);
            }
            if !self.ended[k] {
                break;
            }
            self.built[k] = true;
        }
    }

    fn build(&mut self, mut p: Piece) {
        if self.error.is_some() {
            return;
        }
        let b = self
            .builder
            .get_or_insert_with(|| Builder::new(None, Capacity::default()));
        // Each leaves the batch empty, for reuse.
        let r = match &mut p {
            Piece::Tenants(i, v) => b.tenants(*i, v),
            Piece::Users(i, v) => b.users(*i, v),
            Piece::Memberships(i, v) => b.memberships(*i, v),
            Piece::ApiKeys(i, v) => b.api_keys(*i, v),
            Piece::Sessions(i, v) => b.sessions(*i, v),
            Piece::Resources(i, v) => b.resources(*i, v),
            Piece::End(_) => return,
        };
        if let Err(e) = r {
            self.error = Some(e);
        } else if self.spares.len() < IN_FLIGHT {
            self.spares.push(p);
        }
    }

    /// The state, once the parser has read the whole snapshot: sections it
    /// never met are empty.
    fn finish(mut self, taken_at: Option<Timestamp>) -> Result<State, Error> {
        self.ended = [true; SECTIONS];
        self.advance();
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut b = self
            .builder
            .unwrap_or_else(|| Builder::new(None, Capacity::default()));
        b.set_taken_at(taken_at);
        Ok(b.finish())
    }
}

impl fmt::Debug for Assembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assembler")
            .field("ended", &self.ended)
            .field("built", &self.built)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::{parse_snapshot, snapshot_on};
    use super::PARALLEL_MIN;
    use crate::{Error, State, TokenHash};

    /// The load before streaming: parse a whole snapshot, then build.
    fn two_step(bytes: &[u8]) -> Result<State, Error> {
        let s = parse_snapshot(bytes, "s.json")?;
        State::from_snapshot(s).map_err(|e| e.in_file("s.json", None))
    }

    fn outcome(r: Result<State, Error>) -> String {
        match r {
            Ok(st) => serde_json::to_string(&st.to_snapshot()).expect("serializes"),
            Err(e) => format!("error: {e}"),
        }
    }

    /// Loads `bytes` the two-step way and streamed on 1 and 2 threads:
    /// the same state, or the same error word for word.
    fn agree(bytes: &[u8]) -> String {
        let want = outcome(two_step(bytes));
        // The stream itself, not its fallback: it reads every input the
        // format's parser reads (and only those), so the one-pass load is
        // what a valid file gets.
        let parses = parse_snapshot(bytes, "s.json").is_ok();
        for threads in [1, 2] {
            let streamed = super::snapshot(bytes, threads);
            assert_eq!(streamed.is_some(), parses, "{threads} thread(s)");
            if let Some(r) = streamed {
                let got = outcome(r.map_err(|e| e.in_file("s.json", None)));
                assert!(got == want, "{threads} thread(s), the stream alone");
            }
        }
        for threads in [1, 2] {
            let got = outcome(snapshot_on(bytes, "s.json", threads));
            assert!(
                got == want,
                "{threads} thread(s): {}\nwant: {}",
                &got[..got.len().min(300)],
                &want[..want.len().min(300)]
            );
        }
        want
    }

    /// A deterministic PRNG (xorshift64*): the cases are the same every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }

        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.below(xs.len())]
        }
    }

    const SECTIONS: [&str; 6] = [
        "tenants",
        "users",
        "memberships",
        "api_keys",
        "sessions",
        "resources",
    ];

    /// The snapshot object with its keys in the order given (`serde_json`'s
    /// own map would sort them).
    fn render(parts: &[(&str, Value)]) -> Vec<u8> {
        let body: Vec<String> = parts
            .iter()
            .map(|(k, v)| format!("{}:{}", json!(k), v))
            .collect();
        format!("{{{}}}", body.join(",")).into_bytes()
    }

    /// Records over a universe of a few ids each, so duplicates, dangling
    /// references, shared tokens and reversed times all happen.
    fn small(rng: &mut Rng) -> Vec<(&'static str, Value)> {
        let at = ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"];
        let (tenants, users) = (["t1", "t2", "t3"], ["u1", "u2", "u3"]);
        // A reference: to nothing now and then.
        let refer = |rng: &mut Rng, ids: &[&'static str]| match rng.below(12) {
            0 => "nobody",
            _ => rng.pick(ids),
        };
        let token = |rng: &mut Rng| {
            TokenHash::of(rng.pick(&["a/+=%", "b", "c", "d", "e", "f", "g"])).to_string()
        };
        let section = |name: &str, rng: &mut Rng| -> Value {
            // Every tenant and user, now and then one twice.
            let n = match name {
                "tenants" | "users" => 3 + usize::from(rng.below(8) == 0),
                _ => rng.below(3),
            };
            let records = (0..n).map(|i| match name {
                "tenants" => {
                    json!({"id": tenants.get(i).copied().unwrap_or_else(|| rng.pick(&tenants)),
                    "suspended": rng.below(2) == 0})
                }
                "users" => json!({"id": users.get(i).copied().unwrap_or_else(|| rng.pick(&users))}),
                "memberships" => json!({"user": refer(rng, &users), "tenant": refer(rng, &tenants),
                    "role": rng.pick(&["owner", "member"])}),
                "api_keys" => {
                    json!({"id": rng.pick(&["k1", "k2", "k3"]), "owner": refer(rng, &users),
                    "tenant": (rng.below(2) == 0).then(|| refer(rng, &tenants)),
                    "token_sha256": token(rng), "created_at": rng.pick(&at)})
                }
                "sessions" => {
                    json!({"id": rng.pick(&["s1", "s2", "s3"]), "user": refer(rng, &users),
                    "tenant": refer(rng, &tenants), "token_sha256": token(rng),
                    "created_at": rng.pick(&at), "expires_at": rng.pick(&at)})
                }
                _ => json!({"tenant": refer(rng, &tenants), "id": rng.pick(&["r1", "r2"]),
                    "owner": refer(rng, &users)}),
            });
            Value::Array(records.collect())
        };
        SECTIONS
            .iter()
            .map(|&name| (name, section(name, rng)))
            .collect()
    }

    /// The sections shuffled, some dropped, sometimes `taken_at`, a
    /// repeated or unknown key, or a syntax error.
    fn arrange(rng: &mut Rng, mut parts: Vec<(&'static str, Value)>) -> Vec<u8> {
        if rng.below(2) == 0 {
            for i in (1..parts.len()).rev() {
                parts.swap(i, rng.below(i + 1));
            }
        }
        parts.retain(|_| rng.below(6) != 0);
        match rng.below(12) {
            0 => parts.push(("taken_at", json!("2026-03-01T00:00:00Z"))),
            1 => parts.push(("taken_at", Value::Null)),
            2 => parts.push(("extra", json!([]))),
            3 if !parts.is_empty() => {
                let again = parts[rng.below(parts.len())].clone();
                parts.push(again);
            }
            4 => parts.push(("users", Value::Null)),
            _ => {}
        }
        let mut bytes = render(&parts);
        match rng.below(10) {
            0 => bytes.push(b','),
            1 => {
                let cut = rng.below(bytes.len());
                bytes.truncate(cut);
            }
            _ => {}
        }
        bytes
    }

    #[test]
    fn streamed_small_snapshots_load_as_the_two_step_way() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut loaded, mut refused) = (0, 0);
        for _ in 0..3000 {
            let parts = small(&mut rng);
            let bytes = arrange(&mut rng, parts);
            if agree(&bytes).starts_with("error") {
                refused += 1;
            } else {
                loaded += 1;
            }
        }
        // Both kinds, in numbers: the generator is not stuck on one.
        assert!(
            loaded > 300 && refused > 300,
            "{loaded} loaded, {refused} refused"
        );
        for text in [
            &b"[]"[..],
            b"{}",
            b"null",
            b"{\"tenants\": {}}",
            b"[{\"id\": \"t\"}]",
            include_bytes!("../../../examples/snapshot.json"),
        ] {
            agree(text);
        }
    }

    /// Over 1 MiB: parsed and built on two threads, with the one fault
    /// planted anywhere — a late section order, a duplicate deep inside, a
    /// cut — and still the two-step outcome.
    #[test]
    fn streamed_large_snapshots_load_as_the_two_step_way() {
        let at = "2026-01-01T00:00:00Z";
        let n = 3000;
        let parts: Vec<(&str, Value)> = vec![
            ("tenants", (0..100).map(|i| json!({"id": format!("t{i}")})).collect()),
            ("users", (0..n).map(|i| json!({"id": format!("u{i}")})).collect()),
            (
                "memberships",
                (0..n)
                    .map(|i| json!({"user": format!("u{i}"), "tenant": format!("t{}", i % 100), "role": "member"}))
                    .collect(),
            ),
            (
                "api_keys",
                (0..n)
                    .map(|i| json!({"id": format!("k{i}"), "owner": format!("u{i}"),
                        "tenant": format!("t{}", i % 100), "created_at": at,
                        "token_sha256": TokenHash::of(&format!("k/{i}")).to_string()}))
                    .collect(),
            ),
            (
                "sessions",
                (0..n)
                    .map(|i| json!({"id": format!("s{i}"), "user": format!("u{i}"),
                        "created_at": at, "expires_at": at,
                        "token_sha256": TokenHash::of(&format!("s+{i}")).to_string()}))
                    .collect(),
            ),
            (
                "resources",
                (0..n)
                    .map(|i| json!({"tenant": format!("t{}", i % 100), "id": format!("r{i}"), "owner": format!("u{i}")}))
                    .collect(),
            ),
        ];
        let whole = render(&parts);
        assert!(whole.len() > PARALLEL_MIN, "{} bytes", whole.len());
        assert!(!agree(&whole).starts_with("error"));

        let mut rng = Rng(7);
        for case in 0..8 {
            let mut v = parts.clone();
            let s = 1 + rng.below(5);
            let len = v[s].1.as_array().unwrap().len();
            let (i, j) = (rng.below(len), rng.below(len));
            let records = v[s].1.as_array_mut().unwrap();
            match case % 4 {
                // A record repeated far from the first: a duplicate.
                0 => records[i] = records[j].clone(),
                // A reference to nothing.
                1 => {
                    let key = ["user", "owner", "tenant"]
                        .into_iter()
                        .find(|k| records[i].get(*k).is_some())
                        .unwrap_or("id");
                    records[i][key] = json!("nobody");
                }
                // A section moved after the ones that refer to it.
                2 => {
                    let moved = v.remove(rng.below(3));
                    v.push(moved);
                }
                // Both a fault and a later syntax error: the syntax error
                // is what is reported.
                _ => records[i] = json!({"id": "x", "user": 1}),
            }
            let bytes = render(&v);
            let result = agree(&bytes);
            let cut = &bytes[..bytes.len() - 1 - rng.below(1000)];
            agree(cut);
            if case % 4 == 2 {
                assert!(!result.starts_with("error"), "reordered: {result:.200}");
            } else if case % 4 == 3 {
                assert!(result.starts_with("error"), "case {case}");
            }
        }
    }
}
