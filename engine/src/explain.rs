//! The explanation of a decision (SPEC §7 `explain`), recorded while the
//! decision runs and written as text only when an output asks for it.
//!
//! The decision procedure records *what it established* — the rule, where
//! the credential came from, the record, the tenant, the membership, the
//! resource, the reason — as small notes: timestamps, kinds, the 4-byte
//! hash prefix, and the few strings that are not already in the
//! [`Decision`] (a role, a cookie name). The lines are rendered from these
//! notes *and the decision's own fields* (action, user, credential, tenant,
//! scope, effects), so an allow or a deny formats nothing and copies no id
//! twice. The rendered text is byte for byte what the engine used to format
//! eagerly (tested over a generated corpus of every class).
//!
//! The strings a note keeps (the rule's roles and capability, the
//! policy's header or cookie name, a role, a key's capabilities) are
//! copied into one buffer per decision, [`Text`], inline up to
//! [`Text::INLINE`] bytes, and the notes hold their positions in it. The
//! alternative, a fixed inline slot per string (38 bytes each, three per
//! list, zeroed and copied whether used or not), made the notes 640 of the
//! decision's 832 bytes and cost ≈ 500 instructions per decision to build,
//! move and drop (docs/PERFORMANCE.md "One text buffer for the notes").
//! Sharing the policy's strings instead (an `Arc` per rule) would change
//! the public `Policy` types.
//!
//! Because the lines read the decision's fields, a caller that changes
//! those fields on an engine-made decision and wants the engine's words
//! kept calls [`Decision::freeze_explain`] first.

use std::fmt::{self, Write};

use serde::{Deserialize, Deserializer};

use crate::{
    credential::Malformed, signed::Signature, CredentialKind, Decision, EmptyCapabilities, Id,
    Reason, TenantRule, Timestamp,
};

/// What a decision established, rendered as the lines of `explain` by
/// [`Decision::explain_lines`] (and in a decision's JSON). Lines given as
/// text ([`From<Vec<String>>`](Explain::from), [`Explain::push`], or read
/// from JSON) follow the recorded ones.
#[derive(Clone, Debug, Default)]
pub struct Explain {
    pub(crate) steps: Steps,
    text: Vec<String>,
}

impl Explain {
    /// The explanation the decision procedure recorded.
    pub(crate) fn of_steps(steps: Steps) -> Explain {
        Explain {
            steps,
            text: Vec::new(),
        }
    }

    /// Appends a line of text after every other line.
    pub fn push(&mut self, line: String) {
        self.text.push(line);
    }

    /// Whether it renders no line at all.
    pub fn is_empty(&self) -> bool {
        self.steps == Steps::default() && self.text.is_empty()
    }

    /// Same notes and text: then two decisions with equal fields render
    /// the same lines (the converse does not hold).
    pub(crate) fn same_notes(&self, other: &Explain) -> bool {
        self.steps == other.steps && self.text == other.text
    }

    /// Hashes what [`Explain::same_notes`] compares.
    pub(crate) fn hash_notes<H: std::hash::Hasher>(&self, h: &mut H) {
        std::hash::Hash::hash(&self.steps, h);
        std::hash::Hash::hash(&self.text, h);
    }

    /// Calls `line` with every line, in order; `buf` is reused.
    pub(crate) fn for_each_line<E>(
        &self,
        d: &Decision,
        mut line: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut buf = String::with_capacity(160);
        let s = &self.steps;
        let mut emit = |buf: &mut String, write: &dyn Fn(&mut String) -> fmt::Result| {
            buf.clear();
            write(buf).expect("writing to a String cannot fail");
            line(buf)
        };
        if let Some(rule) = &s.rule {
            emit(&mut buf, &|b| rule.write(b, d, &s.text))?;
        }
        if let Some(c) = &s.credential {
            emit(&mut buf, &|b| c.write(b, &s.text))?;
        }
        if let Some(r) = &s.record {
            emit(&mut buf, &|b| r.write(b, d))?;
        }
        if let Some(t) = &s.tenant {
            emit(&mut buf, &|b| t.write(b, d))?;
        }
        if let Some(m) = &s.member {
            emit(&mut buf, &|b| m.write(b, d, &s.text))?;
        }
        if let Some(r) = &s.resource {
            emit(&mut buf, &|b| r.write(b, d))?;
        }
        match &s.end {
            Some(End::Allow) => {
                for e in &d.effects {
                    let crate::Effect::ExtendSession {
                        session,
                        expires_at,
                    } = e;
                    emit(&mut buf, &|b| {
                        write!(
                            b,
                            "sliding refresh: session {session:?} now expires at {expires_at}"
                        )
                    })?;
                }
                emit(&mut buf, &|b| write!(b, "allow: scope {:?}", d.scope))?;
            }
            Some(End::Deny(reason, why)) => {
                emit(&mut buf, &|b| {
                    b.push_str("deny ");
                    b.push_str(reason.code());
                    b.push_str(": ");
                    why.write(b, d, s)
                })?;
            }
            None => {}
        }
        for t in &self.text {
            line(t)?;
        }
        Ok(())
    }
}

impl From<Vec<String>> for Explain {
    fn from(text: Vec<String>) -> Explain {
        Explain {
            steps: Steps::default(),
            text,
        }
    }
}

impl<'de> Deserialize<'de> for Explain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Explain::from)
    }
}

/// The notes, one per line, in the order the lines are written (SPEC §6
/// step order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Steps {
    pub(crate) rule: Option<RuleNote>,
    pub(crate) credential: Option<CredentialNote>,
    pub(crate) record: Option<RecordNote>,
    pub(crate) tenant: Option<TenantNote>,
    pub(crate) member: Option<MemberNote>,
    pub(crate) resource: Option<ResourceNote>,
    pub(crate) end: Option<End>,
    /// The key's capabilities, for a `missing_capability` line (here
    /// rather than in [`Why`], which step 2 returns and should stay small).
    pub(crate) capabilities: Option<Words>,
    /// The strings the notes above name.
    pub(crate) text: Text,
}

/// The credential kinds of a rule, kept inline for the usual one or two.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kinds {
    Inline(u8, [CredentialKind; 2]),
    Many(Vec<CredentialKind>),
}

impl Kinds {
    pub(crate) fn of(kinds: &[CredentialKind]) -> Kinds {
        match *kinds {
            [] => Kinds::Inline(0, [CredentialKind::ApiKey; 2]),
            [a] => Kinds::Inline(1, [a, a]),
            [a, b] => Kinds::Inline(2, [a, b]),
            _ => Kinds::Many(kinds.to_vec()),
        }
    }

    fn as_slice(&self) -> &[CredentialKind] {
        match self {
            Kinds::Inline(n, k) => &k[..usize::from(*n)],
            Kinds::Many(v) => v,
        }
    }
}

/// The strings of one decision's notes, one after another: inline up to
/// [`Text::INLINE`] bytes (the bench policy's decisions need at most 60),
/// on the heap beyond. A list is stored as each word's length (4 bytes,
/// little-endian) followed by the word. Written by hand rather than as a
/// `SmallVec<[u8; _]>`, whose `extend_from_slice` (a general insert) cost
/// three times the copy.
#[derive(Clone)]
pub(crate) struct Text {
    len: u32,
    inline: [u8; Text::INLINE],
    /// Every byte once `inline` overflows; empty until then.
    heap: Vec<u8>,
}

impl Default for Text {
    fn default() -> Text {
        Text {
            len: 0,
            inline: [0; Text::INLINE],
            heap: Vec::new(),
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Text {}

/// What `==` compares: the bytes written, not the spare inline ones.
impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.bytes().hash(h);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.bytes()), f)
    }
}

impl Text {
    const INLINE: usize = 96;

    fn bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.inline[..self.len as usize]
        } else {
            &self.heap
        }
    }

    fn push(&mut self, b: &[u8]) {
        let len = self.len as usize;
        if self.heap.is_empty() {
            if let Some(to) = self.inline.get_mut(len..len + b.len()) {
                to.copy_from_slice(b);
                self.len += b.len() as u32;
                return;
            }
            self.heap.reserve(len + b.len());
            self.heap.extend_from_slice(&self.inline[..len]);
        }
        self.heap.extend_from_slice(b);
        self.len += b.len() as u32;
    }

    /// Copies `s` in.
    pub(crate) fn word(&mut self, s: &str) -> Word {
        let start = self.len;
        if !s.is_empty() {
            self.push(s.as_bytes());
        }
        Word {
            start,
            len: s.len() as u32,
        }
    }

    /// Copies a list of strings in.
    pub(crate) fn words<S: AsRef<str>>(&mut self, list: &[S]) -> Words {
        let start = self.len;
        for w in list {
            let w = w.as_ref().as_bytes();
            self.push(&(w.len() as u32).to_le_bytes());
            self.push(w);
        }
        Words {
            start,
            count: list.len() as u32,
        }
    }

    fn str(&self, w: Word) -> &str {
        let at = w.start as usize;
        std::str::from_utf8(&self.bytes()[at..at + w.len as usize]).expect("copied from a str")
    }

    fn list(&self, w: Words) -> impl Iterator<Item = &str> {
        let bytes = self.bytes();
        let mut at = w.start as usize;
        (0..w.count).map(move |_| {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
            let word = &bytes[at + 4..at + 4 + len as usize];
            at += 4 + len as usize;
            std::str::from_utf8(word).expect("copied from a str")
        })
    }

    /// A list as `Debug` prints a `Vec<String>`.
    fn debug_list(&self, w: Words) -> impl fmt::Debug + '_ {
        struct L<'a>(&'a Text, Words);
        impl fmt::Debug for L<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.list(self.1)).finish()
            }
        }
        L(self, w)
    }
}

/// A string of the decision's [`Text`] (a role, a capability, a header or
/// cookie name of the policy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Word {
    start: u32,
    len: u32,
}

impl Word {
    fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// A list of strings of the decision's [`Text`] (a rule's roles, a key's
/// capabilities).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Words {
    start: u32,
    count: u32,
}

impl Words {
    fn is_empty(self) -> bool {
        self.count == 0
    }
}

/// Step 0 passed: the action's rule. The action is the decision's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RuleNote {
    pub(crate) at: Timestamp,
    pub(crate) credentials: Kinds,
    pub(crate) tenant: TenantRule,
    pub(crate) roles: Words,
    pub(crate) capability: Word,
    pub(crate) resource: bool,
    pub(crate) owner_only: bool,
}

impl RuleNote {
    fn write(&self, s: &mut String, d: &Decision, text: &Text) -> fmt::Result {
        write!(s, "at {}, action {:?}: credentials [", self.at, d.action)?;
        for (i, c) in self.credentials.as_slice().iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            write!(s, "{:?}", c.as_str())?;
        }
        s.push_str("], tenant ");
        s.push_str(match self.tenant {
            TenantRule::Required => "required",
            TenantRule::Optional => "optional",
        });
        if !self.roles.is_empty() {
            write!(s, ", roles {:?}", text.debug_list(self.roles))?;
        }
        if !self.capability.is_empty() {
            write!(s, ", capability {:?}", text.str(self.capability))?;
        }
        if self.resource {
            s.push_str(", resource required");
        }
        if self.owner_only {
            s.push_str(", owner only");
        }
        Ok(())
    }
}

/// Where a credential came from, as the explanation names it: the header
/// or cookie name is the policy's, so it is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ChannelName {
    Header(Word),
    Cookie(Word),
    Bearer,
}

impl ChannelName {
    fn show(self, text: &Text) -> impl fmt::Display + '_ {
        struct C<'a>(ChannelName, &'a Text);
        impl fmt::Display for C<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    ChannelName::Header(h) => write!(f, "header {}", self.1.str(h)),
                    ChannelName::Cookie(c) => write!(f, "cookie {}", self.1.str(c)),
                    ChannelName::Bearer => f.write_str("authorization: Bearer"),
                }
            }
        }
        C(self, text)
    }
}

/// Step 1 found a token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CredentialNote {
    pub(crate) kind: CredentialKind,
    pub(crate) channel: ChannelName,
    /// The first 4 bytes of the token's SHA-256: the most output shows.
    pub(crate) short: [u8; 4],
    pub(crate) signature: Option<Signature>,
}

impl CredentialNote {
    fn write(&self, s: &mut String, text: &Text) -> fmt::Result {
        write!(
            s,
            "credential: {} from {}, token sha256 ",
            self.kind.as_str(),
            self.channel.show(text)
        )?;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for b in self.short {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        if let Some(signature) = self.signature {
            s.push_str(" (signed: ");
            s.push_str(signature.describe());
            s.push(')');
        }
        Ok(())
    }
}

/// A key's tenant in its record line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyTenant {
    /// A legacy key, bound to none.
    None,
    /// The decision's tenant (the usual case: not copied).
    Decision,
    Other(Id),
}

/// Step 2 found the record (the credential and user are the decision's).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RecordNote {
    ApiKey(KeyTenant),
    Session { expires_at: Timestamp },
}

fn id_or_unknown(id: Option<&Id>) -> &str {
    id.map_or("?", Id::as_str)
}

/// `{:?}` of an id the decision should hold.
struct Quoted<'a>(Option<&'a Id>);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => fmt::Debug::fmt(id, f),
            None => fmt::Debug::fmt(id_or_unknown(None), f),
        }
    }
}

fn user(d: &Decision) -> Quoted<'_> {
    Quoted(d.user.as_ref())
}

fn credential(d: &Decision) -> Quoted<'_> {
    Quoted(d.credential.as_ref().map(|c| &c.id))
}

fn tenant(d: &Decision) -> Quoted<'_> {
    Quoted(d.tenant.as_ref())
}

impl RecordNote {
    fn write(&self, s: &mut String, d: &Decision) -> fmt::Result {
        match self {
            RecordNote::ApiKey(KeyTenant::None) => write!(
                s,
                "api key {} (owner {}, tenant none: legacy)",
                credential(d),
                user(d)
            ),
            RecordNote::ApiKey(t) => {
                let t = match t {
                    KeyTenant::Other(t) => Quoted(Some(t)),
                    _ => tenant(d),
                };
                write!(
                    s,
                    "api key {} (owner {}, tenant {t})",
                    credential(d),
                    user(d)
                )
            }
            RecordNote::Session { expires_at } => write!(
                s,
                "session {} of user {}, expires at {expires_at}",
                credential(d),
                user(d)
            ),
        }
    }
}

/// Step 4: how the tenant was found (the tenant is the decision's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TenantNote {
    /// A legacy key bound to its owner's oldest membership.
    Legacy,
    /// A session, the tenant the request names.
    Named,
    /// A session, its active tenant.
    Active,
    /// No tenant and the action needs none.
    NotNeeded,
}

impl TenantNote {
    fn write(self, s: &mut String, d: &Decision) -> fmt::Result {
        match self {
            TenantNote::Legacy => write!(
                s,
                "legacy key {} bound to its owner's oldest membership {} (api_key.unbound = \"oldest_membership\")",
                credential(d),
                tenant(d)
            ),
            TenantNote::Named => write!(s, "tenant {} as the request names it", tenant(d)),
            TenantNote::Active => write!(s, "tenant {}: the session's active tenant", tenant(d)),
            TenantNote::NotNeeded => s.write_str("no tenant; the action does not require one"),
        }
    }
}

/// Step 5: the user's membership in the decision's tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MemberNote {
    pub(crate) role: Word,
    pub(crate) since: Timestamp,
}

impl MemberNote {
    fn write(&self, s: &mut String, d: &Decision, text: &Text) -> fmt::Result {
        write!(
            s,
            "{} is a member of {} as {:?} since {}",
            user(d),
            tenant(d),
            text.str(self.role),
            self.since
        )
    }
}

/// Step 8 found the resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ResourceNote {
    pub(crate) id: Id,
    /// `None`: the decision's tenant.
    pub(crate) tenant: Option<Id>,
    pub(crate) owner: Id,
}

impl ResourceNote {
    fn write(&self, s: &mut String, d: &Decision) -> fmt::Result {
        let t = match &self.tenant {
            Some(t) => Quoted(Some(t)),
            None => tenant(d),
        };
        write!(
            s,
            "resource {:?} of tenant {t}, owner {:?}",
            self.id, self.owner
        )
    }
}

/// How the decision ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum End {
    /// `allow: scope [...]`, after a line per effect (the decision's).
    Allow,
    /// `deny <reason>: <why>`.
    Deny(Reason, Why),
}

/// Why a deny, with what its line names that the decision does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Why {
    UnknownAction,
    NoCredential,
    Ambiguous(usize),
    Malformed(ChannelName, Malformed),
    Unmatched(ChannelName),
    NoApiKey,
    KeyCreatedLater {
        created_at: Timestamp,
        at: Timestamp,
    },
    KeyDeleted(Timestamp),
    KeyRevoked(Timestamp),
    KeyDisabled,
    KeyExpired(Timestamp),
    NoSession,
    SessionCreatedLater {
        created_at: Timestamp,
        at: Timestamp,
    },
    SessionRevoked(Timestamp),
    SessionExpired(Timestamp),
    UserBanned,
    CredentialNotAllowed(CredentialKind),
    /// F12 only.
    NoMembership,
    Unbound,
    LegacyNoMembership(Timestamp),
    CrossTenant {
        asked: Id,
    },
    TenantRequired,
    NotAMember(Timestamp),
    TenantSuspended,
    InsufficientRole(Word),
    /// The key's capabilities are in [`Steps::capabilities`].
    MissingCapability(EmptyCapabilities),
    NoResourceNamed,
    ResourceNotFound {
        id: Id,
        at: Timestamp,
    },
    ResourceNoTenant(Id),
    NotResourceOwner {
        id: Id,
        tenant: Id,
        owner: Id,
    },
}

impl Why {
    fn write(&self, s: &mut String, d: &Decision, steps: &Steps) -> fmt::Result {
        let text = &steps.text;
        let rule = steps.rule.as_ref();
        let roles = text.debug_list(rule.map_or(Words::default(), |r| r.roles));
        let capability = rule.map_or("", |r| text.str(r.capability));
        match self {
            Why::UnknownAction => write!(s, "action {:?} is not defined by the policy", d.action),
            Why::NoCredential => {
                s.write_str("no API-key header, session cookie or authorization header")
            }
            Why::Ambiguous(n) => write!(
                s,
                "{n} credentials presented and credentials.multiple = \"deny\""
            ),
            Why::Malformed(channel, why) => write!(
                s,
                "{}: {why} (no fallback to a later credential)",
                channel.show(text)
            ),
            Why::Unmatched(channel) => write!(
                s,
                "{} carries the whole header value as the API key, not the presented token",
                channel.show(text)
            ),
            Why::NoApiKey => s.write_str("no API key has this token"),
            Why::KeyCreatedLater { created_at, at } => write!(
                s,
                "the key with this token is created at {created_at}, after {at}"
            ),
            Why::KeyDeleted(t) => write!(s, "key {} was deleted at {t}", credential(d)),
            Why::KeyRevoked(t) => write!(s, "key {} was revoked at {t}", credential(d)),
            Why::KeyDisabled => write!(s, "key {} is disabled", credential(d)),
            Why::KeyExpired(t) => write!(s, "key {} expired at {t}", credential(d)),
            Why::NoSession => s.write_str("no session has this token"),
            Why::SessionCreatedLater { created_at, at } => write!(
                s,
                "the session with this token is created at {created_at}, after {at}"
            ),
            Why::SessionRevoked(t) => {
                write!(s, "session {} was revoked at {t}", credential(d))
            }
            Why::SessionExpired(t) => write!(
                s,
                "session {} expired at {t} (expiry equal to the request time is expired)",
                credential(d)
            ),
            Why::UserBanned => write!(s, "user {} is banned", user(d)),
            Why::CredentialNotAllowed(kind) => write!(
                s,
                "action {:?} does not accept {} credentials",
                d.action,
                kind.as_str()
            ),
            Why::NoMembership => s.write_str("no membership"),
            Why::Unbound => write!(
                s,
                "key {} is a legacy key with no tenant and api_key.unbound = \"deny\"",
                credential(d)
            ),
            Why::LegacyNoMembership(at) => write!(
                s,
                "legacy key {}: owner {} has no membership at {at}",
                credential(d),
                user(d)
            ),
            Why::CrossTenant { asked } => write!(
                s,
                "key {} is bound to tenant {}; the request asks for {asked:?}",
                credential(d),
                tenant(d)
            ),
            Why::TenantRequired => write!(
                s,
                "action {:?} requires a tenant; the request names none and the session has no active tenant",
                d.action
            ),
            Why::NotAMember(at) => write!(
                s,
                "user {} is not a member of tenant {} at {at}",
                user(d),
                tenant(d)
            ),
            Why::TenantSuspended => write!(s, "tenant {} is suspended", tenant(d)),
            Why::InsufficientRole(role) => {
                write!(s, "role {:?} is not one of {roles:?}", text.str(*role))
            }
            Why::MissingCapability(empty) => write!(
                s,
                "key {} lacks capability {capability:?} (it has {:?}; api_key.empty_capabilities = {empty:?})",
                credential(d),
                text.debug_list(steps.capabilities.unwrap_or_default())
            ),
            Why::NoResourceNamed => write!(
                s,
                "action {:?} needs a resource and the request names none",
                d.action
            ),
            Why::ResourceNotFound { id, at } => write!(
                s,
                "no resource {id:?} in tenant {} at {at} (resources are looked up by (tenant, id))",
                tenant(d)
            ),
            Why::ResourceNoTenant(id) => {
                write!(s, "no resource {id:?}: no effective tenant")
            }
            Why::NotResourceOwner { id, tenant, owner } => write!(
                s,
                "resource {id:?} of tenant {tenant:?} is owned by {owner:?}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Word` and `Words` print exactly as the `String` and `Vec<String>`
    /// they stand for, inline or spilled to the heap.
    #[test]
    fn words_print_like_strings() {
        let long = "x".repeat(Text::INLINE + 1);
        let mut text = Text::default();
        for s in [
            "",
            "owner",
            "__Secure-better-auth.session_token",
            "é\"\\",
            &long,
        ] {
            let w = text.word(s);
            assert_eq!(text.str(w), s);
            assert_eq!(w.is_empty(), s.is_empty());
        }
        assert!(!text.heap.is_empty());
        for n in 0..6 {
            let mut text = Text::default();
            let before = text.word("cookie");
            let list: Vec<String> = (0..n).map(|i| format!("role \"{i}\"")).collect();
            let words = text.words(&list);
            let after = text.word("");
            assert_eq!(format!("{:?}", text.debug_list(words)), format!("{list:?}"));
            assert_eq!(words.is_empty(), list.is_empty());
            assert_eq!((text.str(before), text.str(after)), ("cookie", ""));
        }
    }
}
