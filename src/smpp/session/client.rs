//! The client side: the balancer's session with an SMSC (the guide's
//! "client part").
//!
//! States (user guide §1.8): `INITIAL` while the TCP connect is under way;
//! `OPEN` once connected, until the bind is written; `BINDING` accepts only
//! the answer to that bind; `BOUND` passes what the operation matrix allows;
//! `REBINDING` after a loss, until the reconnect is due; `UNBINDING` waits
//! for `unbind_resp`; `CLOSED` is final.

use std::time::{Duration, Instant};

use crate::smpp::command::{CommandId, CommandStatus};
use crate::smpp::header::Header;
use crate::smpp::matrix::{self, BindState, Sender, Verdict};

/// SMSC-facing session state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// A TCP connect is in flight.
    Initial,
    /// Connected; the bind is about to be written.
    Open,
    /// The bind numbered `seq` is out; its answer is due by `deadline`.
    Binding {
        /// Sequence number of the balancer's bind.
        seq: u32,
        /// `timeoutResponse` after the bind was sent.
        deadline: Instant,
    },
    /// Bound: traffic flows.
    Bound,
    /// Lost; reconnect at `retry_at` (`reconnectPeriod`).
    Rebinding {
        /// When to connect again.
        retry_at: Instant,
    },
    /// An unbind is in progress; closed at `deadline` at the latest.
    Unbinding {
        /// Close then.
        deadline: Instant,
    },
    /// Final.
    Closed,
}

/// What the proxy must do with a PDU from the SMSC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The bind succeeded.
    BindOk,
    /// The bind failed with this status.
    BindFailed(u32),
    /// A request for the ESME side: renumber and forward.
    Forward,
    /// A response to a forwarded request: restore and relay.
    Relay,
    /// Answer `enquire_link_resp` locally.
    AnswerEnquire,
    /// The SMSC answered the balancer's `enquire_link`.
    EnquireAnswered,
    /// The SMSC asked to unbind.
    Unbind,
    /// `unbind_resp` in `UNBINDING`.
    UnbindAnswered,
    /// Answer with the request's response carrying this status.
    Reject(u32),
    /// Answer `generic_nack` with this status.
    Nack(u32),
    /// Drop the PDU.
    Ignore,
}

// === impl ClientState ===

impl ClientState {
    /// The TCP connection is up: `INITIAL` → `OPEN`.
    pub fn on_connected(self) -> ClientState {
        match self {
            ClientState::Initial => ClientState::Open,
            s => s,
        }
    }

    /// The bind numbered `seq` was written: `OPEN` → `BINDING`.
    pub fn on_bind_sent(self, seq: u32, now: Instant, timeout_response: Duration) -> ClientState {
        match self {
            ClientState::Open => ClientState::Binding {
                seq,
                deadline: now + timeout_response,
            },
            s => s,
        }
    }

    /// The connection is gone (or is being dropped): → `REBINDING`.
    pub fn on_lost(self, now: Instant, reconnect_period: Duration) -> ClientState {
        match self {
            ClientState::Closed => self,
            _ => ClientState::Rebinding {
                retry_at: now + reconnect_period,
            },
        }
    }

    /// The reconnect is under way: `REBINDING` → `INITIAL`.
    pub fn on_reconnect(self) -> ClientState {
        match self {
            ClientState::Rebinding { .. } => ClientState::Initial,
            s => s,
        }
    }

    /// The balancer sent (or relayed) an `unbind` towards the SMSC.
    pub fn on_unbind_sent(self, now: Instant, timeout_response: Duration) -> ClientState {
        ClientState::Unbinding {
            deadline: now + timeout_response,
        }
    }

    /// A PDU with header `h` arrived from the SMSC while bound as `bind`.
    pub fn on_pdu(
        self,
        h: &Header,
        bind: BindState,
        now: Instant,
        timeout_response: Duration,
    ) -> (ClientState, Step) {
        let id = h.command_id;
        match self {
            ClientState::Binding { seq, .. } if h.sequence_number == seq => binding(self, h),
            ClientState::Bound => bound(id, bind, now, timeout_response),
            ClientState::Unbinding { .. } => match id {
                CommandId::UNBIND_RESP => (ClientState::Closed, Step::UnbindAnswered),
                CommandId::ENQUIRE_LINK => (self, Step::AnswerEnquire),
                _ if id.is_response() => (self, Step::Relay),
                _ => (self, Step::Ignore),
            },
            _ => (self, Step::Ignore),
        }
    }

    /// The state's own deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        match *self {
            ClientState::Binding { deadline, .. } | ClientState::Unbinding { deadline } => {
                Some(deadline)
            }
            ClientState::Rebinding { retry_at } => Some(retry_at),
            _ => None,
        }
    }
}

fn binding(s: ClientState, h: &Header) -> (ClientState, Step) {
    let id = h.command_id;
    if !(id.is_bind_resp() || id == CommandId::GENERIC_NACK) {
        return (s, Step::Ignore);
    }
    match h.command_status {
        CommandStatus::ESME_ROK if id.is_bind_resp() => (ClientState::Bound, Step::BindOk),
        CommandStatus::ESME_ROK => (
            ClientState::Closed,
            Step::BindFailed(CommandStatus::ESME_RBINDFAIL),
        ),
        st => (ClientState::Closed, Step::BindFailed(st)),
    }
}

fn bound(id: CommandId, bind: BindState, now: Instant, t: Duration) -> (ClientState, Step) {
    let step = match id {
        CommandId::ENQUIRE_LINK => Step::AnswerEnquire,
        CommandId::ENQUIRE_LINK_RESP => Step::EnquireAnswered,
        CommandId::UNBIND => {
            let s = ClientState::Unbinding { deadline: now + t };
            return (s, Step::Unbind);
        }
        _ => match matrix::check(id, Sender::Smsc, bind) {
            Verdict::Allowed if id.is_response() => Step::Relay,
            Verdict::Allowed => Step::Forward,
            Verdict::UnknownCommand | Verdict::WrongSender => {
                Step::Nack(CommandStatus::ESME_RINVCMDID)
            }
            Verdict::WrongState if id.is_response() => Step::Relay,
            Verdict::WrongState => Step::Reject(CommandStatus::ESME_RINVBNDSTS),
        },
    };
    (ClientState::Bound, step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandId as C;

    const T: Duration = Duration::from_millis(100);

    fn h(id: CommandId, status: u32, seq: u32) -> Header {
        Header {
            command_length: 16,
            command_id: id,
            command_status: status,
            sequence_number: seq,
        }
    }

    #[test]
    fn connect_bind_and_bound() {
        let t0 = crate::test_epoch();
        let s = ClientState::Initial.on_connected();
        assert_eq!(s, ClientState::Open);
        let s = s.on_bind_sent(1, t0, T);
        assert_eq!(s.deadline(), Some(t0 + T));
        let bt = BindState::BoundTrx;
        assert_eq!(
            s.on_pdu(&h(C::BIND_TRANSCEIVER_RESP, 0, 2), bt, t0, T).1,
            Step::Ignore
        );
        assert_eq!(
            s.on_pdu(&h(C::BIND_TRANSCEIVER_RESP, 0, 1), bt, t0, T),
            (ClientState::Bound, Step::BindOk)
        );
        assert_eq!(
            s.on_pdu(&h(C::BIND_TRANSMITTER_RESP, 0x0e, 1), bt, t0, T),
            (ClientState::Closed, Step::BindFailed(0x0e))
        );
        assert_eq!(
            s.on_pdu(&h(C::GENERIC_NACK, 3, 1), bt, t0, T),
            (ClientState::Closed, Step::BindFailed(3))
        );
    }

    #[test]
    fn bound_follows_the_matrix() {
        let t0 = crate::test_epoch();
        let step = |id, bs| ClientState::Bound.on_pdu(&h(id, 0, 9), bs, t0, T).1;
        assert_eq!(step(C::DELIVER_SM, BindState::BoundRx), Step::Forward);
        assert_eq!(step(C::DELIVER_SM, BindState::BoundTx), Step::Reject(4));
        assert_eq!(step(C::SUBMIT_SM_RESP, BindState::BoundTx), Step::Relay);
        assert_eq!(step(C::SUBMIT_SM, BindState::BoundTx), Step::Nack(3));
        assert_eq!(step(C(0x4444), BindState::BoundTx), Step::Nack(3));
        assert_eq!(
            step(C::ENQUIRE_LINK, BindState::BoundTx),
            Step::AnswerEnquire
        );
        assert_eq!(
            step(C::ALERT_NOTIFICATION, BindState::BoundTrx),
            Step::Forward
        );
        let (s, st) = ClientState::Bound.on_pdu(&h(C::UNBIND, 0, 9), BindState::BoundTx, t0, T);
        assert_eq!(
            (s, st),
            (ClientState::Unbinding { deadline: t0 + T }, Step::Unbind)
        );
    }

    #[test]
    fn lost_waits_then_reconnects() {
        let t0 = crate::test_epoch();
        let s = ClientState::Bound.on_lost(t0, T);
        assert_eq!(s, ClientState::Rebinding { retry_at: t0 + T });
        assert_eq!(s.deadline(), Some(t0 + T));
        assert_eq!(s.on_reconnect(), ClientState::Initial);
        let u = ClientState::Bound.on_unbind_sent(t0, T);
        assert_eq!(
            u.on_pdu(&h(C::UNBIND_RESP, 0, 5), BindState::BoundTx, t0, T),
            (ClientState::Closed, Step::UnbindAnswered)
        );
    }
}
