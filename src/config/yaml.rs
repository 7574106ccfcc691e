//! Native YAML: text → [`FileConfig`] → [`Config`], with located errors.
//!
//! serde_yaml reports a line for syntax errors, unknown keys and mistyped
//! values. Validation errors from [`build`] only carry the key's path; the
//! line is then found by scanning the text for that path ([`locate`]), which
//! is exact for block-style YAML and best effort for flow style. When a key
//! is absent (a required value missing) the line of its section is given.

use super::build::{self, BuildError};
use super::error::ConfigError;
use super::file::FileConfig;
use super::Config;

/// Parses and validates YAML text; `file` names it in errors.
pub(super) fn from_str(text: &str, file: &str) -> Result<Config, ConfigError> {
    let raw: Option<FileConfig> = serde_yaml::from_str(text).map_err(|e| serde_error(file, &e))?;
    build::build(&raw.unwrap_or_default()).map_err(|e| build_error(text, file, e))
}

/// serde_yaml's message is `path: problem at line L column C`.
fn serde_error(file: &str, e: &serde_yaml::Error) -> ConfigError {
    let line = e.location().map(|l| l.line());
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg.as_str(),
    };
    let (path, problem) = split_path(msg);
    let key = match unknown_field(problem) {
        Some(field) if path.is_empty() => field.to_owned(),
        Some(field) => format!("{path}.{field}"),
        None => path.to_owned(),
    };
    ConfigError::new(file, line, &key, problem)
}

/// Splits a leading `a.b[0].c: ` path off a serde_yaml message.
fn split_path(msg: &str) -> (&str, &str) {
    match msg.split_once(": ") {
        Some((path, rest)) if is_path(path) => (path, rest),
        _ => ("", msg),
    }
}

fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_'))
}

/// The field name in "unknown field `x`, expected …".
fn unknown_field(problem: &str) -> Option<&str> {
    let rest = problem.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(f, _)| f)
}

fn build_error(text: &str, file: &str, e: BuildError) -> ConfigError {
    ConfigError::new(file, locate(text, &e.path), &e.path, e.problem)
}

/// Finds the line of a dotted path such as `sip.external.udpPort` or
/// `nodes[1].ip`: each segment is searched as a key after the previous one.
/// Returns the deepest line found (the section, if the key itself is absent).
pub(super) fn locate(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut found = None;
    for segment in path.split('.') {
        let (name, index) = split_index(segment);
        let Some(at) = (from..lines.len()).find(|&i| has_key(lines[i], name)) else {
            break;
        };
        let at = match index {
            Some(n) => nth_item(&lines, at, n).unwrap_or(at),
            None => at,
        };
        found = Some(at + 1);
        from = at;
    }
    found
}

/// `nodes[1]` → (`nodes`, Some(1)).
fn split_index(segment: &str) -> (&str, Option<usize>) {
    match segment.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse().ok()),
        None => (segment, None),
    }
}

/// True if `line` has `name:` as a key (block or flow style), outside a comment.
fn has_key(line: &str, name: &str) -> bool {
    let code = line.split(" #").next().unwrap_or(line);
    let pattern = format!("{name}:");
    code.match_indices(&pattern).any(|(i, _)| {
        code[..i]
            .chars()
            .next_back()
            .is_none_or(|c| matches!(c, ' ' | '{' | ',' | '-' | '\t'))
    })
}

/// Line of the `n`-th `- ` item below the sequence key at `at` (block style).
fn nth_item(lines: &[&str], at: usize, n: usize) -> Option<usize> {
    (at + 1..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with('-'))
        .nth(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "host: 127.0.0.1\nsip:\n  external:\n    host: 127.0.0.1\n    udpPort: 5060\nnodes:\n  - ip: 10.0.0.1\n    udpPort: 5080\n  - ip: bad\n";

    #[test]
    fn locate_nested_key() {
        assert_eq!(locate(TEXT, "sip.external.udpPort"), Some(5));
        assert_eq!(locate(TEXT, "sip.external.host"), Some(4));
        assert_eq!(locate(TEXT, "host"), Some(1));
    }

    #[test]
    fn locate_list_item_and_missing_key() {
        assert_eq!(locate(TEXT, "nodes[1].ip"), Some(9));
        assert_eq!(locate(TEXT, "sip.external.tcpPort"), Some(3));
        assert_eq!(locate(TEXT, "smpp.smppPort"), None);
    }

    #[test]
    fn unknown_field_names_the_key_and_line() {
        let e = from_str("sip:\n  external:\n    udpPortt: 5060\n", "x.yaml").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.key, "sip.external.udpPortt");
        assert!(
            e.problem.starts_with("unknown field `udpPortt`"),
            "{}",
            e.problem
        );
    }

    #[test]
    fn bad_port_is_located() {
        let e = from_str("sip:\n  external:\n    udpPort: 99999\n", "x.yaml").unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (Some(3), "sip.external.udpPort"));
    }

    #[test]
    fn validation_error_is_located() {
        let e = from_str("host: 127.0.0.1\nnodeTimeout: 10\n", "x.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.yaml:2: nodeTimeout: 10 ms is below the minimum of 15 ms"
        );
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert!(from_str("# nothing\n", "x.yaml").is_ok());
    }
}
