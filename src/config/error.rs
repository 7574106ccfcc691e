//! The one error type of configuration loading.
//!
//! Every problem — unreadable file, YAML syntax, unknown key, bad value,
//! failed validation — becomes one [`ConfigError`] whose `Display` is a
//! single line `<file>:<line>: <key>: <problem>`, ready for stderr.
//! This module does not decide what is wrong, it only reports.

use std::fmt;

/// A configuration problem, located as precisely as the format allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File name as given by the operator (or `<embedded default>`).
    pub file: String,
    /// 1-based line of the offending key, when known.
    pub line: Option<usize>,
    /// The key as written in that file's format (`sip.external.udpPort`,
    /// `externalPort`); empty when the whole file is at fault.
    pub key: String,
    /// What is wrong, one line.
    pub problem: String,
}

// === impl ConfigError ===

impl ConfigError {
    /// A problem with `key`, located at `line` when known.
    pub fn new(file: &str, line: Option<usize>, key: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_owned(),
            line,
            key: key.to_owned(),
            problem: one_line(&problem.into()),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Collapses any line breaks so that `Display` stays on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_location() {
        let e = ConfigError::new("lb.yaml", Some(3), "sip.external.udpPort", "bad\nport");
        assert_eq!(e.to_string(), "lb.yaml:3: sip.external.udpPort: bad port");
    }

    #[test]
    fn display_without_line_or_key() {
        let e = ConfigError::new("lb.yaml", None, "", "cannot read: gone");
        assert_eq!(e.to_string(), "lb.yaml: cannot read: gone");
    }
}
