//! The body of a SIP `Mobicents-Heartbeat` request: Java `.properties` text
//! (`key=value` or `key: value` lines, `#`/`!` comments).

/// Parse properties text. Invalid UTF-8 is replaced; never panics.
pub fn parse_properties(body: &[u8]) -> Vec<(String, String)> {
    let _ = body;
    todo!()
}
