//! Defaults of absent keys — the only place they are written down
//! (`docs/config-reference.md` repeats them for operators).

use std::net::{IpAddr, Ipv4Addr};

/// `host` and the hosts of both legs.
pub const HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// `sip.external.udpPort` when the external leg names no port at all.
pub const EXTERNAL_UDP_PORT: u16 = 5060;
/// Port of an `extraServerNodes` entry without one.
pub const EXTRA_SERVER_NODE_PORT: u16 = 5060;
/// `nodeTimeout`, ms.
pub const NODE_TIMEOUT_MS: u64 = 8400;
/// `heartbeatInterval`, ms.
pub const HEARTBEAT_INTERVAL_MS: u64 = 150;
/// `heartbeatPort` (the original's HTTP/JSON heartbeat port).
pub const HEARTBEAT_PORT: u16 = 2610;
/// Lower bound of both timers, ms (the original refuses less).
pub const MIN_TIMER_MS: u64 = 15;
/// `statisticPort`.
pub const STATISTIC_PORT: u16 = 2006;
/// `shutdownTimeout`: the original's `/lbstop` drain, ms.
pub const SHUTDOWN_TIMEOUT_MS: u64 = 10_000;
/// `batchWaitMicros`: off; a lone message would wait up to this for
/// company before the shard wakes (docs/config-reference.md: the trade).
pub const BATCH_WAIT_MICROS: u64 = 0;
/// `busyPollMicros`: off; a shard sleeps in the kernel as soon as it has
/// nothing to do.
pub const BUSY_POLL_MICROS: u64 = 0;
/// `watchConfig`: reload when the file changes.
pub const WATCH_CONFIG: bool = true;
/// `sip.isSendTrying`.
pub const SEND_TRYING: bool = true;
/// `sip.unavailableStatus`.
pub const UNAVAILABLE_STATUS: u16 = 503;
/// `sip.unavailableReason`.
pub const UNAVAILABLE_REASON: &str = "Service Unavailable";
/// `sip.blockedValues`.
pub const BLOCKED_VALUES: [&str; 3] = ["sipvicious", "sipcli", "friendly-scanner"];
/// `sip.maxMessageSize`, bytes.
pub const MAX_MESSAGE_SIZE: usize = 65535;
/// `sip.socketBufferBytes`.
pub const SOCKET_BUFFER_BYTES: usize = 4 << 20;
/// `probe.interval`, ms.
pub const PROBE_INTERVAL_MS: u64 = 1000;
/// `probe.timeout`, ms.
pub const PROBE_TIMEOUT_MS: u64 = 1000;
/// `probe.failuresToDown`.
pub const PROBE_FAILURES_TO_DOWN: u32 = 3;
/// `probe.successesToUp`.
pub const PROBE_SUCCESSES_TO_UP: u32 = 1;
/// `algorithm.callIdAffinityMaxTimeInCache`, s.
pub const AFFINITY_MAX_TIME_S: u64 = 500;
/// `algorithm.callIdAffinityMaxEntries`.
pub const AFFINITY_MAX_ENTRIES: usize = 1_000_000;
/// `algorithm.sipHeaderAffinityKey`.
pub const SIP_HEADER_AFFINITY_KEY: &str = "Call-ID";
/// `algorithm.sipHeaderAffinityFallbackKey`.
pub const SIP_HEADER_AFFINITY_FALLBACK_KEY: &str = "Call-ID";
/// `health.responsesStatusCodeNodeRemoval`.
pub const ERROR_CODES: [u16; 1] = [503];
/// `health.maxNumberResponsesWithError`.
pub const MAX_ERRORS: u32 = 5;
/// `health.maxErrorTime`, ms.
pub const MAX_ERROR_TIME_MS: u64 = 300_000;
/// `algorithm.httpAffinityKey`.
pub const HTTP_AFFINITY_KEY: &str = "appsession";
/// `smpp.timeoutResponse`, ms.
pub const SMPP_TIMEOUT_RESPONSE_MS: u64 = 3000;
/// `smpp.timeoutConnection`, ms.
pub const SMPP_TIMEOUT_CONNECTION_MS: u64 = 1000;
/// `smpp.timeoutEnquire`, ms.
pub const SMPP_TIMEOUT_ENQUIRE_MS: u64 = 10000;
/// `smpp.reconnectPeriod`, ms.
pub const SMPP_RECONNECT_PERIOD_MS: u64 = 500;
/// `smpp.timeoutConnectionCheckClientSide`, ms.
pub const SMPP_CHECK_CLIENT_MS: u64 = 3000;
/// `smpp.timeoutConnectionCheckServerSide`, ms.
pub const SMPP_CHECK_SERVER_MS: u64 = 3000;
/// `smpp.maxConnectionSize`: the guide's "no more than ten outstanding".
pub const SMPP_MAX_CONNECTION_SIZE: usize = 10;
/// `http.maxHeadSize`, bytes.
pub const HTTP_MAX_HEAD_SIZE: usize = 16 * 1024;
/// `http.maxUriLength`, bytes.
pub const HTTP_MAX_URI_LENGTH: usize = 8 * 1024;
/// `http.headerTimeout`, ms.
pub const HTTP_HEADER_TIMEOUT_MS: u64 = 10_000;
/// `http.idleTimeout`, ms.
pub const HTTP_IDLE_TIMEOUT_MS: u64 = 60_000;
/// `http.upstreamIdleTimeout`, ms: below the keep-alive timeout of common
/// servers (nginx 75 s, Tomcat 20 s, Apache 5 s), so the balancer, not the
/// node, closes an idle pooled connection and a reused one is rarely stale.
pub const HTTP_UPSTREAM_IDLE_TIMEOUT_MS: u64 = 4_000;
/// `http.responseTimeout`, ms.
pub const HTTP_RESPONSE_TIMEOUT_MS: u64 = 60_000;
/// `http.maxConnections`, per shard.
pub const HTTP_MAX_CONNECTIONS: usize = 10_000;
/// Port of an `http.unavailableHost` without one (the original's).
pub const HTTP_UNAVAILABLE_HOST_PORT: u16 = 80;
