//! What in a request names its node: the Restcomm instance id of a CallSid
//! path, the `jvmRoute` of a session id, the `httpAffinityKey` parameter.
//!
//! Pure functions over the request-target and the `Cookie` fields; they
//! return slices of the request and never allocate. Which node those
//! names lead to is [`super::route`]'s business.

use super::head::{Head, Kind};

/// Length of a Restcomm instance id (`ID` + 32 hex digits).
const INSTANCE_ID_LEN: usize = 34;

/// The path of a request-target: without the query, and without the
/// scheme and authority of an absolute-form target.
pub fn path(target: &[u8]) -> &[u8] {
    let t = origin_form(target);
    let end = t
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(t.len());
    t.get(..end).unwrap_or_default()
}

/// The query of a request-target (after the first `?`, before any `#`).
pub fn query(target: &[u8]) -> Option<&[u8]> {
    let q = target.iter().position(|&b| b == b'?')?;
    let rest = target.get(q + 1..)?;
    let end = rest.iter().position(|&b| b == b'#').unwrap_or(rest.len());
    rest.get(..end)
}

/// The value of query parameter `name` (exact, case-sensitive name).
pub fn query_param<'a>(target: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    query(target)?
        .split(|&b| b == b'&')
        .find_map(|pair| param_value(pair, name, false))
}

/// The Restcomm instance id in a CallSid path (original §5.2 step 2):
/// `/<a>/<b>/Accounts/<sid>/Calls…/<ID…>-<CallSid>`, the first 34
/// characters of the seventh segment when it holds a `-`.
pub fn instance_id(target: &[u8]) -> Option<&[u8]> {
    let mut seg = path(target).split(|&b| b == b'/');
    let accounts = seg.nth(3)?;
    let calls = seg.nth(1)?;
    let call = seg.next()?;
    let ok = accounts == b"Accounts" && calls.starts_with(b"Calls") && call.contains(&b'-');
    ok.then(|| call.get(..INSTANCE_ID_LEN)).flatten()
}

/// The session id of a request, first found of: the `;jsessionid=` path
/// parameter, the `jsessionid` query parameter, the `JSESSIONID` cookie
/// (names case-insensitive).
pub fn jsessionid<'a>(target: &'a [u8], head: &Head, buf: &'a [u8]) -> Option<&'a [u8]> {
    path_jsessionid(target)
        .or_else(|| {
            query(target)?
                .split(|&b| b == b'&')
                .find_map(|p| param_value(p, b"jsessionid", true))
        })
        .or_else(|| cookie(head, buf, b"jsessionid"))
        .filter(|v| !v.is_empty())
}

/// The `jvmRoute` of a session id: what follows its last `.`.
pub fn jvm_route(session_id: &[u8]) -> Option<&[u8]> {
    let dot = session_id.iter().rposition(|&b| b == b'.')?;
    session_id.get(dot + 1..).filter(|r| !r.is_empty())
}

/// `;jsessionid=` in the path, up to the next `;`, `/`, `?` or `#`.
fn path_jsessionid(target: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b";jsessionid=";
    let p = path(target);
    let at = p
        .windows(KEY.len())
        .position(|w| w.eq_ignore_ascii_case(KEY))?;
    let rest = p.get(at + KEY.len()..)?;
    let end = rest
        .iter()
        .position(|&b| matches!(b, b';' | b'/'))
        .unwrap_or(rest.len());
    rest.get(..end)
}

/// The value of cookie `name` in any `Cookie` field.
fn cookie<'a>(head: &Head, buf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.fields
        .iter()
        .filter(|f| f.kind == Kind::Cookie)
        .flat_map(|f| f.value.get(buf).split(|&b| b == b';'))
        .find_map(|pair| param_value(pair.trim_ascii(), name, true))
        .map(unquote)
}

/// `value` if `pair` is `name=value`.
fn param_value<'a>(pair: &'a [u8], name: &[u8], any_case: bool) -> Option<&'a [u8]> {
    let eq = pair.iter().position(|&b| b == b'=')?;
    let (n, v) = (pair.get(..eq)?, pair.get(eq + 1..)?);
    let same = if any_case {
        n.eq_ignore_ascii_case(name)
    } else {
        n == name
    };
    same.then_some(v)
}

fn unquote(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(v)
}

/// `/path?q` of `http://host/path?q` (origin-form targets pass unchanged).
pub fn origin_form(target: &[u8]) -> &[u8] {
    if target.first() == Some(&b'/') {
        return target;
    }
    let Some(at) = target.windows(3).position(|w| w == b"://") else {
        return target;
    };
    let rest = target.get(at + 3..).unwrap_or_default();
    let slash = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?'))
        .unwrap_or(rest.len());
    rest.get(slash..).unwrap_or_default()
}

#[cfg(test)]
#[path = "sticky_tests.rs"]
mod tests;
