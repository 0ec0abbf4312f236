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
            emit(&mut buf, &|b| rule.write(b, d))?;
        }
        if let Some(c) = &s.credential {
            emit(&mut buf, &|b| c.write(b))?;
        }
        if let Some(r) = &s.record {
            emit(&mut buf, &|b| r.write(b, d))?;
        }
        if let Some(t) = &s.tenant {
            emit(&mut buf, &|b| t.write(b, d))?;
        }
        if let Some(m) = &s.member {
            emit(&mut buf, &|b| m.write(b, d))?;
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

/// A short string kept without a heap allocation (a role, a capability, a
/// header or cookie name of the policy: the default policy's longest is 34
/// bytes); longer ones are boxed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Word {
    Inline(u8, [u8; Word::INLINE]),
    Heap(Box<str>),
}

impl Word {
    const INLINE: usize = 38;

    pub(crate) fn new(s: &str) -> Word {
        if s.len() <= Word::INLINE {
            let mut bytes = [0u8; Word::INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Word::Inline(s.len() as u8, bytes)
        } else {
            Word::Heap(s.into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Word::Inline(n, bytes) => {
                std::str::from_utf8(&bytes[..usize::from(*n)]).expect("copied from a str")
            }
            Word::Heap(s) => s,
        }
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A few [`Word`]s (a rule's roles, a key's capabilities) inline; `Debug`
/// is a `Vec<String>`'s.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Words {
    Inline(u8, [Word; 3]),
    Heap(Vec<String>),
}

impl Words {
    pub(crate) fn of<S: AsRef<str>>(list: &[S]) -> Words {
        if list.len() <= 3 {
            let mut it = list.iter();
            let words = std::array::from_fn(|_| Word::new(it.next().map_or("", S::as_ref)));
            Words::Inline(list.len() as u8, words)
        } else {
            Words::Heap(list.iter().map(|w| w.as_ref().to_string()).collect())
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Words::Inline(n, _) => *n == 0,
            Words::Heap(v) => v.is_empty(),
        }
    }
}

impl fmt::Debug for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Words::Inline(n, words) => f
                .debug_list()
                .entries(words[..usize::from(*n)].iter())
                .finish(),
            Words::Heap(v) => fmt::Debug::fmt(v, f),
        }
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
    fn write(&self, s: &mut String, d: &Decision) -> fmt::Result {
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
            write!(s, ", roles {:?}", self.roles)?;
        }
        if !self.capability.as_str().is_empty() {
            write!(s, ", capability {:?}", self.capability)?;
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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ChannelName {
    Header(Word),
    Cookie(Word),
    Bearer,
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelName::Header(h) => write!(f, "header {h}"),
            ChannelName::Cookie(c) => write!(f, "cookie {c}"),
            ChannelName::Bearer => f.write_str("authorization: Bearer"),
        }
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
    fn write(&self, s: &mut String) -> fmt::Result {
        write!(
            s,
            "credential: {} from {}, token sha256 ",
            self.kind.as_str(),
            self.channel
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
    fn write(&self, s: &mut String, d: &Decision) -> fmt::Result {
        write!(
            s,
            "{} is a member of {} as {:?} since {}",
            user(d),
            tenant(d),
            self.role,
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
        let rule = steps.rule.as_ref();
        let no_roles = Words::of::<&str>(&[]);
        let roles = rule.map_or(&no_roles, |r| &r.roles);
        let capability = rule.map_or("", |r| r.capability.as_str());
        match self {
            Why::UnknownAction => write!(s, "action {:?} is not defined by the policy", d.action),
            Why::NoCredential => {
                s.write_str("no API-key header, session cookie or authorization header")
            }
            Why::Ambiguous(n) => write!(
                s,
                "{n} credentials presented and credentials.multiple = \"deny\""
            ),
            Why::Malformed(channel, why) => {
                write!(s, "{channel}: {why} (no fallback to a later credential)")
            }
            Why::Unmatched(channel) => write!(
                s,
                "{channel} carries the whole header value as the API key, not the presented token"
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
            Why::InsufficientRole(role) => write!(s, "role {role:?} is not one of {roles:?}"),
            Why::MissingCapability(empty) => write!(
                s,
                "key {} lacks capability {capability:?} (it has {:?}; api_key.empty_capabilities = {empty:?})",
                credential(d),
                steps.capabilities.as_ref().unwrap_or(&no_roles)
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
    /// they stand for, inline or not.
    #[test]
    fn words_print_like_strings() {
        let long = "x".repeat(Word::INLINE + 1);
        for s in [
            "",
            "owner",
            "__Secure-better-auth.session_token",
            "é\"\\",
            &long,
        ] {
            let w = Word::new(s);
            assert_eq!(w.as_str(), s);
            assert_eq!(format!("{w:?}"), format!("{s:?}"));
            assert_eq!(format!("{w}"), s);
            assert_eq!(matches!(w, Word::Heap(_)), s.len() > Word::INLINE);
        }
        for n in 0..6 {
            let list: Vec<String> = (0..n).map(|i| format!("role \"{i}\"")).collect();
            let words = Words::of(&list);
            assert_eq!(format!("{words:?}"), format!("{list:?}"));
            assert_eq!(words.is_empty(), list.is_empty());
            assert_eq!(matches!(words, Words::Heap(_)), n > 3);
        }
    }
}
