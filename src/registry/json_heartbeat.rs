//! The bodies of the original's HTTP/JSON heartbeat protocol (§3.3,
//! `heartbeatPort` 2610), sans-IO: a request body in, a [`Command`] (and
//! the [`Event`] it means for the registry) out, plus the reply bodies and
//! the balancer's `stop` notice. The HTTP exchange itself (one `POST /` per
//! command, `200 OK`, connection closed) belongs to the runtime.
//!
//! | command | body | event | reply |
//! |---|---|---|---|
//! | `start` | `{"start":{"hostName":…,"ip":…,"udpPort":…,…,"sessionId":…}}` | [`Event::Start`] | `{"start":"OK"}` |
//! | `heartbeat` | `{"heartbeat":{"sessionId":…}}` | [`Event::SessionHeartbeat`] | `{"heartbeat":"OK"}` |
//! | `shutdown` | `{"shutdown":{"sessionId":…}}` | [`Event::SessionShutdown`] | `{"shutdown":"OK"}` |
//! | `stop` | `{"stop":{"sessionId":…}}` | [`Event::SessionStop`] | `{"stop":"OK"}` |
//! | `switchover` | `{"switchover":{"fromJvmRoute":…,"toJvmRoute":…}}` | [`Event::Switchover`] | `null` (as the original) |
//!
//! Field values may be JSON strings, numbers or booleans (the reference
//! node sends strings in `start` and a number as `sessionId` elsewhere);
//! they become strings. `restcommInstanceId` becomes the property
//! `Restcomm-Instance-Id`. Parsing is total: anything else is a
//! [`JsonError`], never a panic. serde_json is used because this is the
//! one JSON input of the balancer and a hand-written parser would be more
//! code to trust than the crate.

use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::Event;

/// Largest body accepted (a `start` is a few hundred bytes).
pub const MAX_BODY: usize = 16 * 1024;

/// One heartbeat-protocol command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A node (re)starts: its properties.
    Start {
        /// Properties as strings, sorted by name.
        properties: Vec<(String, String)>,
    },
    /// The node of this session is alive.
    Heartbeat {
        /// `sessionId`.
        session_id: String,
    },
    /// The node of this session drains.
    Shutdown {
        /// `sessionId`.
        session_id: String,
    },
    /// The node of this session stops now.
    Stop {
        /// `sessionId`.
        session_id: String,
    },
    /// Dialogs of one jvmRoute continue on another.
    Switchover {
        /// `fromJvmRoute`.
        from_jvm_route: String,
        /// `toJvmRoute`.
        to_jvm_route: String,
    },
}

/// Why a body is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Larger than [`MAX_BODY`].
    TooLarge,
    /// Not a JSON object.
    NotJson,
    /// The object does not have exactly one member.
    NotOneCommand,
    /// A member name that is not a command.
    UnknownCommand(String),
    /// The command's object lacks a required field (or it is not a scalar).
    MissingField(&'static str),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::TooLarge => write!(f, "body larger than {MAX_BODY} bytes"),
            JsonError::NotJson => f.write_str("not a JSON object"),
            JsonError::NotOneCommand => f.write_str("not exactly one command"),
            JsonError::UnknownCommand(c) => write!(f, "unknown command {c:?}"),
            JsonError::MissingField(k) => write!(f, "missing field {k}"),
        }
    }
}

impl std::error::Error for JsonError {}

/// Parse a request body.
pub fn parse(body: &[u8]) -> Result<Command, JsonError> {
    if body.len() > MAX_BODY {
        return Err(JsonError::TooLarge);
    }
    let Ok(Value::Object(top)) = serde_json::from_slice::<Value>(body) else {
        return Err(JsonError::NotJson);
    };
    let mut members = top.into_iter();
    let (Some((name, value)), None) = (members.next(), members.next()) else {
        return Err(JsonError::NotOneCommand);
    };
    let fields = match value {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let session = |fields: &Map<String, Value>| {
        scalar(fields.get("sessionId")).ok_or(JsonError::MissingField("sessionId"))
    };
    match name.as_str() {
        "start" => Ok(Command::Start {
            properties: start_properties(fields),
        }),
        "heartbeat" => Ok(Command::Heartbeat {
            session_id: session(&fields)?,
        }),
        "shutdown" => Ok(Command::Shutdown {
            session_id: session(&fields)?,
        }),
        "stop" => Ok(Command::Stop {
            session_id: session(&fields)?,
        }),
        "switchover" => Ok(Command::Switchover {
            from_jvm_route: scalar(fields.get("fromJvmRoute"))
                .ok_or(JsonError::MissingField("fromJvmRoute"))?,
            to_jvm_route: scalar(fields.get("toJvmRoute"))
                .ok_or(JsonError::MissingField("toJvmRoute"))?,
        }),
        _ => Err(JsonError::UnknownCommand(name)),
    }
}

// === impl Command ===

impl Command {
    /// What the command means for the registry; `peer` is the HTTP peer's
    /// address (a `start` without `ip` names the node by it).
    pub fn into_event(self, peer: IpAddr) -> Event {
        match self {
            Command::Start { properties } => Event::Start {
                src: peer,
                properties,
            },
            Command::Heartbeat { session_id } => Event::SessionHeartbeat { session_id },
            Command::Shutdown { session_id } => Event::SessionShutdown { session_id },
            Command::Stop { session_id } => Event::SessionStop { session_id },
            Command::Switchover {
                from_jvm_route,
                to_jvm_route,
            } => Event::Switchover {
                from_jvm_route,
                to_jvm_route,
            },
        }
    }

    /// The JSON body of the balancer's `200 OK` reply.
    pub fn reply(&self) -> &'static [u8] {
        match self {
            Command::Start { .. } => br#"{"start":"OK"}"#,
            Command::Heartbeat { .. } => br#"{"heartbeat":"OK"}"#,
            Command::Shutdown { .. } => br#"{"shutdown":"OK"}"#,
            Command::Stop { .. } => br#"{"stop":"OK"}"#,
            Command::Switchover { .. } => b"null",
        }
    }
}

/// Body of the `stop` the balancer sends to each node's `ip:heartbeatPort`
/// when it stops: `{"stop":{"ipAddress":"<lb ip>","port":<lb heartbeat port>}}`.
pub fn stop_notice(lb_ip: IpAddr, heartbeat_port: u16) -> Vec<u8> {
    let body = serde_json::json!({
        "stop": { "ipAddress": lb_ip.to_string(), "port": heartbeat_port }
    });
    body.to_string().into_bytes()
}

/// Whether a node's answer to [`stop_notice`] is `{"stop":"OK"}`.
pub fn is_stop_ok(body: &[u8]) -> bool {
    matches!(
        serde_json::from_slice::<Value>(body),
        Ok(Value::Object(m)) if m.get("stop").and_then(Value::as_str) == Some("OK")
    )
}

/// A `start` object's fields as registry properties.
fn start_properties(fields: Map<String, Value>) -> Vec<(String, String)> {
    let mut properties: Vec<(String, String)> = fields
        .into_iter()
        .filter_map(|(k, v)| {
            let value = scalar(Some(&v))?;
            let key = match k.as_str() {
                "restcommInstanceId" => "Restcomm-Instance-Id".to_owned(),
                _ => k,
            };
            Some((key, value))
        })
        .collect();
    properties.sort();
    properties
}

/// A string, number or boolean as text; `None` for anything else or empty.
fn scalar(v: Option<&Value>) -> Option<String> {
    let text = match v? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
#[path = "json_heartbeat_tests.rs"]
mod tests;
