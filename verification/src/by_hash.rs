//! A request's credential decided by its hash, beside the real header
//! (SPEC §6.5, judged by I5).
//!
//! `diff`'s census decides every credential of a snapshot by its token's
//! hash ([`State::decide_presented`]): a snapshot holds no token. Check,
//! explore and the fuzz targets present real headers, so without this
//! module that path would be judged by nothing but its own unit tests. Here
//! an `authenticate` request carrying exactly one credential header is
//! turned into the same credential presented by hash ([`presentation`]);
//! the harness decides it by hash on the state before the step, and
//! [`judge`](crate::lockstep::judge) requires that decision to equal the
//! real one ([`violation`]).
//!
//! Which requests are presented (anything else is not judged this way):
//!
//! * one credential header — the policy's `api_key.header`, `cookie` or
//!   `authorization` (case-insensitive) — and any other headers, which are
//!   no credential; or a single header of any other name, which presents no
//!   credential ([`Via::Header`] resolves to none);
//! * whose value holds a valid token (SPEC §1) where §5 would read one: the
//!   whole value of a header ([`Via::Header`]); `Bearer` (any case), spaces
//!   and the token ([`Via::Bearer`]); for `cookie`, the policy's session
//!   cookie that §5 picks, with its one pair of quotes removed
//!   ([`Via::Cookie`]; a header without a session cookie presents its first
//!   pair, which resolves to none). A value §5 finds unusable (empty, an
//!   invalid token, another scheme) cannot be presented by hash: a hash
//!   stands for a valid token.
//! * Where the policy reads the `cookie` header's whole value as the API key,
//!   only a single unquoted pair `name=token` whose whole is a valid token is
//!   presented (anything else is malformed as a key, which a hash cannot
//!   say).
//! * Under `session.cookie_format = "signed"`, a session token presented by
//!   hash stands for its correctly signed value (SPEC §5.1): a cookie or
//!   Bearer value routed to a session is unwrapped as §5.1 says, and
//!   presented only when that succeeds; the hash is the unwrapped token's.
//!   Policies whose `api_key.header` is `cookie` or `authorization` are not
//!   presented under `signed`.
//!
//! The known prefix is what a snapshot would hold, as the census presents
//! it: the stored `prefix` of the key whose hash the token has; else `""`
//! (a session, or a token no record has). Either is used only when it
//! routes a Bearer token as the token itself does (every policy prefix
//! matches both or neither); otherwise the whole token, which is trivially
//! its own known beginning.
//!
//! The decisions must be equal, explanation included, except in two places
//! where only the outcome (every field but `explain`) can agree: a `cookie`
//! header under a policy whose `api_key.header` is `cookie` (the token may
//! not be what is looked up: SPEC §6.5), and a signed session token (the
//! explanation by hash says nothing about a signature).

use authproof_engine::{
    credential::{unwrap_token, Channel},
    is_valid_token, Command, CookieFormat, CredentialKind, Decision, Op, Policy, Presented,
    Snapshot, TokenHash, Via,
};

use crate::{lockstep::DecisionProjection, Invariant, Violation};

/// A request's one credential header as a credential presented by hash.
#[derive(Clone, Copy, Debug)]
pub struct Presentation<'a> {
    pub presented: Presented<'a>,
    /// Whether the explanation must agree too, not only the outcome.
    pub explain: bool,
}

/// `command`'s credential presented by hash, as the census would present
/// it from `before` (the state the request is decided on); `None` when
/// `command` is not an `authenticate` that can be presented so (see the
/// module documentation). [`parse`] then [`Parsed::in_state`].
pub fn presentation<'a>(
    policy: &Policy,
    before: &'a Snapshot,
    command: &'a Command,
) -> Option<Presentation<'a>> {
    parse(policy, &command.op).map(|p| p.in_state(policy, before))
}

/// What a presentation takes from the request alone, whatever the state:
/// a search that runs one request from many states parses it once.
#[derive(Clone, Copy, Debug)]
pub struct Parsed<'a> {
    via: Via<'a>,
    /// The token as §5 reads it (before any unwrapping).
    raw: &'a str,
    /// The hash looked up.
    token: TokenHash,
    /// Whether `""` routes a Bearer token as `raw` does.
    empty_routes_alike: bool,
    explain: bool,
}

/// Whether `known` and `token` start with the same policy prefixes, so
/// Bearer routes both alike.
fn routes_alike(policy: &Policy, known: &str, token: &str) -> bool {
    policy
        .api_key
        .prefixes
        .iter()
        .filter(|p| !p.is_empty())
        .all(|p| known.starts_with(p.as_str()) == token.starts_with(p.as_str()))
}

/// The state-independent part of [`presentation`] for `op`.
pub fn parse<'a>(policy: &Policy, op: &'a Op) -> Option<Parsed<'a>> {
    let Op::Authenticate { headers, .. } = op else {
        return None;
    };
    let key_header = policy.api_key.header.as_str();
    let key_is = |name: &str| key_header.eq_ignore_ascii_case(name);
    let signed = policy.session.cookie_format == CookieFormat::Signed;
    if signed && (key_is("cookie") || key_is("authorization")) {
        return None;
    }
    let is_credential = |name: &str| {
        key_is(name)
            || name.eq_ignore_ascii_case("cookie")
            || name.eq_ignore_ascii_case("authorization")
    };
    let mut credential = None;
    let (mut credentials, mut total) = (0, 0);
    for (name, value) in headers.iter() {
        total += 1;
        if is_credential(name) {
            credentials += 1;
            credential = Some((name, value));
        }
    }
    let (name, value) = match credential {
        Some(c) if credentials == 1 => c,
        None if total == 1 => headers.iter().next()?,
        _ => return None,
    };

    // (where, the token as §5 reads it, whether it is routed to a session)
    let (via, raw, session): (Via<'a>, &'a str, Option<Channel>) = if name
        .eq_ignore_ascii_case("cookie")
    {
        if key_is("cookie") {
            // The whole value is the key candidate: only `name=token`.
            if value.contains(';') || !is_valid_token(value) {
                return None;
            }
            let (cookie, token) = value.split_once('=')?;
            (Via::Cookie(cookie), token, None)
        } else {
            let pairs = || {
                value
                    .split(';')
                    .map(|pair| pair.trim_matches(' '))
                    .filter_map(|pair| pair.split_once('='))
            };
            let chosen = policy
                .session
                .cookies
                .iter()
                .enumerate()
                .find_map(|(i, wanted)| {
                    pairs()
                        .find(|(n, _)| n == wanted)
                        .map(|(n, v)| (n, v, Some(Channel::Cookie(i))))
                });
            let (cookie, token, channel) = match chosen {
                Some(c) => c,
                None => {
                    let (n, v) = pairs().next()?;
                    (n, v, None)
                }
            };
            (Via::Cookie(cookie), unquote(token), channel)
        }
    } else if name.eq_ignore_ascii_case("authorization") {
        match value.split_once(' ') {
            None => (Via::Header(name), value, None),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
                let token = rest.trim_matches(' ');
                let session = (!key_is("authorization") && policy.api_key_prefix(token).is_none())
                    .then_some(Channel::Bearer);
                (Via::Bearer, token, session)
            }
            Some(_) => return None,
        }
    } else {
        (Via::Header(name), value, None)
    };
    if !is_valid_token(raw) {
        return None;
    }
    let token = match session {
        Some(channel) if signed => {
            let (token, _) = unwrap_token(policy, CredentialKind::Session, channel, raw).ok()?;
            TokenHash::of(&token)
        }
        _ => TokenHash::of(raw),
    };

    // Only the outcome can agree where the token may not be what is looked
    // up, and for a signed session token (no signature by hash).
    let outcome_only =
        (matches!(via, Via::Cookie(_)) && key_is("cookie")) || (signed && session.is_some());
    Some(Parsed {
        via,
        raw,
        token,
        empty_routes_alike: routes_alike(policy, "", raw),
        explain: !outcome_only,
    })
}

impl<'a> Parsed<'a> {
    /// The presentation from `before`: the known prefix is the stored
    /// prefix of the key with the token's hash, else `""`, when it routes a
    /// Bearer token as the token does; else the token.
    pub fn in_state<'s>(&self, policy: &Policy, before: &'s Snapshot) -> Presentation<'s>
    where
        'a: 's,
    {
        let stored = before
            .api_keys
            .iter()
            .find(|k| k.token_sha256 == self.token)
            .map(|k| k.prefix.as_str())
            .filter(|k| routes_alike(policy, k, self.raw));
        let known_prefix = match stored {
            Some(k) => k,
            None if self.empty_routes_alike => "",
            None => self.raw,
        };
        Presentation {
            presented: Presented {
                via: self.via,
                token: self.token,
                known_prefix,
            },
            explain: self.explain,
        }
    }
}

fn unquote(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// A request decided by its hash, for the judge.
#[derive(Clone, Copy, Debug)]
pub struct ByHash<'a> {
    pub presentation: Presentation<'a>,
    /// What `State::decide_presented` gave on the state before the step.
    pub decision: &'a Decision,
}

/// How a presentation is named in a message: the header or cookie name and
/// 8 hex characters of the hash, never more.
fn describe(p: &Presented<'_>) -> String {
    let via = match p.via {
        Via::Header(name) => format!("header {name}"),
        Via::Cookie(name) => format!("cookie {name}"),
        Via::Bearer => "authorization: Bearer".to_string(),
    };
    format!("{via}, token sha256 {}", p.token.short())
}

/// The kind of credential `real` looked up, as [`Presented::kind_under`]
/// must name it: none when step 1 found no usable credential, the record's
/// kind when one was looked up; `Err` when the decision does not say
/// (`unknown_action` stops before step 1; `api_key_not_found` is also the
/// outcome of a presentation that is not the key looked up, where
/// `maybe_unmatched`).
fn kind_looked_up(real: &Decision, maybe_unmatched: bool) -> Result<Option<CredentialKind>, ()> {
    use authproof_engine::Reason::*;
    if let Some(c) = &real.credential {
        return Ok(Some(c.kind));
    }
    match real.reason {
        Some(NoCredential | AmbiguousCredential | MalformedCredential) => Ok(None),
        Some(ApiKeyNotFound) if maybe_unmatched => Err(()),
        Some(ApiKeyNotFound | ApiKeyDeleted | ApiKeyRevoked | ApiKeyDisabled | ApiKeyExpired) => {
            Ok(Some(CredentialKind::ApiKey))
        }
        Some(SessionNotFound | SessionRevoked | SessionExpired) => {
            Ok(Some(CredentialKind::Session))
        }
        _ => Err(()),
    }
}

/// The I5 violation when the decision by hash differs from `real`, the
/// decision of the request with its real header, or when
/// [`Presented::kind_under`] names another kind than the one `real` looked
/// up (the census relies on it to share decisions).
pub fn violation(policy: &Policy, by_hash: &ByHash<'_>, real: &Decision) -> Option<Violation> {
    let d = by_hash.decision;
    let outcome_agrees =
        DecisionProjection::of(d) == DecisionProjection::of(real) && d.action == real.action;
    let message = if !outcome_agrees {
        let json = |d: &Decision| {
            serde_json::to_string(&DecisionProjection::of(d)).expect("decisions serialize")
        };
        format!(
            "the credential decided by its hash (SPEC §6.5: {}) gets {} where the real header gets {}",
            describe(&by_hash.presentation.presented),
            json(d),
            json(real)
        )
    } else if by_hash.presentation.explain && d != real {
        // Lines are not quoted: the index of the first difference is enough
        // to find it, and prints nothing a faulty explanation might hold.
        let (a, b) = (d.explain_lines(), real.explain_lines());
        let at = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        format!(
            "the credential decided by its hash (SPEC §6.5: {}) is explained otherwise than the real header: line {} differs ({} lines by hash, {} for the real header)",
            describe(&by_hash.presentation.presented),
            at + 1,
            a.len(),
            b.len()
        )
    } else {
        let kind = by_hash.presentation.presented.kind_under(policy);
        let presented = &by_hash.presentation.presented;
        let maybe_unmatched = matches!(presented.via, Via::Cookie(_))
            && policy.api_key.header.eq_ignore_ascii_case("cookie");
        match kind_looked_up(real, maybe_unmatched) {
            Ok(looked_up) if looked_up != kind => {
                let name = |k: Option<CredentialKind>| k.map_or("none", CredentialKind::as_str);
                format!(
                    "the credential decided by its hash (SPEC §6.5: {}) has kind_under {} but the decision looked up {}",
                    describe(&by_hash.presentation.presented),
                    name(kind),
                    name(looked_up)
                )
            }
            _ => return None,
        }
    };
    Some(Violation {
        invariant: Invariant::PreciseReasons,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::{Universe, TOKENS};
    use crate::lockstep::{judge, Implementation, Lockstep, Observed};
    use crate::History;
    use authproof_engine::{CommandResult, Headers, Request, State, Timestamp};
    use std::convert::Infallible;

    fn token(name: &str) -> &'static str {
        TOKENS.iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn authenticate(at: Timestamp, headers: &[(&str, String)]) -> Command {
        Command {
            at,
            op: Op::Authenticate {
                action: "workspace.read".into(),
                headers: Headers::new(headers.iter().cloned()).unwrap(),
                tenant: None,
                resource: None,
            },
        }
    }

    /// Which headers are presented by hash, and how.
    #[test]
    fn presents_one_credential_header_with_a_valid_token() {
        let u = Universe::small();
        let policy = Policy::default();
        let at = u.times[0];
        let k1 = token("k1");
        let s1 = token("s1");
        let via = |h: &[(&str, String)]| {
            let cmd = authenticate(at, h);
            presentation(&policy, &u.snapshot, &cmd).map(|p| {
                (
                    format!("{:?}", p.presented.via),
                    p.presented.token,
                    p.presented.known_prefix.to_string(),
                    p.explain,
                )
            })
        };
        assert_eq!(
            via(&[("X-API-Key", k1.to_string())]),
            Some((
                "Header(\"X-API-Key\")".into(),
                TokenHash::of(k1),
                "sk_live_".into(),
                true
            ))
        );
        // Bearer in any case, several spaces; a session's known prefix is "".
        assert_eq!(
            via(&[("authorization", format!("bEaReR   {s1}  "))]),
            Some(("Bearer".into(), TokenHash::of(s1), String::new(), true))
        );
        // The session cookie §5 picks, unquoted, among other pairs.
        assert_eq!(
            via(&[(
                "Cookie",
                format!("theme=dark; better-auth.session_token=\"{s1}\"")
            )]),
            Some((
                "Cookie(\"better-auth.session_token\")".into(),
                TokenHash::of(s1),
                String::new(),
                true
            ))
        );
        // Junk cookies only: the first pair, which is no credential.
        assert_eq!(
            via(&[("cookie", "theme=dark; lang=en".into())]).map(|v| v.0),
            Some("Cookie(\"theme\")".into())
        );
        // An extra header that is no credential is left out.
        assert!(via(&[("x-api-key", k1.into()), ("x-request-id", "r1".into())]).is_some());
        // Not presentable: two credential headers, another scheme, an
        // empty or invalid token, a one-sided quote.
        assert_eq!(
            via(&[
                ("x-api-key", k1.into()),
                ("cookie", format!("better-auth.session_token={s1}"))
            ]),
            None
        );
        assert_eq!(via(&[("authorization", format!("Basic {s1}"))]), None);
        assert_eq!(via(&[("x-api-key", String::new())]), None);
        assert_eq!(via(&[("x-api-key", "bad token".into())]), None);
        assert_eq!(
            via(&[("cookie", format!("better-auth.session_token=\"{s1}"))]),
            None
        );
        assert_eq!(via(&[]), None);
    }

    /// A token no key has, starting with a policy prefix, routes as a key
    /// on Bearer: its known prefix must too (`""` would not).
    #[test]
    fn known_prefix_routes_bearer_like_the_token() {
        let u = Universe::small();
        let policy = Policy::default();
        let cmd = authenticate(
            u.times[0],
            &[("authorization", "Bearer sk_live_nobody".into())],
        );
        let p = presentation(&policy, &u.snapshot, &cmd).unwrap();
        assert_eq!(p.presented.known_prefix, "sk_live_nobody");
        let cmd = authenticate(u.times[0], &[("authorization", "Bearer nobody/+=".into())]);
        let p = presentation(&policy, &u.snapshot, &cmd).unwrap();
        assert_eq!(p.presented.known_prefix, "");
    }

    /// The judge reports a decision by hash that differs from the real one
    /// as I5, naming no token; an explanation that differs only where it
    /// may (`explain: false`) is no violation.
    #[test]
    fn judge_reports_a_wrong_decision_by_hash() {
        let u = Universe::small();
        let policy = Policy::default();
        let engine = State::from_snapshot(u.snapshot.clone()).unwrap();
        let k1 = token("k1");
        let cmd = authenticate(u.times[0], &[("x-api-key", k1.into())]);
        let req = cmd.request().unwrap();
        let real = engine.decide(&policy, &req);
        assert!(real.is_allow(), "{real:?}");
        let result = CommandResult::Decision {
            op: "authenticate".into(),
            decision: Box::new(real.clone()),
        };
        let p = presentation(&policy, &u.snapshot, &cmd).unwrap();
        let judged = |by_hash: Option<ByHash<'_>>| {
            let mut history = History::new(&u.snapshot);
            judge(
                &mut history,
                Observed {
                    policy: &policy,
                    index: 0,
                    command: &cmd,
                    before: &u.snapshot,
                    after: &u.snapshot,
                    result: &result,
                    model: &result,
                    model_after: &u.snapshot,
                    by_hash,
                    diff: None,
                    model_diff: None,
                    longest_public: None,
                    policy_strings: None,
                    before_noted: false,
                },
            )
        };
        // The engine's own decision by hash agrees.
        let right = engine.decide_presented(&policy, &req, &p.presented);
        assert_eq!(
            judged(Some(ByHash {
                presentation: p,
                decision: &right
            })),
            vec![]
        );
        assert_eq!(judged(None), vec![]);

        // Another outcome: a denial.
        let mut wrong = p;
        wrong.presented.token = TokenHash::of("sk_live_other");
        let denied = engine.decide_presented(&policy, &req, &wrong.presented);
        assert!(!denied.is_allow());
        let v = judged(Some(ByHash {
            presentation: p,
            decision: &denied,
        }));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].invariant, Invariant::PreciseReasons);
        assert!(v[0].message.contains("SPEC §6.5"), "{}", v[0].message);
        assert!(
            v[0].message.contains("api_key_not_found"),
            "{}",
            v[0].message
        );
        assert!(!v[0].message.contains(k1), "{}", v[0].message);
        let full = TokenHash::of(k1).to_string();
        assert!(!v[0].message.contains(&full[..9]), "{}", v[0].message);
        assert!(v[0].message.contains(&full[..8]), "{}", v[0].message);

        // The same outcome, another explanation.
        let mut explained = right.clone();
        explained.explain.push("one more line".into());
        let v = judged(Some(ByHash {
            presentation: p,
            decision: &explained,
        }));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].message.contains("explained otherwise"),
            "{}",
            v[0].message
        );
        let outcome_only = Presentation {
            explain: false,
            ..p
        };
        assert_eq!(
            judged(Some(ByHash {
                presentation: outcome_only,
                decision: &explained
            })),
            vec![]
        );

        // `kind_under` must name the kind the decision looked up.
        let mut header = p;
        header.presented.via = Via::Header("x-other");
        assert!(header.presented.kind_under(&policy).is_none());
        let v = judged(Some(ByHash {
            presentation: header,
            decision: &right,
        }));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.contains("kind_under"), "{}", v[0].message);
    }

    /// An engine whose decision by hash is wrong: the lockstep harness
    /// decides by hash before every presentable step and reports it.
    struct WrongByHash(State);

    impl Implementation for WrongByHash {
        type Error = Infallible;
        fn apply(
            &mut self,
            policy: &Policy,
            command: &Command,
        ) -> Result<CommandResult, Infallible> {
            Ok(self.0.apply(policy, command))
        }
        fn snapshot(&mut self) -> Result<Snapshot, Infallible> {
            Ok(self.0.to_snapshot())
        }
        fn decide_presented(
            &mut self,
            policy: &Policy,
            req: &Request,
            presented: &Presented<'_>,
        ) -> Result<Option<Decision>, Infallible> {
            // Sessions as Bearer resolve as cookies do: a wrong channel.
            let mut p = *presented;
            if p.via == Via::Bearer && p.known_prefix.is_empty() {
                p.via = Via::Cookie("nope");
            }
            Ok(Some(self.0.decide_presented(policy, req, &p)))
        }
    }

    #[test]
    fn lockstep_judges_every_presentable_request_by_hash() {
        let u = Universe::small();
        let policy = Policy::default();
        let steps: Vec<Command> = u.request_commands(u.times[0]);
        let presentable = steps
            .iter()
            .filter(|c| presentation(&policy, &u.snapshot, c).is_some())
            .count();
        assert!(
            presentable * 3 >= steps.len() * 2,
            "{presentable} of {}",
            steps.len()
        );
        let engine = State::from_snapshot(u.snapshot.clone()).unwrap();
        let run = Lockstep::new(&policy, &u.snapshot, engine)
            .unwrap()
            .run(&steps)
            .unwrap();
        assert!(run.held());
        let wrong = WrongByHash(State::from_snapshot(u.snapshot.clone()).unwrap());
        let run = Lockstep::new(&policy, &u.snapshot, wrong)
            .unwrap()
            .run(&steps)
            .unwrap();
        let (at, v) = run
            .first_violation()
            .expect("the wrong decision by hash is found");
        assert_eq!(v.invariant, Invariant::PreciseReasons);
        assert!(v.message.contains("authorization: Bearer"), "{v}");
        let at = at.unwrap();
        assert!(
            matches!(&steps[at].op, Op::Authenticate { headers, .. } if headers.get("authorization").is_some())
        );
    }

    /// Under `cookie_format = "signed"` a session value is presented by the
    /// hash of the token it unwraps to, outcome only; an unsigned one is
    /// not presented.
    #[test]
    fn signed_session_values_are_unwrapped() {
        let u = Universe::small();
        let mut policy = Policy::default();
        policy.session.cookie_format = CookieFormat::Signed;
        let s1 = token("s1");
        let sig = format!("{}=", "A".repeat(43));
        let signed = format!("{s1}.{sig}")
            .replace('%', "%25")
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace('=', "%3D");
        let cmd = authenticate(
            u.times[0],
            &[("cookie", format!("better-auth.session_token={signed}"))],
        );
        let p = presentation(&policy, &u.snapshot, &cmd).unwrap();
        assert_eq!(p.presented.token, TokenHash::of(s1));
        assert!(!p.explain);
        let cmd = authenticate(
            u.times[0],
            &[("cookie", format!("better-auth.session_token={s1}"))],
        );
        assert!(presentation(&policy, &u.snapshot, &cmd).is_none());
        // API keys are never unwrapped, and explained in full.
        let cmd = authenticate(u.times[0], &[("x-api-key", token("k1").into())]);
        assert!(presentation(&policy, &u.snapshot, &cmd).unwrap().explain);
    }
}
