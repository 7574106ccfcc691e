//! Java properties syntax, as `java.util.Properties.load` reads it:
//! `key=value`, `key = value`, `key: value`, `key value`, `#`/`!` comments,
//! a trailing `\` continues the line, `\t \n \r \f \uXXXX` escapes.
//! It knows nothing about which keys exist. The registry reads heartbeat
//! bodies with the same functions (leniently: see
//! `registry::heartbeat::parse_properties`).

use crate::config::error::ConfigError;

/// One `key=value` pair, unescaped, with the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Key, unescaped.
    pub key: String,
    /// Value, unescaped, trailing whitespace removed.
    pub value: String,
    /// First line of the (possibly continued) logical line.
    pub line: usize,
}

/// Splits Java properties text into entries. Errors only on a malformed
/// `\uXXXX` escape, as `java.util.Properties` does.
pub fn parse(text: &str, file: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut out = Vec::new();
    for (line, logical) in logical_lines(text) {
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key).map_err(|p| ConfigError::new(file, Some(line), raw_key, p))?;
        let value = unescape(raw_value).map_err(|p| ConfigError::new(file, Some(line), &key, p))?;
        out.push(Entry {
            key,
            value: value.trim_end().to_owned(),
            line,
        });
    }
    Ok(out)
}

/// Joins continued lines; drops blank lines and comments. Yields the first
/// line number of each logical line, with leading whitespace removed.
pub(crate) fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    // LF, CRLF and lone CR all end a line, as in java.util.Properties.
    for (i, natural) in text.replace("\r\n", "\n").split(['\n', '\r']).enumerate() {
        let trimmed = natural.trim_start_matches([' ', '\t', '\u{c}']);
        let (start, mut acc) = match current.take() {
            Some(c) => c,
            None if trimmed.is_empty() || trimmed.starts_with(['#', '!']) => continue,
            None => (i + 1, String::new()),
        };
        let continues = trimmed.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1;
        if continues {
            acc.push_str(&trimmed[..trimmed.len() - 1]);
            current = Some((start, acc));
        } else {
            acc.push_str(trimmed);
            out.push((start, acc));
        }
    }
    if let Some(last) = current {
        out.push(last);
    }
    out
}

/// Splits at the first unescaped `=`, `:` or whitespace (Java's rule).
pub(crate) fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, '=' | ':' | ' ' | '\t' | '\u{c}') {
            end = i;
            break;
        }
    }
    let (key, rest) = line.split_at(end);
    let rest = rest.trim_start_matches([' ', '\t', '\u{c}']);
    let rest = rest.strip_prefix(['=', ':']).unwrap_or(rest);
    (key, rest.trim_start_matches([' ', '\t', '\u{c}']))
}

/// Resolve `\t \n \r \f \uXXXX` and `\<any>`; a malformed `\u` is an error.
pub(crate) fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => out.push(unicode_escape(&mut chars)?),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

fn unicode_escape(chars: &mut std::str::Chars<'_>) -> Result<char, String> {
    let hex: String = chars.by_ref().take(4).collect();
    u32::from_str_radix(&hex, 16)
        .ok()
        .filter(|_| hex.len() == 4)
        .and_then(char::from_u32)
        .ok_or_else(|| format!("malformed \\u{hex} escape"))
}
