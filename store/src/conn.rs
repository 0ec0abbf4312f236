//! Connection strings and connecting: which database a URL names, the URL
//! as it may be printed (every credential masked, no raw control
//! characters), and why a connection failed.
//!
//! Masking does not trust one reading of the string. PostgreSQL URLs are
//! parsed loosely by libpq and by the driver (`tokio-postgres` ends the
//! user info at the *first* `@`, RFC 3986 at the *last* `@` before the
//! path), and a password typed without percent-encoding may hold `@`, `/`,
//! `?` or `&`. [`redact`] computes the secret spans under both readings and
//! masks their union, so a password is masked whichever way a parser would
//! split the string; it over-masks a strange URL rather than print a
//! secret. `key=value` strings (libpq's other syntax) are masked the same
//! way, by libpq's own quoting rules.

use std::{fmt, io, net::ToSocketAddrs, path::Path, time::Duration};

use crate::error::{Error, Repr};

/// Which database a URL names.
#[derive(Clone, PartialEq, Eq)]
pub enum Url {
    /// `sqlite:PATH`; `sqlite::memory:` is a private in-memory database.
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`, checked by the driver's parser
    /// and passed to it as is.
    Postgres(String),
}

/// Redacted: a `Url` may be logged with `{:?}`.
impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Url::Sqlite(p) => write!(f, "Sqlite({:?})", printable(p)),
            Url::Postgres(u) => write!(f, "Postgres({:?})", redact(u)),
        }
    }
}

/// The URL as it may be printed: [`redact`]ed.
impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Url::Sqlite(p) => write!(f, "sqlite:{}", printable(p)),
            Url::Postgres(u) => f.write_str(&redact(u)),
        }
    }
}

impl Url {
    /// Parses a `--db` URL. PostgreSQL URLs are checked with the driver's
    /// own parser, so a malformed one fails here, with a message that
    /// never holds a credential.
    pub fn parse(url: &str) -> Result<Url, Error> {
        let refuse = |why: &str| Repr::Url {
            url: if url.is_empty() {
                "\"\"".to_string()
            } else {
                redact(url)
            },
            why: why.to_string(),
        };
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(refuse("sqlite: needs a path (or :memory:)").into());
            }
            Ok(Url::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url.parse::<postgres::Config>()
                .map_err(|e| refuse(&driver_message(&e)))?;
            Ok(Url::Postgres(url.to_string()))
        } else if !url.contains("://") && url.contains('=') {
            Err(refuse("key=value connection strings are not accepted: write postgres://…").into())
        } else {
            Err(refuse(
                "unsupported database URL: expected sqlite:PATH, postgres://… or postgresql://…",
            )
            .into())
        }
    }
}

// ---- printing ---------------------------------------------------------------

/// The longest text [`printable`] returns (then cut, with `…`).
const MAX_PRINTED: usize = 1000;

/// `s` safe to print on a terminal: control characters (escape sequences,
/// newlines, NUL, DEL, C1) and invisible or direction-changing characters
/// are written as `\u{…}` (`\n`, `\r`, `\t` as such); at most
/// [`MAX_PRINTED`] characters.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_PRINTED));
    for (i, c) in s.chars().enumerate() {
        if i == MAX_PRINTED {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
                    | '\u{2060}'..='\u{2069}' | '\u{FEFF}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// A connection string as it may be printed: the password of the user
/// info, the value of every credential parameter (`password`,
/// `sslpassword`, `passfile`, `sslkey`, any key naming a pass, secret,
/// token, key or credential; keys compared percent-decoded and in any
/// case), every query segment that is not `key=value` and any fragment
/// become `***`; then [`printable`]. Works on any string — URL, `key=value`
/// list, or neither — and never fails.
pub fn redact(s: &str) -> String {
    let masked = if s.starts_with("sqlite:") {
        s.to_string()
    } else if let Some(i) = s.find("://") {
        let rest = &s[i + 3..];
        format!("{}://{}", &s[..i], mask(rest, &url_secrets(rest)))
    } else if s.contains('=') {
        mask(s, &dsn_secrets(s))
    } else {
        // No scheme: perhaps `user:password@host/db`.
        mask(s, &url_secrets(s))
    };
    printable(&masked)
}

/// Whether a parameter key names a credential.
fn is_secret_key(key: &str) -> bool {
    let k = percent_decode(key).to_ascii_lowercase();
    ["pass", "secret", "token", "key", "cred"]
        .iter()
        .any(|w| k.contains(w))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replaces the byte ranges `spans` (merged) of `s` with `***`.
fn mask(s: &str, spans: &[(usize, usize)]) -> String {
    let mut spans: Vec<(usize, usize)> = spans.iter().copied().filter(|(a, b)| a < b).collect();
    spans.sort_unstable();
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for (a, b) in spans {
        if b <= at {
            continue;
        }
        let a = a.max(at);
        out.push_str(&s[at..a]);
        out.push_str("***");
        at = b;
    }
    out.push_str(&s[at..]);
    out
}

/// The secret byte ranges of a URL after its `scheme://`, under both
/// readings of where the user info ends (see the module documentation).
fn url_secrets(rest: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    // A fragment is never needed to connect: mask it whole.
    let end = match rest.find('#') {
        Some(h) => {
            spans.push((h + 1, rest.len()));
            h
        }
        None => rest.len(),
    };
    // The driver's reading, on the whole string (it knows no fragment):
    // the user info ends at the first `@`.
    if let Some(at) = rest.find('@') {
        if let Some(colon) = rest[..at].find(':') {
            spans.push((colon + 1, at));
        }
        let after = at + 1;
        if let Some(q) = rest[after..].find('?') {
            query_secrets(rest, after + q + 1, &mut spans);
        }
    }
    let body = &rest[..end];
    // RFC 3986: the authority ends at `/`, `?` or `#`; the user info at
    // its last `@`.
    let auth_end = body.find(['/', '?']).unwrap_or(body.len());
    if let Some(at) = body[..auth_end].rfind('@') {
        if let Some(colon) = body[..at].find(':') {
            spans.push((colon + 1, at));
        }
    }
    if let Some(q) = body.find('?') {
        query_secrets(body, q + 1, &mut spans);
    }
    spans
}

/// Secret ranges of the query `s[start..]`: values of credential keys, and
/// whole segments that are not `key=value`.
fn query_secrets(s: &str, start: usize, spans: &mut Vec<(usize, usize)>) {
    let mut at = start;
    for seg in s[start..].split('&') {
        match seg.find('=') {
            Some(eq) if is_secret_key(&seg[..eq]) => spans.push((at + eq + 1, at + seg.len())),
            Some(_) => {}
            None => spans.push((at, at + seg.len())),
        }
        at += seg.len() + 1;
    }
}

/// Secret ranges of a libpq `key=value` string: the values of credential
/// keys (quoted with `'…'` or bare, `\` escaping, as libpq reads them);
/// from a syntax error on, the rest of the string.
fn dsn_secrets(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i == b.len() {
            return spans;
        }
        let k = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' {
            i += 1;
        }
        let key = &s[k..i];
        skip_ws(&mut i);
        if i == b.len() || b[i] != b'=' {
            spans.push((k, s.len()));
            return spans;
        }
        i += 1;
        skip_ws(&mut i);
        let v = i;
        let quoted = i < b.len() && b[i] == b'\'';
        if quoted {
            i += 1;
        }
        let mut closed = !quoted;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 1,
                b'\'' if quoted => {
                    closed = true;
                    i += 1;
                    break;
                }
                c if !quoted && c.is_ascii_whitespace() => break,
                _ => {}
            }
            i += 1;
        }
        let i_end = i.min(b.len());
        if !closed {
            spans.push((v, s.len()));
            return spans;
        }
        if is_secret_key(key) {
            spans.push((v, i_end));
        }
        i = i_end;
    }
}

// ---- connecting -------------------------------------------------------------

/// Why a connection could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing listens on that host and port.
    Refused,
    /// The host name does not resolve.
    Dns,
    /// The server refused the credentials (or the role), or asked for a
    /// password the URL does not give.
    Authentication,
    /// The database named does not exist.
    NoDatabase,
    /// No server socket, or no SQLite file's directory, at that path.
    NotFound,
    /// The socket or the file may not be opened by this user.
    PermissionDenied,
    /// The server did not answer in time.
    Timeout,
    /// TLS was asked for; this build connects without TLS.
    Tls,
    /// Anything else (the detail says what).
    Other,
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectFailure::Refused => "connection refused",
            ConnectFailure::Dns => "DNS lookup failed",
            ConnectFailure::Authentication => "authentication failed",
            ConnectFailure::NoDatabase => "no such database",
            ConnectFailure::NotFound => "not found",
            ConnectFailure::PermissionDenied => "permission denied",
            ConnectFailure::Timeout => "timed out",
            ConnectFailure::Tls => "TLS is not supported",
            ConnectFailure::Other => "connection failed",
        })
    }
}

/// How long a PostgreSQL connection attempt may take when the URL does not
/// set `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the PostgreSQL server `url` names.
pub(crate) fn connect_postgres(url: &str) -> Result<postgres::Client, Error> {
    let mut config: postgres::Config = url.parse().map_err(|e| Repr::Url {
        url: redact(url),
        why: driver_message(&e),
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.connect(postgres::NoTls).map_err(|e| {
        let (failure, detail) = classify(&e, &config);
        Repr::Connect {
            url: redact(url),
            failure,
            detail,
        }
        .into()
    })
}

/// The driver's message, printable (it holds no password: the driver
/// never prints one, and option errors name the key only).
fn driver_message(e: &dyn std::error::Error) -> String {
    let mut m = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !m.contains(&text) {
            m = format!("{m}: {text}");
        }
        source = s.source();
    }
    printable(&m)
}

/// Where the driver tried to connect, for messages.
fn targets(config: &postgres::Config) -> String {
    use postgres::config::Host;
    let ports = config.get_ports();
    let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
    let hosts = config.get_hosts();
    if hosts.is_empty() {
        return format!("the default socket, port {}", port(0));
    }
    let all: Vec<String> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| match h {
            Host::Tcp(h) => format!("{}:{}", printable(h), port(i)),
            #[cfg(unix)]
            Host::Unix(dir) => format!(
                "socket {}",
                printable(&dir.join(format!(".s.PGSQL.{}", port(i))).to_string_lossy())
            ),
        })
        .collect();
    all.join(", ")
}

/// The reason a connection failed, and a printable detail.
fn classify(e: &postgres::Error, config: &postgres::Config) -> (ConnectFailure, String) {
    let at = targets(config);
    if let Some(db) = e.as_db_error() {
        let failure = match db.code().code() {
            // invalid_password, invalid_authorization_specification
            // (no such role, no pg_hba.conf entry).
            "28P01" | "28000" => ConnectFailure::Authentication,
            "3D000" => ConnectFailure::NoDatabase,
            _ => ConnectFailure::Other,
        };
        return (
            failure,
            format!("{} ({}) at {at}", printable(db.message()), db.code().code()),
        );
    }
    let text = driver_message(e);
    if text.contains("password missing") {
        return (
            ConnectFailure::Authentication,
            format!("the server at {at} asks for a password and the URL gives none"),
        );
    }
    if text.contains("TLS") {
        return (
            ConnectFailure::Tls,
            format!("{text} (at {at}; sslmode=require needs TLS, which this build lacks)"),
        );
    }
    let io = std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .find_map(|e| e.downcast_ref::<io::Error>());
    let failure = io.map_or(ConnectFailure::Other, io_failure);
    let failure = if failure == ConnectFailure::Other && !resolves(config) {
        ConnectFailure::Dns
    } else {
        failure
    };
    let detail = match failure {
        ConnectFailure::Refused => format!("nothing listens on {at}"),
        ConnectFailure::Dns => format!(
            "the host of {at} does not resolve ({})",
            text.trim_start_matches("error connecting to server: ")
        ),
        ConnectFailure::NotFound => format!("no server at {at}"),
        ConnectFailure::PermissionDenied => format!("may not connect to {at}"),
        ConnectFailure::Timeout => format!("no answer from {at}"),
        _ => format!("{text} (at {at})"),
    };
    (failure, detail)
}

/// The failure an I/O error of a connection attempt means.
fn io_failure(e: &io::Error) -> ConnectFailure {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ConnectFailure::Refused,
        io::ErrorKind::NotFound => ConnectFailure::NotFound,
        io::ErrorKind::PermissionDenied => ConnectFailure::PermissionDenied,
        io::ErrorKind::TimedOut => ConnectFailure::Timeout,
        _ => {
            let m = e.to_string().to_ascii_lowercase();
            if m.contains("lookup address")
                || m.contains("name or service not known")
                || m.contains("name resolution")
                || m.contains("nodename nor servname")
                || m.contains("no address associated")
            {
                ConnectFailure::Dns
            } else {
                ConnectFailure::Other
            }
        }
    }
}

/// Whether every TCP host of `config` resolves (unix sockets do not need
/// to). Asked only after a connection failed for an unclassified reason.
fn resolves(config: &postgres::Config) -> bool {
    use postgres::config::Host;
    config.get_hosts().iter().all(|h| match h {
        Host::Tcp(h) => (h.as_str(), 5432).to_socket_addrs().is_ok(),
        #[cfg(unix)]
        Host::Unix(_) => true,
    })
}

/// Opens the SQLite database at `path`, saying why it cannot be opened.
pub(crate) fn open_sqlite(path: &str) -> Result<rusqlite::Connection, Error> {
    let opened = if path == ":memory:" {
        rusqlite::Connection::open_in_memory()
    } else {
        rusqlite::Connection::open(path)
    };
    opened.map_err(|e| {
        let p = Path::new(path);
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        let (failure, detail) = if dir.is_some_and(|d| !d.is_dir()) {
            (ConnectFailure::NotFound, "no such directory".to_string())
        } else if p.is_dir() {
            (ConnectFailure::Other, "the path is a directory".to_string())
        } else {
            let probe = if p.exists() {
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(p)
                    .err()
            } else {
                None
            };
            match probe {
                Some(io) if io.kind() == io::ErrorKind::PermissionDenied => (
                    ConnectFailure::PermissionDenied,
                    "the file may not be read and written by this user".to_string(),
                ),
                _ => (ConnectFailure::Other, printable(&e.to_string())),
            }
        };
        Repr::Connect {
            url: format!("sqlite:{}", printable(path)),
            failure,
            detail,
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each shape: the input, the secrets that must not appear, and text
    /// that must still be there.
    const SHAPES: &[(&str, &[&str], &[&str])] = &[
        (
            "postgres://u:SECRET@h/db",
            &["SECRET"],
            &["postgres://u:***@h/db"],
        ),
        (
            "postgresql://u:SECRET@h:5433/db",
            &["SECRET"],
            &["u:***@h:5433/db"],
        ),
        (
            "postgres://u@h/db?password=SECRET",
            &["SECRET"],
            &["?password=***"],
        ),
        (
            "postgres://u@h/db?sslmode=disable&password=SECRET&application_name=x",
            &["SECRET"],
            &["sslmode=disable&password=***&application_name=x"],
        ),
        (
            "postgres://h/db?sslpassword=SECRET",
            &["SECRET"],
            &["sslpassword=***"],
        ),
        (
            "postgres://h/db?passfile=/home/SECRET",
            &["SECRET"],
            &["passfile=***"],
        ),
        (
            "postgres://h/db?sslkey=/k/SECRET.key",
            &["SECRET"],
            &["sslkey=***"],
        ),
        ("postgres://h/db?PASSWORD=SECRET", &["SECRET"], &[]),
        ("postgres://h/db?pass%77ord=SECRET", &["SECRET"], &[]),
        ("postgres://h/db?password=SEC&RET", &["SEC"], &[]),
        ("postgres://h/db?password=SE@CRET", &["SE", "CRET"], &[]),
        ("postgres://h/db?SECRET", &["SECRET"], &[]),
        ("postgres://u:SE@CRET@h/db", &["SE", "CRET"], &["@h/db"]),
        ("postgres://u:SE/CRET@h/db", &["SE", "CRET"], &[]),
        ("postgres://u:SE?CRET@h/db", &["SE", "CRET"], &[]),
        ("postgres://u:SE#CRET@h/db", &["SE", "CRET"], &[]),
        ("postgres://u:S%40CRET@h/db", &["S%40CRET"], &["@h/db"]),
        ("postgres://u:@h/db", &[], &["postgres://u:@h/db"]),
        ("postgres://h/db#SECRET", &["SECRET"], &[]),
        (
            "postgres://u@%2Ftmp%2Fpg/db",
            &[],
            &["postgres://u@%2Ftmp%2Fpg/db"],
        ),
        (
            "postgres://h/db?user=me@corp&password=SECRET",
            &["SECRET"],
            &[],
        ),
        (
            "mysql://u:SECRET@h/db",
            &["SECRET"],
            &["mysql://u:***@h/db"],
        ),
        ("u:SECRET@h/db", &["SECRET"], &["u:***@h/db"]),
        (
            "host=h password=SECRET dbname=d",
            &["SECRET"],
            &["password=*** dbname=d"],
        ),
        (
            "host=h password = SECRET dbname=d",
            &["SECRET"],
            &["dbname=d"],
        ),
        (
            "host=h password='SE CRET' dbname=d",
            &["SE", "CRET"],
            &["dbname=d"],
        ),
        (
            "host=h password='SE\\' CRET' dbname=d",
            &["SE", "CRET"],
            &["dbname=d"],
        ),
        (
            "host=h password=SE\\ CRET dbname=d",
            &["SE", "CRET"],
            &["dbname=d"],
        ),
        ("host=h password='SECRET", &["SECRET"], &["host=h"]),
        ("host=h sslpassword=SECRET", &["SECRET"], &[]),
        ("host=h password", &["password"], &["host=h"]),
        ("sqlite:/tmp/a.db", &[], &["sqlite:/tmp/a.db"]),
    ];

    #[test]
    fn redact_masks_every_credential_shape() {
        for (input, secrets, kept) in SHAPES {
            let r = redact(input);
            for s in *secrets {
                assert!(!r.contains(s), "{input:?} -> {r:?} shows {s:?}");
            }
            for k in *kept {
                assert!(r.contains(k), "{input:?} -> {r:?} lost {k:?}");
            }
            assert!(
                secrets.is_empty() || r.contains("***"),
                "{input:?} -> {r:?}"
            );
        }
    }

    #[test]
    fn redact_is_terminal_safe_and_bounded() {
        let r = redact("postgres://u:SECRET@h\u{1b}[31m/d\u{7}b\n\u{202e}x?password=\u{1b}]0;");
        assert!(!r.contains("SECRET"), "{r}");
        assert!(!r.chars().any(|c| c.is_control()), "{r:?}");
        assert!(
            r.contains("\\u{1b}[31m") && r.contains("\\n") && r.contains("\\u{202e}"),
            "{r}"
        );
        assert!(!r.contains("]0;"), "{r}");
        let long = format!("postgres://h/{}", "x".repeat(5000));
        assert!(redact(&long).chars().count() <= MAX_PRINTED + 1);
    }

    #[test]
    fn url_parse_checks_postgres_urls_without_echoing_secrets() {
        for bad in [
            "postgres://u:SECRET@h/db?password=SECRET2&bogus_option=1",
            "postgres://u:SECRET@h/db?SECRET3",
            "postgres://u:SECRET@[::1/db",
            "host=h password=SECRET",
            "mysql://u:SECRET@h/db",
            "\u{1b}[2Jsqlite",
        ] {
            let e = Url::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("SECRET"), "{bad:?}: {e}");
            assert!(!e.chars().any(|c| c.is_control()), "{bad:?}: {e:?}");
        }
        let e = Url::parse("postgres://h/db?bogus_option=1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown option `bogus_option`"), "{e}");
        let e = Url::parse("host=h dbname=d").unwrap_err().to_string();
        assert!(e.contains("key=value"), "{e}");
        let u = Url::parse("postgres://u:SECRET@h/db?password=SECRET").unwrap();
        assert!(!format!("{u:?} {u}").contains("SECRET"));
    }

    #[test]
    fn io_errors_name_their_reason() {
        use io::ErrorKind as K;
        for (kind, want) in [
            (K::ConnectionRefused, ConnectFailure::Refused),
            (K::NotFound, ConnectFailure::NotFound),
            (K::PermissionDenied, ConnectFailure::PermissionDenied),
            (K::TimedOut, ConnectFailure::Timeout),
        ] {
            assert_eq!(io_failure(&io::Error::from(kind)), want);
        }
        let dns =
            io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(io_failure(&dns), ConnectFailure::Dns);
        let dns = io::Error::other(
            "failed to lookup address information: Temporary failure in name resolution",
        );
        assert_eq!(io_failure(&dns), ConnectFailure::Dns);
    }
}
