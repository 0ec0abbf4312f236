//! authproof next to Cedar (issue 8): the same authorization, the same
//! generated data, the same raw requests.
//!
//! The authorization, as the bench policy states it for authproof:
//!
//! * `supervisor.connect` with an API key: the key is live (created, not
//!   deleted, revoked, disabled or expired), its owner is not banned and is a
//!   member (at `at`) of the key's tenant with role owner or admin, the
//!   tenant is not suspended, and the key carries the capability
//!   `supervisor` (`[]` read as all);
//! * `workspace.read` with a session: the session is live, its user is not
//!   banned and is a member of the requested tenant (or the session's
//!   active tenant), which is not suspended.
//!
//! Both sides start from the same [`Request`] (raw headers): extract the
//! credential (the engine's own `credential::extract`, so both parse headers
//! alike), SHA-256 the token, look the hash up in a `HashMap` to find the
//! principal; then authproof runs `State::decide` (which does all of that
//! itself) and Cedar runs `Authorizer::is_authorized` on an `Entities` set
//! and a `PolicySet` built once from the same snapshot, outside the timed
//! loop. Per request, the Cedar side only builds its `Request` and `Context`.
//! Every request is checked to get the same allow/deny on both sides before
//! anything is timed.
//!
//! Cedar 3 (`cedar3`, the last 3.x release) runs the same classes on the
//! same requests, side by side with Cedar 4, in the same run. Cedar 3 has no
//! entity tags, so there a membership is an entity of its own
//! (`Membership::"<user>\u{1}<tenant>"` with `user`, `tenant`, `role`,
//! `since`) that the host names in the context; the policies check the same
//! conditions. After the run the bench prints, per class, each Cedar
//! version's median over authproof's (from criterion's `estimates.json`).
//!
//! Run with `cargo bench --features cedar-bench --bench cedar`.
#![forbid(unsafe_code)]

mod common;

use std::{collections::HashMap, hint::black_box, str::FromStr, time::Instant};

use authproof_engine::{
    credential::{extract, Extraction},
    snapshot::Snapshot,
    Policy, Request, State, TokenHash,
};
use authproof_verification::synth::SplitMix64;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request as CedarRequest, RestrictedExpression as Rx,
};
use criterion::Criterion;

const POLICIES: &str = r#"
permit (principal is ApiKey, action == Action::"supervisor.connect", resource is Tenant)
when {
  principal has tenant && principal.tenant == resource &&
  principal.created_at <= context.now &&
  !(principal has deleted_at && principal.deleted_at <= context.now) &&
  !(principal has revoked_at && principal.revoked_at <= context.now) &&
  principal.enabled &&
  !(principal has expires_at && principal.expires_at <= context.now) &&
  !principal.owner.banned &&
  principal.owner.hasTag(context.tenant) &&
  principal.owner.getTag(context.tenant).since <= context.now &&
  !resource.suspended &&
  ["owner", "admin"].contains(principal.owner.getTag(context.tenant).role) &&
  (principal.capabilities.isEmpty() || principal.capabilities.contains("supervisor"))
};

permit (principal is Session, action == Action::"workspace.read", resource is Tenant)
when {
  principal.created_at <= context.now &&
  !(principal has revoked_at && principal.revoked_at <= context.now) &&
  context.now < principal.expires_at &&
  !principal.user.banned &&
  principal.user.hasTag(context.tenant) &&
  principal.user.getTag(context.tenant).since <= context.now &&
  !resource.suspended
};
"#;

/// What the host keeps per token hash to build a Cedar request: the
/// principal's uid and the tenant it is bound to (a key) or active in (a
/// session).
struct Principal {
    uid: EntityUid,
    tenant: Option<String>,
}

/// The Cedar side: everything built once.
struct CedarSide {
    by_token: HashMap<TokenHash, Principal>,
    entities: Entities,
    policies: PolicySet,
    authorizer: Authorizer,
    tenant_type: EntityTypeName,
    connect: EntityUid,
    read: EntityUid,
}

fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
}

fn long(t: authproof_engine::Timestamp) -> Rx {
    Rx::new_long(t.unix())
}

impl CedarSide {
    fn build(snap: &Snapshot) -> CedarSide {
        let ty = |s: &str| EntityTypeName::from_str(s).expect("a type name");
        let (user_t, tenant_t, key_t, session_t, action_t) = (
            ty("User"),
            ty("Tenant"),
            ty("ApiKey"),
            ty("Session"),
            ty("Action"),
        );
        let mut tags: HashMap<&str, Vec<(String, Rx)>> = HashMap::new();
        for m in &snap.memberships {
            let value = Rx::new_record([
                ("role".to_string(), Rx::new_string(m.role.to_string())),
                ("since".to_string(), long(m.since)),
            ])
            .expect("a record");
            tags.entry(m.user.as_str())
                .or_default()
                .push((m.tenant.to_string(), value));
        }
        let mut entities: Vec<Entity> = Vec::with_capacity(
            snap.users.len() + snap.tenants.len() + snap.api_keys.len() + snap.sessions.len(),
        );
        for t in &snap.tenants {
            entities.push(
                Entity::new_with_tags(
                    uid(&tenant_t, &t.id),
                    [("suspended".to_string(), Rx::new_bool(t.suspended))],
                    [],
                    [],
                )
                .expect("an entity"),
            );
        }
        for u in &snap.users {
            entities.push(
                Entity::new_with_tags(
                    uid(&user_t, &u.id),
                    [("banned".to_string(), Rx::new_bool(u.banned))],
                    [],
                    tags.remove(u.id.as_str()).unwrap_or_default(),
                )
                .expect("an entity"),
            );
        }
        let mut by_token = HashMap::with_capacity(snap.api_keys.len() + snap.sessions.len());
        for k in &snap.api_keys {
            let mut attrs = vec![
                (
                    "owner".to_string(),
                    Rx::new_entity_uid(uid(&user_t, &k.owner)),
                ),
                (
                    "capabilities".to_string(),
                    Rx::new_set(k.capabilities.iter().map(|c| Rx::new_string(c.to_string()))),
                ),
                ("enabled".to_string(), Rx::new_bool(k.enabled)),
                ("created_at".to_string(), long(k.created_at)),
            ];
            if let Some(t) = &k.tenant {
                attrs.push(("tenant".to_string(), Rx::new_entity_uid(uid(&tenant_t, t))));
            }
            for (name, t) in [
                ("expires_at", k.expires_at),
                ("revoked_at", k.revoked_at),
                ("deleted_at", k.deleted_at),
            ] {
                if let Some(t) = t {
                    attrs.push((name.to_string(), long(t)));
                }
            }
            let key_uid = uid(&key_t, &k.id);
            entities
                .push(Entity::new_with_tags(key_uid.clone(), attrs, [], []).expect("an entity"));
            by_token.insert(
                k.token_sha256,
                Principal {
                    uid: key_uid,
                    tenant: k.tenant.as_ref().map(|t| t.to_string()),
                },
            );
        }
        for s in &snap.sessions {
            let mut attrs = vec![
                (
                    "user".to_string(),
                    Rx::new_entity_uid(uid(&user_t, &s.user)),
                ),
                ("created_at".to_string(), long(s.created_at)),
                ("expires_at".to_string(), long(s.expires_at)),
            ];
            if let Some(t) = s.revoked_at {
                attrs.push(("revoked_at".to_string(), long(t)));
            }
            let session_uid = uid(&session_t, &s.id);
            entities.push(
                Entity::new_with_tags(session_uid.clone(), attrs, [], []).expect("an entity"),
            );
            by_token.insert(
                s.token_sha256,
                Principal {
                    uid: session_uid,
                    tenant: s.tenant.as_ref().map(|t| t.to_string()),
                },
            );
        }
        CedarSide {
            by_token,
            entities: Entities::from_entities(entities, None).expect("entities"),
            policies: PolicySet::from_str(POLICIES).expect("the policies parse"),
            authorizer: Authorizer::new(),
            connect: uid(&action_t, "supervisor.connect"),
            read: uid(&action_t, "workspace.read"),
            tenant_type: tenant_t,
        }
    }

    /// One request, from its raw headers to Cedar's decision.
    fn decide(&self, policy: &Policy, req: &Request) -> bool {
        let Extraction::Token { token, .. } = extract(policy, &req.headers) else {
            return false;
        };
        let Some(p) = self.by_token.get(&TokenHash::of(token)) else {
            return false;
        };
        let action = match req.action.as_str() {
            "supervisor.connect" => &self.connect,
            "workspace.read" => &self.read,
            _ => return false,
        };
        let Some(tenant) = req.tenant.as_deref().or(p.tenant.as_deref()) else {
            return false;
        };
        let context = Context::from_pairs([
            ("now".to_string(), Rx::new_long(req.at.unix())),
            ("tenant".to_string(), Rx::new_string(tenant.to_string())),
        ])
        .expect("a context");
        let request = CedarRequest::new(
            p.uid.clone(),
            action.clone(),
            uid(&self.tenant_type, tenant),
            context,
            None,
        )
        .expect("a request");
        self.authorizer
            .is_authorized(&request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }
}

/// Requests of each compared class: the API-key action's allow and denies,
/// and the session action's.
fn classes(snap: &Snapshot, state: &State, policy: &Policy) -> Vec<(&'static str, Vec<Request>)> {
    let want: [(&str, Option<&str>); 9] = [
        ("key/allow", None),
        ("key/api_key_revoked", Some("api_key_revoked")),
        ("key/cross_tenant", Some("cross_tenant")),
        ("key/insufficient_role", Some("insufficient_role")),
        ("key/missing_capability", Some("missing_capability")),
        ("session/allow", None),
        ("session/session_expired", Some("session_expired")),
        ("session/not_a_member", Some("not_a_member")),
        ("session/api_key_not_found", None),
    ];
    let mut rng = SplitMix64::new(common::SEED ^ 0xced4);
    let mut out = Vec::new();
    for (name, reason) in want {
        let mut reqs = Vec::new();
        let mut tries = 0;
        while reqs.len() < 1024 && tries < 500_000 {
            tries += 1;
            let k = rng.below(snap.api_keys.len());
            let s = rng.below(snap.sessions.len());
            let other = &snap.tenants[rng.below(snap.tenants.len())].id;
            let r = match name {
                "key/cross_tenant" => common::key_request(k, "supervisor.connect", Some(other)),
                n if n.starts_with("key/") => common::key_request(k, "supervisor.connect", None),
                "session/not_a_member" => common::session_request(s, "workspace.read", Some(other)),
                "session/api_key_not_found" => {
                    // An unknown token: both sides stop at the lookup.
                    let mut r = common::key_request(k, "supervisor.connect", None);
                    r.headers = authproof_engine::Headers::new([(
                        "x-api-key",
                        common::unknown_token(k, true),
                    )])
                    .expect("one header");
                    r
                }
                _ => common::session_request(s, "workspace.read", snap.sessions[s].tenant.as_ref()),
            };
            let d = state.decide(policy, &r);
            let ok = match (name, reason) {
                ("session/api_key_not_found", _) => {
                    d.reason == Some(authproof_engine::Reason::ApiKeyNotFound)
                }
                (_, None) => d.is_allow(),
                (_, Some(code)) => d.reason.is_some_and(|x| x.code() == code),
            };
            if ok {
                reqs.push(r);
            }
        }
        out.push((name, reqs));
    }
    out
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let policy = common::policy();
    for n in common::bench_sizes() {
        let label = common::label(n);
        let (snap, _meta) = common::generate(n);
        let state = State::from_snapshot(snap.clone()).expect("integrity");
        let t = Instant::now();
        let before = common::rss_bytes().unwrap_or(0);
        let cedar = CedarSide::build(&snap);
        let after = common::rss_bytes().unwrap_or(0);
        eprintln!(
            "cedar {label}: entities and policies built in {:.1?}, about {:.0} MB resident",
            t.elapsed(),
            after.saturating_sub(before) as f64 / 1e6
        );
        let t = Instant::now();
        let cedar3 = v3::CedarSide::build(&snap);
        let after3 = common::rss_bytes().unwrap_or(0);
        eprintln!(
            "cedar3 {label}: entities and policies built in {:.1?}, about {:.0} MB resident",
            t.elapsed(),
            after3.saturating_sub(after) as f64 / 1e6
        );
        let classes = classes(&snap, &state, &policy);
        // Same authorization: every request gets the same allow/deny.
        for (name, reqs) in &classes {
            for r in reqs {
                let allowed = state.decide(&policy, r).is_allow();
                assert_eq!(
                    allowed,
                    cedar.decide(&policy, r),
                    "{name}: authproof and Cedar 4 disagree"
                );
                assert_eq!(
                    allowed,
                    cedar3.decide(&policy, r),
                    "{name}: authproof and Cedar 3 disagree"
                );
            }
        }
        let mut g = c.benchmark_group(format!("cedar_vs/{label}"));
        for (name, reqs) in &classes {
            if reqs.is_empty() {
                eprintln!("{name}: no request of this class at {label}");
                continue;
            }
            g.bench_function(format!("{name}/authproof"), |b| {
                let mut i = 0usize;
                b.iter(|| {
                    let r = &reqs[i % reqs.len()];
                    i = i.wrapping_add(1);
                    black_box(state.decide(&policy, black_box(r)).is_allow())
                })
            });
            g.bench_function(format!("{name}/cedar"), |b| {
                let mut i = 0usize;
                b.iter(|| {
                    let r = &reqs[i % reqs.len()];
                    i = i.wrapping_add(1);
                    black_box(cedar.decide(&policy, black_box(r)))
                })
            });
            g.bench_function(format!("{name}/cedar3"), |b| {
                let mut i = 0usize;
                b.iter(|| {
                    let r = &reqs[i % reqs.len()];
                    i = i.wrapping_add(1);
                    black_box(cedar3.decide(&policy, black_box(r)))
                })
            });
        }
        g.finish();
        print_ratios(&label, &classes);
    }
    c.final_summary();
}

/// Criterion's output directory: `CRITERION_HOME`, else `criterion/` in the
/// target directory this bench binary was built into
/// (`target/release/deps/cedar-…`).
fn criterion_home() -> Option<std::path::PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// The median (ns) criterion just estimated for `cedar_vs/{label}/{id}`,
/// if this run measured it (criterion writes `/` in ids as `_`).
fn median_ns(label: &str, id: &str) -> Option<f64> {
    let dir = criterion_home()?
        .join(format!("cedar_vs_{label}"))
        .join(id.replace('/', "_"));
    let json = std::fs::read(dir.join("new").join("estimates.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// One line per class: authproof's median and each Cedar version's, and
/// how many times slower Cedar is.
fn print_ratios(label: &str, classes: &[(&str, Vec<Request>)]) {
    println!("cedar_vs/{label}: medians (ns) and Cedar / authproof");
    for (name, reqs) in classes {
        if reqs.is_empty() {
            continue;
        }
        let get = |side: &str| median_ns(label, &format!("{name}/{side}"));
        let (Some(a), c4, c3) = (get("authproof"), get("cedar"), get("cedar3")) else {
            continue; // filtered out of this run
        };
        let show = |c: Option<f64>| match c {
            Some(c) => format!("{c:.0} ({:.2}x)", c / a),
            None => "-".to_string(),
        };
        println!(
            "ratio {label} {name}: authproof {a:.0}  cedar4 {}  cedar3 {}",
            show(c4),
            show(c3)
        );
    }
}

/// The Cedar 3 side: the same authorization without entity tags (Cedar 3
/// has none), a membership being an entity the host names in the context.
mod v3 {
    use std::{
        collections::{HashMap, HashSet},
        str::FromStr,
    };

    use authproof_engine::{
        credential::{extract, Extraction},
        snapshot::Snapshot,
        Policy, Request, TokenHash,
    };
    use cedar3::{
        Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
        PolicySet, Request as CedarRequest, RestrictedExpression as Rx,
    };

    const POLICIES: &str = r#"
permit (principal is ApiKey, action == Action::"supervisor.connect", resource is Tenant)
when {
  principal has tenant && principal.tenant == resource &&
  principal.created_at <= context.now &&
  !(principal has deleted_at && principal.deleted_at <= context.now) &&
  !(principal has revoked_at && principal.revoked_at <= context.now) &&
  principal.enabled &&
  !(principal has expires_at && principal.expires_at <= context.now) &&
  !principal.owner.banned &&
  context.membership.user == principal.owner &&
  context.membership.tenant == resource &&
  context.membership.since <= context.now &&
  !resource.suspended &&
  ["owner", "admin"].contains(context.membership.role) &&
  (principal.capabilities == [] || principal.capabilities.contains("supervisor"))
};

permit (principal is Session, action == Action::"workspace.read", resource is Tenant)
when {
  principal.created_at <= context.now &&
  !(principal has revoked_at && principal.revoked_at <= context.now) &&
  context.now < principal.expires_at &&
  !principal.user.banned &&
  context.membership.user == principal.user &&
  context.membership.tenant == resource &&
  context.membership.since <= context.now &&
  !resource.suspended
};
"#;

    /// The principal's uid, its user (to name the membership) and its
    /// bound or active tenant.
    struct Principal {
        uid: EntityUid,
        user: String,
        tenant: Option<String>,
    }

    pub struct CedarSide {
        by_token: HashMap<TokenHash, Principal>,
        entities: Entities,
        policies: PolicySet,
        authorizer: Authorizer,
        tenant_type: EntityTypeName,
        membership_type: EntityTypeName,
        connect: EntityUid,
        read: EntityUid,
    }

    fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    /// A membership's entity id: ids hold no control character.
    fn membership_id(user: &str, tenant: &str) -> String {
        let mut s = String::with_capacity(user.len() + 1 + tenant.len());
        s.push_str(user);
        s.push('\u{1}');
        s.push_str(tenant);
        s
    }

    fn long(t: authproof_engine::Timestamp) -> Rx {
        Rx::new_long(t.unix())
    }

    fn entity(uid: EntityUid, attrs: Vec<(&str, Rx)>) -> Entity {
        let attrs: HashMap<String, Rx> =
            attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Entity::new(uid, attrs, HashSet::new()).expect("an entity")
    }

    impl CedarSide {
        pub fn build(snap: &Snapshot) -> CedarSide {
            let ty = |s: &str| EntityTypeName::from_str(s).expect("a type name");
            let (user_t, tenant_t, key_t, session_t, action_t, membership_t) = (
                ty("User"),
                ty("Tenant"),
                ty("ApiKey"),
                ty("Session"),
                ty("Action"),
                ty("Membership"),
            );
            let mut entities: Vec<Entity> = Vec::with_capacity(
                snap.users.len()
                    + snap.tenants.len()
                    + snap.memberships.len()
                    + snap.api_keys.len()
                    + snap.sessions.len(),
            );
            for t in &snap.tenants {
                entities.push(entity(
                    uid(&tenant_t, &t.id),
                    vec![("suspended", Rx::new_bool(t.suspended))],
                ));
            }
            for u in &snap.users {
                entities.push(entity(
                    uid(&user_t, &u.id),
                    vec![("banned", Rx::new_bool(u.banned))],
                ));
            }
            for m in &snap.memberships {
                entities.push(entity(
                    uid(&membership_t, &membership_id(&m.user, &m.tenant)),
                    vec![
                        ("user", Rx::new_entity_uid(uid(&user_t, &m.user))),
                        ("tenant", Rx::new_entity_uid(uid(&tenant_t, &m.tenant))),
                        ("role", Rx::new_string(m.role.to_string())),
                        ("since", long(m.since)),
                    ],
                ));
            }
            let mut by_token = HashMap::with_capacity(snap.api_keys.len() + snap.sessions.len());
            for k in &snap.api_keys {
                let mut attrs = vec![
                    ("owner", Rx::new_entity_uid(uid(&user_t, &k.owner))),
                    (
                        "capabilities",
                        Rx::new_set(k.capabilities.iter().map(|c| Rx::new_string(c.to_string()))),
                    ),
                    ("enabled", Rx::new_bool(k.enabled)),
                    ("created_at", long(k.created_at)),
                ];
                if let Some(t) = &k.tenant {
                    attrs.push(("tenant", Rx::new_entity_uid(uid(&tenant_t, t))));
                }
                for (name, t) in [
                    ("expires_at", k.expires_at),
                    ("revoked_at", k.revoked_at),
                    ("deleted_at", k.deleted_at),
                ] {
                    if let Some(t) = t {
                        attrs.push((name, long(t)));
                    }
                }
                let key_uid = uid(&key_t, &k.id);
                entities.push(entity(key_uid.clone(), attrs));
                by_token.insert(
                    k.token_sha256,
                    Principal {
                        uid: key_uid,
                        user: k.owner.to_string(),
                        tenant: k.tenant.as_ref().map(|t| t.to_string()),
                    },
                );
            }
            for s in &snap.sessions {
                let mut attrs = vec![
                    ("user", Rx::new_entity_uid(uid(&user_t, &s.user))),
                    ("created_at", long(s.created_at)),
                    ("expires_at", long(s.expires_at)),
                ];
                if let Some(t) = s.revoked_at {
                    attrs.push(("revoked_at", long(t)));
                }
                let session_uid = uid(&session_t, &s.id);
                entities.push(entity(session_uid.clone(), attrs));
                by_token.insert(
                    s.token_sha256,
                    Principal {
                        uid: session_uid,
                        user: s.user.to_string(),
                        tenant: s.tenant.as_ref().map(|t| t.to_string()),
                    },
                );
            }
            CedarSide {
                by_token,
                entities: Entities::from_entities(entities, None).expect("entities"),
                policies: PolicySet::from_str(POLICIES).expect("the policies parse"),
                authorizer: Authorizer::new(),
                connect: uid(&action_t, "supervisor.connect"),
                read: uid(&action_t, "workspace.read"),
                tenant_type: tenant_t,
                membership_type: membership_t,
            }
        }

        /// One request, from its raw headers to Cedar's decision.
        pub fn decide(&self, policy: &Policy, req: &Request) -> bool {
            let Extraction::Token { token, .. } = extract(policy, &req.headers) else {
                return false;
            };
            let Some(p) = self.by_token.get(&TokenHash::of(token)) else {
                return false;
            };
            let action = match req.action.as_str() {
                "supervisor.connect" => &self.connect,
                "workspace.read" => &self.read,
                _ => return false,
            };
            let Some(tenant) = req.tenant.as_deref().or(p.tenant.as_deref()) else {
                return false;
            };
            let context = Context::from_pairs([
                ("now".to_string(), Rx::new_long(req.at.unix())),
                (
                    "membership".to_string(),
                    Rx::new_entity_uid(uid(&self.membership_type, &membership_id(&p.user, tenant))),
                ),
            ])
            .expect("a context");
            let request = CedarRequest::new(
                Some(p.uid.clone()),
                Some(action.clone()),
                Some(uid(&self.tenant_type, tenant)),
                context,
                None,
            )
            .expect("a request");
            self.authorizer
                .is_authorized(&request, &self.policies, &self.entities)
                .decision()
                == Decision::Allow
        }
    }
}
