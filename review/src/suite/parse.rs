//! Reading a suite file's structure with `toml_edit`, which keeps spans:
//! every error names the file, the line and the TOML path
//! (`case[3].expect.reason`), and never echoes a value.

use std::ops::Range;

use authproof_engine::{Effect, Error, Reason, Rejection, Verdict};
use serde_json::{Map, Number, Value};
use toml_edit::{ImDocument, Item, Table, TableLike, Value as TomlValue};

use super::{Expect, Mode, Parsed, ParsedCase, Written, VERSION};

/// A node of the document: an item, a value inside an array or inline
/// table, or a table of an array of tables.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Value(&'a TomlValue),
    Table(&'a Table),
}

impl<'a> Node<'a> {
    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
            Node::Table(t) => t.span(),
        }
    }

    fn table(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(i) => i.as_table_like(),
            Node::Value(v) => v.as_inline_table().map(|t| t as &dyn TableLike),
            Node::Table(t) => Some(t),
        }
    }

    fn value(self) -> Option<&'a TomlValue> {
        match self {
            Node::Item(Item::Value(v)) | Node::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The elements of an array or an array of tables.
    fn elements(self) -> Option<Vec<Node<'a>>> {
        match self {
            Node::Item(Item::ArrayOfTables(a)) => Some(a.iter().map(Node::Table).collect()),
            _ => match self.value()? {
                TomlValue::Array(a) => Some(a.iter().map(Node::Value).collect()),
                _ => None,
            },
        }
    }

    fn str(self) -> Option<&'a str> {
        self.value()?.as_str()
    }
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
}

impl Ctx<'_> {
    fn line(&self, span: Option<Range<usize>>) -> Option<usize> {
        let start = span?.start.min(self.text.len());
        Some(self.text[..start].matches('\n').count() + 1)
    }

    fn err(&self, line: Option<usize>, path: &str, message: impl std::fmt::Display) -> Error {
        Error::at_path(path, message).in_file(self.file, line)
    }

    /// The line of `node`, else `fallback`.
    fn at(&self, node: Node<'_>, fallback: Option<usize>) -> Option<usize> {
        self.line(node.span()).or(fallback)
    }

    /// Refuses keys of `table` outside `allowed`.
    fn only(
        &self,
        table: &dyn TableLike,
        allowed: &[&str],
        path: &str,
        line: Option<usize>,
    ) -> Result<(), Error> {
        for (k, _) in table.iter() {
            if !allowed.contains(&k) {
                let kl = self.line(table.key(k).and_then(|k| k.span())).or(line);
                return Err(self.err(
                    kl,
                    &join(path, k),
                    format!("unknown key; expected one of {}", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn string(&self, node: Node<'_>, path: &str, line: Option<usize>) -> Result<String, Error> {
        node.str()
            .map(str::to_string)
            .ok_or_else(|| self.err(self.at(node, line), path, "expected a string"))
    }

    /// A TOML value as JSON. Datetimes become their RFC 3339 text.
    fn json(&self, node: Node<'_>, path: &str, line: Option<usize>) -> Result<Value, Error> {
        let line = self.at(node, line);
        if let Some(t) = node.table() {
            let mut m = Map::new();
            for (k, item) in t.iter() {
                m.insert(
                    k.to_string(),
                    self.json(Node::Item(item), &join(path, k), line)?,
                );
            }
            return Ok(Value::Object(m));
        }
        if let Some(elements) = node.elements() {
            return elements
                .into_iter()
                .enumerate()
                .map(|(i, e)| self.json(e, &format!("{path}[{i}]"), line))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array);
        }
        let v = node
            .value()
            .ok_or_else(|| self.err(line, path, "expected a value"))?;
        Ok(match v {
            TomlValue::String(s) => Value::String(s.value().clone()),
            TomlValue::Integer(i) => Value::Number((*i.value()).into()),
            TomlValue::Float(f) => Value::Number(
                Number::from_f64(*f.value())
                    .ok_or_else(|| self.err(line, path, "expected a finite number"))?,
            ),
            TomlValue::Boolean(b) => Value::Bool(*b.value()),
            TomlValue::Datetime(d) => Value::String(d.value().to_string()),
            TomlValue::Array(_) | TomlValue::InlineTable(_) => unreachable!("handled above"),
        })
    }

    /// A request or command: an inline table, a table, or a string holding
    /// one JSON object (the form for JSON `null`, which TOML cannot write).
    fn written(&self, node: Node<'_>, path: &str, line: Option<usize>) -> Result<Written, Error> {
        let line = self.at(node, line);
        let json = match node.str() {
            Some(s) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| self.err(line, path, "a string here must hold one JSON object"))?,
            None if node.table().is_some() => self.json(node, path, line)?,
            None => {
                return Err(self.err(
                    line,
                    path,
                    "expected a table (or a string holding one JSON object)",
                ))
            }
        };
        Ok(Written {
            json,
            line,
            path: path.to_string(),
        })
    }

    fn steps(
        &self,
        node: Node<'_>,
        path: &str,
        line: Option<usize>,
    ) -> Result<Vec<Written>, Error> {
        let line = self.at(node, line);
        node.elements()
            .ok_or_else(|| self.err(line, path, "expected an array of commands"))?
            .into_iter()
            .enumerate()
            .map(|(i, e)| self.written(e, &format!("{path}[{i}]"), line))
            .collect()
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Parses a suite file's structure (SPEC: docs/TESTING.md). Pure: nothing
/// is read. `Mode::Run` requires every case's expectation.
pub fn parse(text: &str, file: &str, mode: Mode) -> Result<Parsed, Error> {
    let cx = Ctx { text, file };
    let doc = ImDocument::parse(text).map_err(|e| {
        // message() only: the rendered error quotes the input.
        let m = e.message().trim();
        cx.err(
            cx.line(e.span()),
            "(top level)",
            if m.is_empty() { "invalid TOML" } else { m },
        )
    })?;
    let root = doc.as_table();
    cx.only(
        root,
        &["version", "snapshot", "policy", "commands", "case"],
        "",
        None,
    )?;
    let get = |k: &str| root.get(k).map(Node::Item);

    match get("version") {
        None => return Err(cx.err(Some(1), "version", "missing key; expected version = 1")),
        Some(n) => {
            let ok = n.value().and_then(TomlValue::as_integer) == Some(VERSION);
            if !ok {
                return Err(cx.err(
                    cx.at(n, None),
                    "version",
                    "unsupported suite version (expected 1)",
                ));
            }
        }
    }
    let Some(snap) = get("snapshot") else {
        return Err(cx.err(
            Some(1),
            "snapshot",
            "missing key; expected the snapshot file's path, relative to this file",
        ));
    };
    let snapshot = cx.string(snap, "snapshot", None)?;
    let policy = get("policy")
        .map(|n| cx.string(n, "policy", None).map(|s| (s, cx.at(n, None))))
        .transpose()?;
    let setup = match get("commands") {
        Some(n) => cx.steps(n, "commands", None)?,
        None => Vec::new(),
    };
    let case_nodes = match get("case") {
        Some(n) => n
            .elements()
            .ok_or_else(|| cx.err(cx.at(n, None), "case", "expected [[case]] tables"))?,
        None => Vec::new(),
    };
    if case_nodes.is_empty() {
        return Err(cx.err(None, "case", "a suite needs at least one [[case]]"));
    }
    let mut cases = Vec::new();
    for (index, node) in case_nodes.into_iter().enumerate() {
        cases.push(parse_case(&cx, node, index, mode)?);
    }
    Ok(Parsed {
        file: file.to_string(),
        snapshot,
        snapshot_line: cx.at(snap, None),
        policy_line: policy.as_ref().and_then(|p| p.1),
        policy: policy.map(|p| p.0),
        setup,
        cases,
    })
}

fn parse_case(cx: &Ctx<'_>, node: Node<'_>, index: usize, mode: Mode) -> Result<ParsedCase, Error> {
    let path = format!("case[{index}]");
    let line = cx.at(node, None);
    let t = node
        .table()
        .ok_or_else(|| cx.err(line, &path, "expected a table"))?;
    cx.only(t, &["name", "commands", "request", "expect"], &path, line)?;
    let get = |k: &str| t.get(k).map(Node::Item);
    let name = match get("name") {
        Some(n) => cx.string(n, &join(&path, "name"), line)?,
        None => return Err(cx.err(line, &path, "missing key `name`")),
    };
    if name.trim().is_empty() {
        return Err(cx.err(
            line,
            &join(&path, "name"),
            "a case's name must not be empty",
        ));
    }
    let commands = match get("commands") {
        Some(n) => cx.steps(n, &join(&path, "commands"), line)?,
        None => Vec::new(),
    };
    let request = get("request")
        .map(|n| cx.written(n, &join(&path, "request"), line))
        .transpose()?;
    if request.is_none() && commands.is_empty() {
        return Err(cx.err(line, &path, "a case needs a request, or commands, or both"));
    }
    // What the expectation is about: a decision (a request, or a last
    // command `authenticate`), or the last command's result.
    let last_op = commands
        .last()
        .and_then(|c| c.json.get("op"))
        .and_then(Value::as_str);
    let about_decision = request.is_some() || last_op == Some("authenticate");
    let expect = match get("expect") {
        Some(n) => Some(parse_expect(
            cx,
            n,
            &join(&path, "expect"),
            line,
            about_decision,
        )?),
        None if mode == Mode::Run => {
            return Err(cx.err(
                line,
                &path,
                "missing table `expect` (what the case expects)",
            ))
        }
        None => None,
    };
    Ok(ParsedCase {
        index,
        name,
        line,
        commands,
        request,
        expect,
    })
}

const DECISION_KEYS: [&str; 8] = [
    "decision",
    "reason",
    "status",
    "user",
    "credential",
    "tenant",
    "scope",
    "effects",
];

fn parse_expect(
    cx: &Ctx<'_>,
    node: Node<'_>,
    path: &str,
    line: Option<usize>,
    about_decision: bool,
) -> Result<Expect, Error> {
    let line = cx.at(node, line);
    let t = node
        .table()
        .ok_or_else(|| cx.err(line, path, "expected a table"))?;
    if about_decision {
        cx.only(t, &DECISION_KEYS, path, line)?;
    } else {
        cx.only(t, &["result", "reason"], path, line)?;
    }
    let get = |k: &str| t.get(k).map(Node::Item);
    let p = |k: &str| join(path, k);
    let lk = |n: Node<'_>| cx.at(n, line);
    let mut e = Expect {
        line,
        ..Expect::default()
    };
    // Strings that stand for an id or null ("").
    let nullable = |k: &str| -> Result<Option<Option<String>>, Error> {
        get(k)
            .map(|n| {
                cx.string(n, &p(k), line)
                    .map(|s| (!s.is_empty()).then_some(s))
            })
            .transpose()
    };
    if about_decision {
        e.decision = match get("decision") {
            Some(n) => Some(match n.str() {
                Some("allow") => Verdict::Allow,
                Some("deny") => Verdict::Deny,
                _ => return Err(cx.err(lk(n), &p("decision"), "expected \"allow\" or \"deny\"")),
            }),
            None => {
                return Err(cx.err(line, path, "missing key `decision` (\"allow\" or \"deny\")"))
            }
        };
        if let Some(n) = get("reason") {
            let r = cx.string(n, &p("reason"), line)?;
            if !Reason::ALL.iter().any(|x| x.code() == r) {
                return Err(cx.err(
                    lk(n),
                    &p("reason"),
                    "unknown reason; expected one of the 23 reasons of SPEC §6.2",
                ));
            }
            if e.decision == Some(Verdict::Allow) {
                return Err(cx.err(lk(n), &p("reason"), "an allow has no reason"));
            }
            e.reason = Some(r);
        }
        if let Some(n) = get("status") {
            let s = n
                .value()
                .and_then(TomlValue::as_integer)
                .filter(|s| (100..=599).contains(s));
            e.status = Some(s.ok_or_else(|| {
                cx.err(
                    lk(n),
                    &p("status"),
                    "expected an HTTP status (an integer 100 to 599)",
                )
            })? as u16);
        }
        e.user = nullable("user")?;
        e.tenant = nullable("tenant")?;
        e.credential = nullable("credential")?;
        if let (Some(Some(c)), Some(n)) = (&e.credential, get("credential")) {
            let ok = c
                .split_once(' ')
                .is_some_and(|(k, id)| matches!(k, "session" | "api_key") && !id.is_empty());
            if !ok {
                return Err(cx.err(
                    lk(n),
                    &p("credential"),
                    "expected \"session <id>\", \"api_key <id>\" or \"\" (none)",
                ));
            }
        }
        if let Some(n) = get("scope") {
            let v = cx.json(n, &p("scope"), line)?;
            let ids: Option<Vec<String>> = v
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect());
            e.scope =
                Some(ids.ok_or_else(|| {
                    cx.err(lk(n), &p("scope"), "expected an array of tenant ids")
                })?);
        }
        if let Some(n) = get("effects") {
            let v = cx.json(n, &p("effects"), line)?;
            let effects: Vec<Effect> = serde_path_to_error::deserialize(v).map_err(|err| {
                Error::at_serde_path(&err.path().to_string(), err.inner())
                    .nested_in(&p("effects"))
                    .in_file(cx.file, lk(n))
            })?;
            e.effects = Some(effects);
        }
    } else {
        e.result = match get("result") {
            Some(n) => match n.str() {
                Some(r @ ("ok" | "rejected")) => Some(r.to_string()),
                _ => return Err(cx.err(lk(n), &p("result"), "expected \"ok\" or \"rejected\"")),
            },
            None => return Err(cx.err(line, path, "missing key `result` (\"ok\" or \"rejected\"): the case ends on a command that is not `authenticate`")),
        };
        if let Some(n) = get("reason") {
            let r = cx.string(n, &p("reason"), line)?;
            if !Rejection::ALL.iter().any(|x| x.code() == r) {
                return Err(cx.err(
                    lk(n),
                    &p("reason"),
                    "unknown rejection; expected one of the rejections of SPEC §8.2",
                ));
            }
            if e.result.as_deref() == Some("ok") {
                return Err(cx.err(lk(n), &p("reason"), "an ok result has no reason"));
            }
            e.reason = Some(r);
        }
    }
    Ok(e)
}
