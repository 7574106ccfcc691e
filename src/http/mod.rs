//! HTTP/1.1 balancer (sans-IO). Placeholder with the runtime contract
//! (/work/coord/HTTP_API.md); the real implementation replaces it.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use crate::registry::NodeSet;

/// The runtime's stream id.
pub type ConnId = u64;

/// Settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {}

impl Settings {
    /// From the configuration.
    pub fn from_config(_cfg: &crate::config::Config) -> Settings {
        Settings {}
    }
}

/// Counters.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Requests.
    pub requests: u64,
    /// Bytes to nodes.
    pub bytes_to_server: u64,
    /// Bytes to clients.
    pub bytes_to_client: u64,
}

/// What the balancer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `buf[range]` to `conn`.
    Send {
        /// Connection.
        conn: ConnId,
        /// Bytes.
        range: Range<usize>,
    },
    /// Connect.
    Connect {
        /// Token.
        token: u64,
        /// Address.
        addr: SocketAddr,
        /// TLS.
        tls: bool,
    },
    /// Close.
    Close {
        /// Connection.
        conn: ConnId,
    },
    /// Pause reading.
    Pause {
        /// Connection.
        conn: ConnId,
    },
    /// Resume reading.
    Resume {
        /// Connection.
        conn: ConnId,
    },
}

/// Actions.
#[derive(Debug, Default)]
pub struct Actions {
    /// Bytes.
    pub buf: Vec<u8>,
    /// Actions.
    pub list: Vec<Action>,
}

impl Actions {
    /// Clear.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.list.clear();
    }
}

/// The balancer.
pub struct HttpBalancer {
    counters: Counters,
}

impl HttpBalancer {
    /// New.
    pub fn new(_settings: Settings, _now: Instant) -> HttpBalancer {
        HttpBalancer {
            counters: Counters::default(),
        }
    }
    /// Nodes.
    pub fn set_nodes(&mut self, _nodes: Arc<NodeSet>) {}
    /// Accepted.
    pub fn on_client_accepted(
        &mut self,
        _conn: ConnId,
        _peer: SocketAddr,
        _local: SocketAddr,
        _secure: bool,
        _now: Instant,
        _out: &mut Actions,
    ) {
    }
    /// Data.
    pub fn on_data(&mut self, _conn: ConnId, _bytes: &[u8], _now: Instant, _out: &mut Actions) {}
    /// Connected.
    pub fn on_connected(&mut self, _token: u64, _conn: ConnId, _now: Instant, _out: &mut Actions) {}
    /// Connect failed.
    pub fn on_connect_failed(&mut self, _token: u64, _now: Instant, _out: &mut Actions) {}
    /// Closed.
    pub fn on_closed(&mut self, _conn: ConnId, _now: Instant, _out: &mut Actions) {}
    /// Timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// Timer.
    pub fn handle_timeout(&mut self, _now: Instant, _out: &mut Actions) {}
    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}
