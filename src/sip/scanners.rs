//! Scanner blocking (`blockedValues`, default `sipvicious`, `sipcli`,
//! `friendly-scanner`): a request from a client that carries no node hint
//! of ours (an initial request, as the original's security check) and whose
//! User-Agent, From or To contains one of the values, compared
//! case-insensitively, is dropped without any answer — a scanner learns
//! nothing, not even that something listens — and counted in `blocked`.
//! (The original answered such requests `500 No nodes available`.)

use memchr::memchr2_iter;

use super::message::{HeaderName, Message};

/// The lower-cased values, and for every byte the values that start with
/// it in either case (bit `i` = value `i`), so one pass over each header
/// finds every candidate position of every value.
#[derive(Debug, Clone)]
pub struct Scanners {
    needles: Vec<Vec<u8>>,
    /// `None` beyond 64 values: then one search per value.
    starts: Option<Box<[u64; 256]>>,
}

// === impl Scanners ===

impl Scanners {
    /// From `blockedValues` (lower-cased and non-empty, as the config ensures).
    pub fn new(values: &[String]) -> Scanners {
        let needles: Vec<Vec<u8>> = values
            .iter()
            .map(|v| v.to_ascii_lowercase().into_bytes())
            .filter(|v| !v.is_empty())
            .collect();
        let starts = (needles.len() <= 64).then(|| {
            let mut t = Box::new([0u64; 256]);
            for (i, n) in needles.iter().enumerate() {
                for b in [n[0], n[0].to_ascii_uppercase()] {
                    t[usize::from(b)] |= 1 << i;
                }
            }
            t
        });
        Scanners { needles, starts }
    }

    /// Whether a User-Agent, From or To header of `msg` names a scanner.
    pub fn is_scanner(&self, msg: &Message<'_>) -> bool {
        if self.needles.is_empty() {
            return false;
        }
        msg.headers()
            .iter()
            .filter(|h| {
                matches!(
                    h.name,
                    HeaderName::UserAgent | HeaderName::From | HeaderName::To
                )
            })
            .any(|h| self.contains_any(msg.slice(h.value)))
    }

    fn contains_any(&self, hay: &[u8]) -> bool {
        let Some(starts) = &self.starts else {
            return self.needles.iter().any(|n| contains_ignore_case(hay, n));
        };
        hay.iter().enumerate().any(|(at, &b)| {
            let mut m = starts[usize::from(b)];
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                m &= m - 1;
                let hit = self.needles.get(i).is_some_and(|n| {
                    hay.get(at..at + n.len())
                        .is_some_and(|w| w.eq_ignore_ascii_case(n))
                });
                if hit {
                    return true;
                }
            }
            false
        })
    }
}

/// Whether `hay` contains `needle` (lower-case ASCII), ignoring ASCII case.
fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return false;
    };
    memchr2_iter(first, first.to_ascii_uppercase(), hay).any(|i| {
        hay.get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_in_any_case() {
        assert!(contains_ignore_case(
            b"Friendly-Scanner 1.0",
            b"friendly-scanner"
        ));
        assert!(contains_ignore_case(b"x sipVicious", b"sipvicious"));
        assert!(!contains_ignore_case(b"sipviciou", b"sipvicious"));
        assert!(!contains_ignore_case(b"", b"a"));
        assert!(!contains_ignore_case(b"abc", b""));
    }

    #[test]
    fn user_agent_from_and_to_are_looked_at() {
        let s = Scanners::new(&["sipcli".into()]);
        let msg = |extra: &str, from: &str| {
            format!(
                "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n\
                 From: {from};tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n{extra}\
                 Content-Length: 0\r\n\r\n"
            )
        };
        let hit = |text: String| s.is_scanner(&Message::parse(text.as_bytes()).unwrap());
        assert!(hit(msg("User-Agent: SIPCLI/v1.63\r\n", "<sip:a@b>")));
        assert!(hit(msg("", "\"sipcli\" <sip:100@1.2.3.4>")));
        assert!(!hit(msg(
            "User-Agent: Linphone\r\nSubject: sipcli\r\n",
            "<sip:a@b>"
        )));
        let many: Vec<String> = (0..70).map(|i| format!("bot{i}x")).collect();
        let many = Scanners::new(&many);
        assert!(many.starts.is_none());
        assert!(many.is_scanner(
            &Message::parse(msg("User-Agent: BOT69X\r\n", "<sip:a@b>").as_bytes()).unwrap()
        ));
        assert!(!many.is_scanner(
            &Message::parse(msg("User-Agent: bot70x\r\n", "<sip:a@b>").as_bytes()).unwrap()
        ));
        assert!(!Scanners::new(&[]).is_scanner(
            &Message::parse(msg("User-Agent: sipcli\r\n", "<sip:a@b>").as_bytes()).unwrap()
        ));
    }
}
