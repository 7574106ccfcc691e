//! The original's admin JSON: `/lbstat` (`{"Metrics":{…}}`, field names and
//! order of its Gson `Metrics` class) and `/lbinfo` (`{"Nodes info":{…}}`).
//!
//! Deviations, each on purpose:
//! - `JvmCpuUsage` is this process's recent CPU usage in percent of the
//!   CPUs it may use (integer, as the original's `load × 100`);
//!   `JvmHeapSize` is its resident set size in bytes (`VmRSS`).
//! - `NumberOfActiveCalls` is the number of Call-ID affinity entries over
//!   every shard (the original: the version-0 algorithm's map size, -1 for
//!   hash algorithms).
//! - Two fields the original only had over JMX follow the original ones:
//!   `NumberOfRequestsProcessedByMethod` (the 14 pre-seeded methods and
//!   `OTHER`) and `NumberOfResponsesProcessedByStatusCode` (`1XX`…`9XX`).
//! - `NumberOfActiveSmppConnections` counts open SMPP connections, ESMEs
//!   and SMSCs, in both modes (the original: mux mode counted bound ESMEs
//!   + 1).
//! - `/lbinfo` nodes carry what this registry tracks: `hostName`, `ip`,
//!   `properties`, `gracefulShutdown`, `bad`, and in addition `version`,
//!   `state`, `weight` and `ports`; the original's `timeStamp`,
//!   `failCounter`, `weightIndex`, `requestNumberWithoutResponse`,
//!   `lastTimeResponse` and `lastTimeError` are not tracked and absent.

use std::net::{IpAddr, SocketAddr};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::view::{balanced, View, RELEASE_NAME, RELEASE_VERSION};
use super::{CLASS_NAMES, METHOD_NAMES};
use crate::registry::{Node, NodeState};

/// The `/lbstat` body.
pub fn lbstat(v: &View<'_>) -> Vec<u8> {
    let t = v.totals;
    let m = Metrics {
        release_name: RELEASE_NAME,
        release_version: RELEASE_VERSION,
        active_nodes: v.active_nodes(),
        cpu: v.process.cpu_percent.round() as u64,
        heap: v.process.rss_bytes,
        http_connections: t.http.connections,
        sip_connections: v.sip_connections(),
        smpp_connections: t.smpp.connections,
        bytes: t.sip.body_bytes,
        http_bytes_to_client: t.http.bytes_to_client,
        http_bytes_to_server: t.http.bytes_to_server,
        http_requests: t.http.requests,
        requests: t.sip.requests_forwarded,
        responses: t.sip.responses_forwarded,
        smpp_bytes_to_client: t.smpp.bytes_to_client,
        smpp_bytes_to_server: t.smpp.bytes_to_server,
        smpp_requests_to_client: t.smpp.requests_to_client,
        smpp_requests_to_server: t.smpp.requests_to_server,
        active_calls: t.active_calls,
        by_method: Named(&METHOD_NAMES, &t.sip.requests_by_method),
        by_class: Named(&CLASS_NAMES, &t.sip.responses_by_class),
    };
    to_json(&LbStat { metrics: m })
}

/// The `/lbinfo` body: alive balanced nodes by address family, and the
/// configured SMPP servers.
pub fn lbinfo(v: &View<'_>) -> Vec<u8> {
    let alive = || balanced(v.nodes).filter(|n| n.is_alive());
    let info = NodesInfo {
        v4: alive().filter(|n| n.ip.is_ipv4()).map(NodeJson).collect(),
        v6: alive().filter(|n| n.ip.is_ipv6()).map(NodeJson).collect(),
        smpp: v.facts.smpp_servers.iter().map(SmppServer).collect(),
    };
    to_json(&LbInfo { info })
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail (no maps with non-string
    // keys, no foreign Serialize impls); an empty object if it ever did.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

#[derive(Serialize)]
struct LbStat<'a> {
    #[serde(rename = "Metrics")]
    metrics: Metrics<'a>,
}

#[derive(Serialize)]
struct Metrics<'a> {
    #[serde(rename = "releaseName")]
    release_name: &'a str,
    #[serde(rename = "releaseVersion")]
    release_version: &'a str,
    #[serde(rename = "activeNodes")]
    active_nodes: u64,
    #[serde(rename = "JvmCpuUsage")]
    cpu: u64,
    #[serde(rename = "JvmHeapSize")]
    heap: u64,
    #[serde(rename = "NumberOfActiveHttpConnections")]
    http_connections: u64,
    #[serde(rename = "NumberOfActiveSipConnections")]
    sip_connections: u64,
    #[serde(rename = "NumberOfActiveSmppConnections")]
    smpp_connections: u64,
    #[serde(rename = "NumberOfBytesTransferred")]
    bytes: u64,
    #[serde(rename = "NumberOfHttpBytesToClient")]
    http_bytes_to_client: u64,
    #[serde(rename = "NumberOfHttpBytesToServer")]
    http_bytes_to_server: u64,
    #[serde(rename = "NumberOfHttpRequests")]
    http_requests: u64,
    #[serde(rename = "NumberOfRequestsProcessed")]
    requests: u64,
    #[serde(rename = "NumberOfResponsesProcessed")]
    responses: u64,
    #[serde(rename = "NumberOfSmppBytesToClient")]
    smpp_bytes_to_client: u64,
    #[serde(rename = "NumberOfSmppBytesToServer")]
    smpp_bytes_to_server: u64,
    #[serde(rename = "NumberOfSmppRequestsToClient")]
    smpp_requests_to_client: u64,
    #[serde(rename = "NumberOfSmppRequestsToServer")]
    smpp_requests_to_server: u64,
    #[serde(rename = "NumberOfActiveCalls")]
    active_calls: u64,
    #[serde(rename = "NumberOfRequestsProcessedByMethod")]
    by_method: Named<'a, { super::METHODS }>,
    #[serde(rename = "NumberOfResponsesProcessedByStatusCode")]
    by_class: Named<'a, { super::STATUS_CLASSES }>,
}

/// A JSON object with keys in the given order.
struct Named<'a, const N: usize>(&'a [&'a str; N], &'a [u64; N]);

impl<const N: usize> Serialize for Named<'_, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(N))?;
        for (k, v) in self.0.iter().zip(self.1) {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct LbInfo<'a> {
    #[serde(rename = "Nodes info")]
    info: NodesInfo<'a>,
}

#[derive(Serialize)]
struct NodesInfo<'a> {
    #[serde(rename = "nodesIPv4")]
    v4: Vec<NodeJson<'a>>,
    #[serde(rename = "nodesIPv6")]
    v6: Vec<NodeJson<'a>>,
    #[serde(rename = "smppRemoteServers")]
    smpp: Vec<SmppServer<'a>>,
}

/// A registry node in the original's `Node` JSON shape.
struct NodeJson<'a>(&'a Node);

impl Serialize for NodeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("hostName", &n.hostname)?;
        map.serialize_entry("ip", &n.ip.to_string())?;
        map.serialize_entry("properties", &Properties(&n.properties))?;
        map.serialize_entry("gracefulShutdown", &(n.state == NodeState::Draining))?;
        map.serialize_entry("bad", &n.bad)?;
        map.serialize_entry("version", &n.version.to_string())?;
        let state = match n.state {
            NodeState::Up => "up",
            NodeState::Draining => "draining",
            NodeState::Down => "down",
        };
        map.serialize_entry("state", state)?;
        map.serialize_entry("weight", &n.weight)?;
        let p = &n.ports;
        let ports = [
            ("udp", p.udp),
            ("tcp", p.tcp),
            ("tls", p.tls),
            ("ws", p.ws),
            ("wss", p.wss),
        ];
        map.serialize_entry("ports", &Ports(&ports))?;
        map.end()
    }
}

struct Properties<'a>(&'a [(String, String)]);

impl Serialize for Properties<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

struct Ports<'a>(&'a [(&'a str, Option<u16>)]);

impl Serialize for Ports<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.0 {
            if let Some(port) = v {
                map.serialize_entry(k, port)?;
            }
        }
        map.end()
    }
}

/// A configured SMPP server as the original lists it (a `Node` with its
/// address as host name and an `smppPort` property).
struct SmppServer<'a>(&'a SocketAddr);

impl Serialize for SmppServer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ip: IpAddr = self.0.ip();
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("hostName", &ip.to_string())?;
        map.serialize_entry("ip", &ip.to_string())?;
        let port = self.0.port().to_string();
        map.serialize_entry("properties", &Properties(&[("smppPort".to_string(), port)]))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{NodeId, NodeSet, NodeSource};
    use crate::stats::board::Totals;
    use crate::stats::process::ProcessStats;
    use crate::stats::view::Facts;
    use crate::stats::SipCounters;

    fn node(id: u32, ip: &str, port: u16, state: NodeState) -> Node {
        let mut n = Node::new(
            NodeId(id),
            ip.parse().unwrap(),
            port,
            NodeSource::Heartbeat,
            state,
        );
        n.hostname = format!("node{id}");
        n.properties = vec![("udpPort".into(), port.to_string())];
        n
    }

    fn nodes() -> NodeSet {
        let mut extra = node(9, "10.0.0.9", 5060, NodeState::Up);
        extra.source = NodeSource::Extra;
        NodeSet::new(
            3,
            vec![
                node(1, "10.0.0.1", 5070, NodeState::Up),
                node(2, "10.0.0.2", 5070, NodeState::Draining),
                node(3, "10.0.0.3", 5070, NodeState::Down),
                node(4, "::1", 5080, NodeState::Up),
                extra,
            ],
            0,
        )
    }

    #[test]
    fn lbstat_has_the_original_fields_in_order() {
        let mut sip = SipCounters {
            requests_forwarded: 3,
            responses_forwarded: 5,
            body_bytes: 247,
            ..SipCounters::default()
        };
        sip.requests_by_method[0] = 1;
        sip.responses_by_class[1] = 2;
        let totals = Totals {
            sip,
            active_calls: 1,
            connections: 2,
            ..Totals::default()
        };
        let nodes = nodes();
        let facts = Facts {
            udp_listeners: 2,
            smpp_servers: vec![],
        };
        let v = View {
            totals: &totals,
            nodes: &nodes,
            process: ProcessStats {
                cpu_percent: 2.6,
                cpu_seconds: 1.0,
                rss_bytes: 123_456_789,
            },
            facts: &facts,
        };
        let body = String::from_utf8(lbstat(&v)).unwrap();
        let want = format!(
            "{{\"Metrics\":{{\"releaseName\":\"sip-balancer\",\"releaseVersion\":\"{}\",\
             \"activeNodes\":3,\"JvmCpuUsage\":3,\"JvmHeapSize\":123456789,\
             \"NumberOfActiveHttpConnections\":0,\"NumberOfActiveSipConnections\":4,\
             \"NumberOfActiveSmppConnections\":0,\"NumberOfBytesTransferred\":247,\
             \"NumberOfHttpBytesToClient\":0,\"NumberOfHttpBytesToServer\":0,\
             \"NumberOfHttpRequests\":0,\"NumberOfRequestsProcessed\":3,\
             \"NumberOfResponsesProcessed\":5,\"NumberOfSmppBytesToClient\":0,\
             \"NumberOfSmppBytesToServer\":0,\"NumberOfSmppRequestsToClient\":0,\
             \"NumberOfSmppRequestsToServer\":0,\"NumberOfActiveCalls\":1,\
             \"NumberOfRequestsProcessedByMethod\":{{\"INVITE\":1,\"ACK\":0,\"BYE\":0,\
             \"CANCEL\":0,\"REGISTER\":0,\"OPTIONS\":0,\"INFO\":0,\"SUBSCRIBE\":0,\
             \"NOTIFY\":0,\"MESSAGE\":0,\"REFER\":0,\"PUBLISH\":0,\"UPDATE\":0,\
             \"PRACK\":0,\"OTHER\":0}},\"NumberOfResponsesProcessedByStatusCode\":\
             {{\"1XX\":0,\"2XX\":2,\"3XX\":0,\"4XX\":0,\"5XX\":0,\"6XX\":0,\"7XX\":0,\
             \"8XX\":0,\"9XX\":0}}}}}}",
            RELEASE_VERSION
        );
        assert_eq!(body, want);
    }

    #[test]
    fn lbinfo_lists_alive_balanced_nodes_by_family() {
        let totals = Totals::default();
        let nodes = nodes();
        let facts = Facts {
            udp_listeners: 1,
            smpp_servers: vec!["10.1.1.1:2776".parse().unwrap()],
        };
        let v = View {
            totals: &totals,
            nodes: &nodes,
            process: ProcessStats::default(),
            facts: &facts,
        };
        let body = String::from_utf8(lbinfo(&v)).unwrap();
        let want = "{\"Nodes info\":{\"nodesIPv4\":[\
            {\"hostName\":\"node1\",\"ip\":\"10.0.0.1\",\"properties\":{\"udpPort\":\"5070\"},\
            \"gracefulShutdown\":false,\"bad\":false,\"version\":\"0\",\"state\":\"up\",\
            \"weight\":100,\"ports\":{\"udp\":5070}},\
            {\"hostName\":\"node2\",\"ip\":\"10.0.0.2\",\"properties\":{\"udpPort\":\"5070\"},\
            \"gracefulShutdown\":true,\"bad\":false,\"version\":\"0\",\"state\":\"draining\",\
            \"weight\":100,\"ports\":{\"udp\":5070}}],\
            \"nodesIPv6\":[{\"hostName\":\"node4\",\"ip\":\"::1\",\"properties\":{\"udpPort\":\"5080\"},\
            \"gracefulShutdown\":false,\"bad\":false,\"version\":\"0\",\"state\":\"up\",\
            \"weight\":100,\"ports\":{\"udp\":5080}}],\
            \"smppRemoteServers\":[{\"hostName\":\"10.1.1.1\",\"ip\":\"10.1.1.1\",\
            \"properties\":{\"smppPort\":\"2776\"}}]}}";
        assert_eq!(body, want);
    }
}
