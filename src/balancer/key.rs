//! The affinity key of a SIP request: which bytes of the message the keyed
//! algorithms hash (`sipHeaderAffinityKey`, `sipHeaderAffinityExclusionPattern`,
//! `sipHeaderAffinityFallbackKey`).
//!
//! - `Call-ID` (also `i`): the Call-ID value.
//! - `From` / `To` (also `f` / `t` and the 1.x spellings `from.user` /
//!   `to.user`): the user part of the URI (`sip:`/`sips:` user, or the
//!   number of a `tel:` URI); a URI without a user part keys by its host.
//! - any other name: the value of the first header of that name
//!   (case-insensitive), trimmed.
//!
//! When the key matches the exclusion pattern, or the message has no such
//! header, the fallback key (default `Call-ID`, resolved the same way) is
//! used instead; when that is missing too, the Call-ID.
//!
//! The pattern is a `regex` crate expression matched anywhere in the key
//! (Java's `Matcher.find`; anchor with `^…$` for a whole-key match). The
//! `regex` crate is used because Java patterns (classes, alternations,
//! repetition) need a real engine; the lookup runs only for the algorithms
//! keyed by a header, and each shard compiles its own copy so the match
//! cache is never shared between cores.
//!
//! Nothing here allocates per message.

use memchr::memchr;
use regex::bytes::Regex;

use super::hash::key_hash;
use crate::config::AlgorithmConfig;
use crate::sip::headers;
use crate::sip::message::{HeaderName, Message};

/// Which part of the message a key is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The Call-ID value.
    CallId,
    /// User part of the From URI.
    FromUser,
    /// User part of the To URI.
    ToUser,
    /// Value of the first header with this name (case-insensitive).
    Header(String),
}

/// The configured affinity key: source, exclusion pattern, fallback.
#[derive(Debug, Clone)]
pub struct AffinityKey {
    source: KeySource,
    exclusion: Option<Regex>,
    fallback: KeySource,
}

// === impl KeySource ===

impl KeySource {
    /// The source named by a `sipHeaderAffinityKey` value.
    pub fn from_name(name: &str) -> KeySource {
        match name.trim().to_ascii_lowercase().as_str() {
            "call-id" | "i" => KeySource::CallId,
            "from" | "f" | "from.user" => KeySource::FromUser,
            "to" | "t" | "to.user" => KeySource::ToUser,
            _ => KeySource::Header(name.trim().to_owned()),
        }
    }

    /// The key bytes in `msg`, if the message has them.
    pub fn extract<'m>(&self, msg: &Message<'m>) -> Option<&'m [u8]> {
        match self {
            KeySource::CallId => msg.value(HeaderName::CallId),
            KeySource::FromUser => msg.value(HeaderName::From).and_then(uri_user),
            KeySource::ToUser => msg.value(HeaderName::To).and_then(uri_user),
            KeySource::Header(name) => header_value(msg, name.as_bytes()),
        }
        .filter(|k| !k.is_empty())
    }
}

// === impl AffinityKey ===

impl AffinityKey {
    /// The key of `cfg` (`sip_header_affinity_key` and friends). An invalid
    /// pattern was rejected by the configuration already; should one get
    /// here anyway it is ignored with an error log.
    pub fn from_config(cfg: &AlgorithmConfig) -> AffinityKey {
        let exclusion = cfg
            .sip_header_affinity_exclusion_pattern
            .as_deref()
            .and_then(|p| match Regex::new(p) {
                Ok(re) => Some(re),
                Err(e) => {
                    log::error!("sipHeaderAffinityExclusionPattern `{p}` ignored: {e}");
                    None
                }
            });
        AffinityKey {
            source: KeySource::from_name(&cfg.sip_header_affinity_key),
            exclusion,
            fallback: KeySource::from_name(&cfg.sip_header_affinity_fallback_key),
        }
    }

    /// A key read from `source` only (no exclusion, Call-ID fallback).
    pub fn new(source: KeySource) -> AffinityKey {
        AffinityKey {
            source,
            exclusion: None,
            fallback: KeySource::CallId,
        }
    }

    /// Whether the key is always the Call-ID (then the caller's Call-ID
    /// hash is the key).
    pub fn is_call_id(&self) -> bool {
        self.source == KeySource::CallId && self.exclusion.is_none()
    }

    /// The key bytes of `msg` (exclusion and fallback applied; the Call-ID,
    /// possibly empty, as the last resort).
    pub fn extract<'m>(&self, msg: &Message<'m>) -> &'m [u8] {
        let primary = self
            .source
            .extract(msg)
            .filter(|k| !self.exclusion.as_ref().is_some_and(|re| re.is_match(k)));
        primary
            .or_else(|| self.fallback.extract(msg))
            .unwrap_or_else(|| msg.call_id())
    }

    /// [`key_hash`] of [`AffinityKey::extract`].
    pub fn hash(&self, msg: &Message<'_>) -> u64 {
        key_hash(self.extract(msg))
    }
}

/// User part of the URI in a From/To value: `sip:`/`sips:` user, the number
/// of a `tel:` URI, or the host of a URI without user part.
fn uri_user(value: &[u8]) -> Option<&[u8]> {
    let span = crate::sip::message::Span::new(0, value.len());
    if let Some(na) = headers::name_addrs(value, span).next() {
        return Some(na.uri.user.unwrap_or(na.uri.host));
    }
    tel_number(value)
}

/// The number of a `tel:` URI inside a From/To value.
fn tel_number(value: &[u8]) -> Option<&[u8]> {
    let at = value
        .windows(4)
        .position(|w| w.eq_ignore_ascii_case(b"tel:"))?;
    let rest = value.get(at + 4..)?;
    let end = rest
        .iter()
        .position(|&b| matches!(b, b';' | b'>' | b' ' | b'\t' | b'?'))
        .unwrap_or(rest.len());
    rest.get(..end)
}

/// Value of the first header named `name` (case-insensitive), trimmed.
fn header_value<'m>(msg: &Message<'m>, name: &[u8]) -> Option<&'m [u8]> {
    let buf = msg.buf();
    msg.headers().iter().find_map(|h| {
        let line = buf.get(h.line.start as usize..h.value.start as usize)?;
        let colon = memchr(b':', line)?;
        let raw = line.get(..colon)?;
        let trimmed = raw.trim_ascii_end();
        trimmed
            .eq_ignore_ascii_case(name)
            .then(|| msg.slice(h.value))
    })
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
