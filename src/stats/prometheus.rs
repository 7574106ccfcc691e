//! `/metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! Counters end in `_total`; latencies are histograms in seconds summed
//! over shards (`_bucket{le=…}`, `_sum`, `_count`), plus per-shard quantile
//! gauges (quantiles of different shards cannot be added). Every family
//! has `# HELP` and `# TYPE` lines; names are `sip_balancer_*`, except the
//! standard `process_*` ones.

use std::fmt::Write;

use super::latency::{Latency, BOUNDS_NS, QUANTILES};
use super::view::{View, RELEASE_VERSION};
use super::{CLASS_NAMES, METHOD_NAMES, SIP_SCALAR_NAMES};

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Help text of the SIP scalar counters, in [`SIP_SCALAR_NAMES`] order.
const SIP_HELP: [&str; SIP_SCALAR_NAMES.len()] = [
    "SIP requests forwarded (NumberOfRequestsProcessed).",
    "SIP responses forwarded (NumberOfResponsesProcessed).",
    "Body bytes (Content-Length) of forwarded SIP messages (NumberOfBytesTransferred).",
    "Replies the balancer generated (100 Trying, heartbeat 200, 400, 483, 503).",
    "Node heartbeats received.",
    "Messages passed to their Call-ID home shard.",
    "Unparseable SIP messages.",
    "Requests answered 483 Too Many Hops.",
    "Requests answered with the no-node status.",
    "Requests dropped because they would loop.",
    "Responses dropped: top Via not ours or no next hop.",
    "Messages dropped for other reasons.",
    "Requests from scanners (blockedValues) dropped unanswered.",
];

/// The exposition text.
pub fn render(v: &View<'_>) -> String {
    let mut out = String::with_capacity(8192);
    let t = v.totals;
    gauge(
        &mut out,
        "sip_balancer_info",
        "Build of the running balancer.",
        &[(&format!("version=\"{RELEASE_VERSION}\""), 1.0)],
    );
    for ((name, help), value) in SIP_SCALAR_NAMES.iter().zip(SIP_HELP).zip(t.sip.scalars()) {
        counter(
            &mut out,
            &format!("sip_balancer_sip_{name}_total"),
            help,
            value,
        );
    }
    family(
        &mut out,
        "sip_balancer_sip_requests_by_method_total",
        "Forwarded SIP requests by method.",
        "counter",
    );
    for (m, n) in METHOD_NAMES.iter().zip(t.sip.requests_by_method) {
        let _ = writeln!(
            out,
            "sip_balancer_sip_requests_by_method_total{{method=\"{m}\"}} {n}"
        );
    }
    family(
        &mut out,
        "sip_balancer_sip_responses_by_class_total",
        "Forwarded SIP responses by status class.",
        "counter",
    );
    for (c, n) in CLASS_NAMES.iter().zip(t.sip.responses_by_class) {
        let class = c.to_ascii_lowercase();
        let _ = writeln!(
            out,
            "sip_balancer_sip_responses_by_class_total{{class=\"{class}\"}} {n}"
        );
    }
    let smpp = [
        (
            "requests_to_server",
            "SMPP requests sent to SMSCs.",
            t.smpp.requests_to_server,
        ),
        (
            "requests_to_client",
            "SMPP requests sent to ESMEs.",
            t.smpp.requests_to_client,
        ),
        (
            "bytes_to_server",
            "SMPP bytes sent to SMSCs.",
            t.smpp.bytes_to_server,
        ),
        (
            "bytes_to_client",
            "SMPP bytes sent to ESMEs.",
            t.smpp.bytes_to_client,
        ),
        (
            "responses_to_server",
            "SMPP responses relayed to SMSCs.",
            t.smpp.responses_to_server,
        ),
        (
            "responses_to_client",
            "SMPP responses relayed to ESMEs.",
            t.smpp.responses_to_client,
        ),
    ];
    for (name, help, value) in smpp {
        counter(
            &mut out,
            &format!("sip_balancer_smpp_{name}_total"),
            help,
            value,
        );
    }
    gauges(&mut out, v);
    histogram(
        &mut out,
        "sip_balancer_proxy_seconds",
        "Time in the SIP proxy per message (one message in 8 is sampled).",
        &t.handle,
    );
    histogram(
        &mut out,
        "sip_balancer_receive_wait_seconds",
        "Kernel receive timestamp to the proxy (UDP, one datagram in 8): wake-up and queueing in the shard.",
        &t.wait,
    );
    shard_quantiles(&mut out, v);
    out
}

fn gauges(out: &mut String, v: &View<'_>) {
    let c = v.node_counts();
    gauge(
        out,
        "sip_balancer_nodes",
        "Balanced nodes by state (bad = alive but excluded by a health check).",
        &[
            ("state=\"up\"", c.up as f64),
            ("state=\"draining\"", c.draining as f64),
            ("state=\"down\"", c.down as f64),
            ("state=\"bad\"", c.bad as f64),
        ],
    );
    let plain = [
        (
            "sip_balancer_active_nodes",
            "Alive balanced nodes (activeNodes).",
            v.active_nodes() as f64,
        ),
        (
            "sip_balancer_active_calls",
            "Call-ID affinity entries over all shards (NumberOfActiveCalls).",
            v.totals.active_calls as f64,
        ),
        (
            "sip_balancer_sip_connections",
            "Open SIP stream connections (without the UDP listeners).",
            v.totals.connections as f64,
        ),
        (
            "sip_balancer_smpp_connections",
            "Open SMPP connections, ESMEs and SMSCs (NumberOfActiveSmppConnections).",
            v.totals.smpp.connections as f64,
        ),
        (
            "sip_balancer_shards",
            "Shard threads.",
            v.totals.shards.len() as f64,
        ),
        (
            "process_cpu_usage_percent",
            "Recent CPU usage, percent of the CPUs the process may use (JvmCpuUsage).",
            v.process.cpu_percent,
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes (JvmHeapSize).",
            v.process.rss_bytes as f64,
        ),
    ];
    for (name, help, value) in plain {
        gauge(out, name, help, &[("", value)]);
    }
    family(
        out,
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        "counter",
    );
    let _ = writeln!(out, "process_cpu_seconds_total {}", v.process.cpu_seconds);
}

fn shard_quantiles(out: &mut String, v: &View<'_>) {
    let series = [
        (
            "sip_balancer_proxy_quantile_seconds",
            "Per-shard quantiles of the time in the proxy (since start).",
            false,
        ),
        (
            "sip_balancer_receive_wait_quantile_seconds",
            "Per-shard quantiles of kernel receive to proxy (since start).",
            true,
        ),
    ];
    for (name, help, wait) in series {
        family(out, name, help, "gauge");
        for (shard, s) in v.totals.shards.iter().enumerate() {
            let q = if wait { &s.wait } else { &s.handle };
            for (quantile, ns) in QUANTILES.iter().zip(q) {
                let _ = writeln!(
                    out,
                    "{name}{{shard=\"{shard}\",quantile=\"{quantile}\"}} {}",
                    seconds(*ns)
                );
            }
        }
    }
}

fn histogram(out: &mut String, name: &str, help: &str, l: &Latency) {
    family(out, name, help, "histogram");
    for (bound, count) in BOUNDS_NS.iter().zip(l.cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {count}", seconds(*bound));
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", l.count);
    let _ = writeln!(out, "{name}_sum {}", seconds(l.sum_ns));
    let _ = writeln!(out, "{name}_count {}", l.count);
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    family(out, name, help, "counter");
    let _ = writeln!(out, "{name} {value}");
}

/// A gauge family; each sample is (labels without braces, value).
fn gauge(out: &mut String, name: &str, help: &str, samples: &[(&str, f64)]) {
    family(out, name, help, "gauge");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::NodeSet;
    use crate::stats::board::{ShardTotals, Totals};
    use crate::stats::process::ProcessStats;
    use crate::stats::view::Facts;
    use crate::stats::SipCounters;

    fn text() -> String {
        let mut handle = Latency::default();
        handle.cumulative[0] = 2;
        for c in handle.cumulative.iter_mut().skip(1) {
            *c = 3;
        }
        handle.count = 3;
        handle.sum_ns = 4_500;
        let totals = Totals {
            sip: SipCounters {
                requests_forwarded: 30,
                requests_by_method: [10, 10, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                responses_by_class: [0, 20, 0, 0, 0, 0, 0, 0, 0],
                ..SipCounters::default()
            },
            handle,
            shards: vec![ShardTotals {
                publishes: 1,
                handle: [1_000, 2_000, 3_000, 3_000, 3_000],
                wait: [0; 5],
            }],
            ..Totals::default()
        };
        let nodes = NodeSet::default();
        let facts = Facts::default();
        render(&View {
            totals: &totals,
            nodes: &nodes,
            process: ProcessStats {
                cpu_percent: 1.5,
                cpu_seconds: 0.25,
                rss_bytes: 4096,
            },
            facts: &facts,
        })
    }

    #[test]
    fn samples_are_where_the_names_say() {
        let t = text();
        for line in [
            "# TYPE sip_balancer_sip_requests_forwarded_total counter",
            "sip_balancer_sip_requests_forwarded_total 30",
            "sip_balancer_sip_requests_by_method_total{method=\"ACK\"} 10",
            "sip_balancer_sip_responses_by_class_total{class=\"2xx\"} 20",
            "# TYPE sip_balancer_proxy_seconds histogram",
            "sip_balancer_proxy_seconds_bucket{le=\"0.000001\"} 2",
            "sip_balancer_proxy_seconds_bucket{le=\"1\"} 3",
            "sip_balancer_proxy_seconds_bucket{le=\"+Inf\"} 3",
            "sip_balancer_proxy_seconds_sum 0.0000045",
            "sip_balancer_proxy_seconds_count 3",
            "sip_balancer_proxy_quantile_seconds{shard=\"0\",quantile=\"0.99\"} 0.000003",
            "process_resident_memory_bytes 4096",
            "process_cpu_usage_percent 1.5",
            "process_cpu_seconds_total 0.25",
            "sip_balancer_nodes{state=\"up\"} 0",
            &format!("sip_balancer_info{{version=\"{RELEASE_VERSION}\"}} 1"),
        ] {
            assert!(t.lines().any(|l| l == line), "missing `{line}` in\n{t}");
        }
    }

    #[test]
    fn every_sample_belongs_to_a_declared_family() {
        let t = text();
        let mut declared: Vec<(String, String)> = Vec::new();
        for line in t.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                declared.push((name.to_string(), kind.to_string()));
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            let (family, kind) = declared.last().unwrap();
            let ok = match kind.as_str() {
                "histogram" => [
                    format!("{family}_bucket"),
                    format!("{family}_sum"),
                    format!("{family}_count"),
                ]
                .contains(&name.to_string()),
                _ => name == family,
            };
            assert!(ok, "`{line}` outside its family {family}");
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "value of `{line}`");
        }
    }
}
