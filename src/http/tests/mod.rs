//! Balancer tests: clients and nodes as in-test byte streams, a fake clock,
//! and the runtime's part played by [`Net`] (it executes the actions and
//! keeps what was written to each connection).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Action, Actions, ConnId, Counters, HttpBalancer, Settings};
use crate::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};

mod limits;
mod routing;
mod streaming;
mod upgrade;

pub(super) const MS: Duration = Duration::from_millis(1);

/// Node `i` at 127.0.0.`i`: SIP 5060, `httpPort` 8080, `sslPort` 8443,
/// wsPort 5062, plus `props`.
pub(super) fn node(i: u8, props: &[(&str, &str)]) -> Node {
    let ip = IpAddr::from([127, 0, 0, i]);
    let mut n = Node::new(
        NodeId(u32::from(i)),
        ip,
        5060,
        NodeSource::Heartbeat,
        NodeState::Up,
    );
    n.ports.ws = Some(5062);
    n.up_since = u64::from(i);
    n.properties = vec![
        ("httpPort".into(), "8080".into()),
        ("sslPort".into(), "8443".into()),
    ];
    for (k, v) in props {
        if *k == "jvmRoute" {
            n.jvm_route = Some((*v).into());
        }
        n.properties.retain(|(p, _)| p != k);
        if !v.is_empty() {
            n.properties.push(((*k).into(), (*v).into()));
        }
    }
    n
}

pub(super) fn http_addr(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, i], 8080))
}

pub(super) fn settings() -> Settings {
    Settings {
        header_timeout: 1000 * MS,
        idle_timeout: 2000 * MS,
        response_timeout: 3000 * MS,
        upstream_idle_timeout: 4000 * MS,
        ..Settings::default()
    }
}

/// The runtime's part and the clock.
pub(super) struct Net {
    pub(super) lb: HttpBalancer,
    pub(super) now: Instant,
    out: Actions,
    next_conn: ConnId,
    /// Everything written to each connection.
    pub(super) rx: HashMap<ConnId, Vec<u8>>,
    /// Connects asked for and not yet answered: (token, addr, tls).
    pub(super) connects: VecDeque<(u64, SocketAddr, bool)>,
    /// Connections the balancer closed, in order.
    pub(super) closed: Vec<ConnId>,
    /// Connections paused now.
    pub(super) paused: HashSet<ConnId>,
    /// Every Pause and Resume, in order (`true` = pause).
    pub(super) flow: Vec<(ConnId, bool)>,
    /// Node connections: conn → address.
    pub(super) node_conns: HashMap<ConnId, SocketAddr>,
}

impl Net {
    pub(super) fn new(s: Settings, nodes: Vec<Node>) -> Net {
        let now = crate::test_epoch();
        let mut lb = HttpBalancer::new(s, now);
        lb.set_nodes(Arc::new(NodeSet::new(1, nodes, 0)));
        Net {
            lb,
            now,
            out: Actions::default(),
            next_conn: 1,
            rx: HashMap::new(),
            connects: VecDeque::new(),
            closed: Vec::new(),
            paused: HashSet::new(),
            flow: Vec::new(),
            node_conns: HashMap::new(),
        }
    }

    /// Two nodes, node 1 with jvmRoute `node1`, node 2 with `node2`.
    pub(super) fn two() -> Net {
        Net::new(
            settings(),
            vec![
                node(1, &[("jvmRoute", "node1")]),
                node(2, &[("jvmRoute", "node2")]),
            ],
        )
    }

    pub(super) fn set_nodes(&mut self, nodes: Vec<Node>) {
        self.lb.set_nodes(Arc::new(NodeSet::new(2, nodes, 0)));
    }

    fn run(&mut self) {
        for a in self.out.list.drain(..) {
            match a {
                Action::Send { conn, range } => {
                    let bytes = self.out.buf.get(range).unwrap();
                    self.rx.entry(conn).or_default().extend_from_slice(bytes);
                }
                Action::Connect { token, addr, tls } => self.connects.push_back((token, addr, tls)),
                Action::Close { conn } => self.closed.push(conn),
                Action::Pause { conn } => {
                    assert!(self.paused.insert(conn), "paused twice");
                    self.flow.push((conn, true));
                }
                Action::Resume { conn } => {
                    assert!(self.paused.remove(&conn), "resumed unpaused");
                    self.flow.push((conn, false));
                }
            }
        }
        self.out.clear();
    }

    /// A client connects to the plain listener.
    pub(super) fn client(&mut self) -> ConnId {
        self.client_on(false)
    }

    pub(super) fn client_on(&mut self, secure: bool) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        let peer = SocketAddr::from(([192, 0, 2, 7], 40000 + conn as u16));
        let local = SocketAddr::from(([10, 0, 0, 1], if secure { 2081 } else { 2080 }));
        self.lb
            .on_client_accepted(conn, peer, local, secure, self.now, &mut self.out);
        self.run();
        conn
    }

    /// Bytes from a client or a node.
    pub(super) fn send(&mut self, conn: ConnId, bytes: &[u8]) {
        self.lb.on_data(conn, bytes, self.now, &mut self.out);
        self.run();
    }

    /// The oldest pending connect succeeds; returns the node connection.
    pub(super) fn accept(&mut self) -> ConnId {
        let (token, addr, _) = self.connects.pop_front().expect("no connect pending");
        let conn = self.next_conn;
        self.next_conn += 1;
        self.node_conns.insert(conn, addr);
        self.lb.on_connected(token, conn, self.now, &mut self.out);
        self.run();
        conn
    }

    /// The oldest pending connect fails; returns its address.
    pub(super) fn refuse(&mut self) -> SocketAddr {
        let (token, addr, _) = self.connects.pop_front().expect("no connect pending");
        self.lb.on_connect_failed(token, self.now, &mut self.out);
        self.run();
        addr
    }

    /// The peer of `conn` closed it.
    pub(super) fn hang_up(&mut self, conn: ConnId) {
        self.lb.on_closed(conn, self.now, &mut self.out);
        self.run();
    }

    /// What was written to `conn` since the last take.
    pub(super) fn take(&mut self, conn: ConnId) -> Vec<u8> {
        self.rx.remove(&conn).unwrap_or_default()
    }

    pub(super) fn take_text(&mut self, conn: ConnId) -> String {
        String::from_utf8(self.take(conn)).unwrap()
    }

    pub(super) fn is_closed(&self, conn: ConnId) -> bool {
        self.closed.contains(&conn)
    }

    /// Moves the clock on, running due timers.
    pub(super) fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.lb.poll_timeout().filter(|&t| t <= end) {
            self.now = self.now.max(t);
            self.lb.handle_timeout(self.now, &mut self.out);
            self.run();
        }
        self.now = end;
    }

    pub(super) fn counters(&self) -> &Counters {
        self.lb.counters()
    }

    /// Sends `req` from `client`; returns the node connection it reached
    /// (a new one, accepted here, or a pooled one) and what it received.
    pub(super) fn deliver(&mut self, client: ConnId, req: &[u8]) -> (ConnId, String) {
        self.send(client, req);
        if !self.connects.is_empty() {
            let up = self.accept();
            return (up, self.take_text(up));
        }
        let up = *self
            .node_conns
            .keys()
            .find(|c| self.rx.get(c).is_some_and(|b| !b.is_empty()))
            .expect("no node connection got the request");
        (up, self.take_text(up))
    }

    /// A client request through to a fresh node connection: returns
    /// (node connection, what the node received).
    pub(super) fn request_to_new_node(&mut self, client: ConnId, req: &[u8]) -> (ConnId, String) {
        self.send(client, req);
        let up = self.accept();
        let got = self.take_text(up);
        (up, got)
    }
}

/// A plain GET.
pub(super) fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: lb\r\n\r\n").into_bytes()
}

/// A response with a body of `body`.
pub(super) fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The head fields (lowercase names) of a forwarded message.
pub(super) fn field_names(msg: &str) -> Vec<String> {
    let head = msg.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
        .collect()
}
