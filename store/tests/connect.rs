//! Failed connections, for real: each says why it failed, names where it
//! tried, and never prints a credential of the URL or a raw control
//! character.

use crate::common;

use authproof_store::{redact, ConnectFailure, ErrorKind, Store};

/// Opens `url`, expecting a connection failure; returns it and its message
/// after checking the message holds no secret and no control character.
fn failure(url: &str) -> (ConnectFailure, String) {
    let e = Store::open(url).expect_err(url);
    let msg = e.to_string();
    eprintln!("{msg}");
    assert!(!msg.contains("SECRET"), "{url:?}: {msg}");
    assert!(!msg.chars().any(char::is_control), "{url:?}: {msg:?}");
    match e.connect_failure() {
        Some(failure) => (failure, msg),
        None => panic!("{url:?}: not a connection failure: {e}"),
    }
}

/// A TCP port on which nothing listens (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_closed_port_is_connection_refused() {
    let port = closed_port();
    let url =
        format!("postgres://alice:SECRET@127.0.0.1:{port}/db?sslmode=disable&password=SECRET2");
    let (f, msg) = failure(&url);
    assert_eq!(f, ConnectFailure::Refused, "{msg}");
    assert!(msg.contains("connection refused"), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(msg.contains("alice:***@"), "{msg}");
    assert!(msg.contains("password=***"), "{msg}");
}

#[test]
fn a_missing_socket_is_not_found() {
    let dir = format!("%2Ftmp%2Fauthproof-no-such-dir-{}", std::process::id());
    let (f, msg) = failure(&format!("postgresql://u:SECRET@{dir}/db"));
    assert_eq!(f, ConnectFailure::NotFound, "{msg}");
    assert!(msg.contains(".s.PGSQL.5432"), "{msg}");
}

#[test]
fn an_unknown_host_is_a_dns_failure() {
    let (f, msg) = failure("postgres://u:SECRET@no-such-host.invalid/db");
    assert_eq!(f, ConnectFailure::Dns, "{msg}");
    assert!(msg.contains("no-such-host.invalid"), "{msg}");
    // An escape sequence in the host is printed escaped.
    let (f, msg) = failure("postgres://u:SECRET@\u{1b}[2Jevil.invalid/db");
    assert_eq!(f, ConnectFailure::Dns, "{msg}");
    assert!(msg.contains("\\u{1b}[2J"), "{msg}");
}

#[test]
fn sqlite_says_why_a_file_cannot_be_opened() {
    let dir = std::env::temp_dir().join(format!(
        "authproof-no-such-dir-{}\u{1b}[31m",
        std::process::id()
    ));
    let (f, msg) = failure(&format!("sqlite:{}/a.db", dir.display()));
    assert_eq!(f, ConnectFailure::NotFound, "{msg}");
    assert!(msg.contains("no such directory"), "{msg}");
}

#[test]
fn malformed_urls_are_refused_before_connecting() {
    for url in [
        "postgres://u:SECRET@h/db?password=SECRET&no_such_option=1",
        "postgres://u:SECRET@[::1/db",
        "host=localhost password=SECRET",
        "mysql://u:SECRET@h/db",
        "",
    ] {
        let e = Store::open(url).expect_err(url);
        let msg = e.to_string();
        eprintln!("{msg}");
        assert_eq!(e.kind(), ErrorKind::Url, "{url:?}: {msg}");
        assert!(!msg.contains("SECRET"), "{url:?}: {msg}");
    }
}

/// The PostgreSQL under test refuses an unknown role and names a missing
/// database.
#[test]
fn postgres_authentication_and_missing_database() {
    let Some(url) = common::pg_database("connect") else {
        return;
    };
    common::open(&url);
    // The role: replace the user info of the test URL.
    let (scheme, rest) = url.split_once("://").unwrap();
    let host_etc = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let bad_role = format!("{scheme}://no_such_role:SECRET@{host_etc}");
    let (f, msg) = failure(&bad_role);
    assert_eq!(f, ConnectFailure::Authentication, "{msg}");
    assert!(msg.contains("no_such_role"), "{msg}");
    let (f, msg) = failure(&common::with_database(&url, "no_such_database"));
    assert_eq!(f, ConnectFailure::NoDatabase, "{msg}");
    assert!(msg.contains("no_such_database"), "{msg}");
}

#[test]
fn redact_is_public_for_callers_that_print_urls() {
    assert_eq!(
        redact("postgres://u:SECRET@h/db?password=SECRET"),
        "postgres://u:***@h/db?password=***"
    );
}

/// `sslmode=require` against a server that offers TLS: this build has no
/// TLS, and says so (a fake server answers the SSLRequest with `S`).
#[test]
fn tls_is_reported_as_unsupported() {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut request = [0u8; 8];
        s.read_exact(&mut request).unwrap();
        s.write_all(b"S").unwrap();
        // Hold the connection until the client gives up.
        let _ = s.read(&mut [0u8; 1]);
    });
    let (f, msg) = failure(&format!(
        "postgres://u:SECRET@127.0.0.1:{port}/db?sslmode=require"
    ));
    assert_eq!(f, ConnectFailure::Tls, "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    server.join().unwrap();
}
