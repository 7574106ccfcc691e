//! The server side: the balancer's session with an ESME (the guide's
//! "server part").
//!
//! States (user guide §1.8): `OPEN` accepts only binds; `BINDING` waits for
//! the SMSC side and ignores the ESME; `BOUND` passes what the operation
//! matrix allows; `REBINDING` answers every request `ESME_RSYSERR` while the
//! SMSC side reconnects; `UNBINDING` waits for the end of an unbind;
//! `CLOSED` is final. Each transition consumes the state and returns the
//! next one with a [`Step`] that tells the proxy what to do with the PDU.

use std::time::{Duration, Instant};

use crate::smpp::command::{CommandId, CommandStatus};
use crate::smpp::matrix::{self, BindState, Sender, Verdict};

/// ESME-facing session state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Connected; a bind must arrive before `bind_by` (`timeoutConnection`).
    Open {
        /// Close the connection if no bind came by then.
        bind_by: Instant,
    },
    /// Bind received; the SMSC side is binding. Answer due by `deadline`
    /// (`timeoutResponse`), else `bind_resp` `ESME_RSYSERR`.
    Binding {
        /// Give up on the SMSC side then.
        deadline: Instant,
    },
    /// Bound: traffic flows.
    Bound,
    /// The SMSC side was lost and is reconnecting.
    Rebinding,
    /// An unbind is in progress; closed at `deadline` at the latest.
    Unbinding {
        /// Close then.
        deadline: Instant,
    },
    /// Final.
    Closed,
}

/// What the proxy must do with a PDU from the ESME.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A bind in `OPEN`: bind the SMSC side.
    StartBind,
    /// A request for the SMSC side: renumber and forward.
    Forward,
    /// A response to a request the SMSC side sent: restore and relay.
    Relay,
    /// Answer `enquire_link_resp` locally.
    AnswerEnquire,
    /// The ESME answered the balancer's `enquire_link`.
    EnquireAnswered,
    /// The ESME asked to unbind while bound.
    Unbind,
    /// The ESME asked to unbind while rebinding: answer locally and close.
    UnbindLocal,
    /// `unbind_resp` in `UNBINDING`: relay if it answers a relayed unbind, then close.
    UnbindAnswered,
    /// Answer with the request's response carrying this status.
    Reject(u32),
    /// Answer `generic_nack` with this status.
    Nack(u32),
    /// Answer `generic_nack` with this status, then close.
    NackClose(u32),
    /// Drop the PDU.
    Ignore,
}

// === impl ServerState ===

impl ServerState {
    /// The state of a freshly accepted connection.
    pub fn accepted(now: Instant, timeout_connection: Duration) -> ServerState {
        ServerState::Open {
            bind_by: now + timeout_connection,
        }
    }

    /// A PDU `id` arrived from the ESME, bound as `bind`.
    pub fn on_pdu(
        self,
        id: CommandId,
        bind: BindState,
        now: Instant,
        timeout_response: Duration,
    ) -> (ServerState, Step) {
        match self {
            ServerState::Open { .. } if id.is_bind() => (
                ServerState::Binding {
                    deadline: now + timeout_response,
                },
                Step::StartBind,
            ),
            ServerState::Open { .. } => (
                ServerState::Closed,
                Step::NackClose(CommandStatus::ESME_RINVCMDID),
            ),
            ServerState::Bound => bound(id, bind, now, timeout_response),
            ServerState::Rebinding => (self, rebinding(id)),
            ServerState::Unbinding { .. } => unbinding(self, id),
            ServerState::Binding { .. } | ServerState::Closed => (self, Step::Ignore),
        }
    }

    /// The SMSC side is bound: `BINDING`/`REBINDING` → `BOUND`.
    pub fn on_bound(self) -> ServerState {
        match self {
            ServerState::Binding { .. } | ServerState::Rebinding => ServerState::Bound,
            s => s,
        }
    }

    /// The bind failed: `BINDING` → `OPEN` (the ESME may bind again).
    pub fn on_bind_failed(self, now: Instant, timeout_connection: Duration) -> ServerState {
        match self {
            ServerState::Binding { .. } => ServerState::accepted(now, timeout_connection),
            s => s,
        }
    }

    /// The SMSC side was lost: `BOUND` → `REBINDING`.
    pub fn on_link_lost(self) -> ServerState {
        match self {
            ServerState::Bound => ServerState::Rebinding,
            s => s,
        }
    }

    /// The balancer sent the ESME an `unbind`.
    pub fn on_unbind_sent(self, now: Instant, timeout_response: Duration) -> ServerState {
        match self {
            ServerState::Closed => self,
            _ => ServerState::Unbinding {
                deadline: now + timeout_response,
            },
        }
    }

    /// The state's own deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        match *self {
            ServerState::Open { bind_by } => Some(bind_by),
            ServerState::Binding { deadline } | ServerState::Unbinding { deadline } => {
                Some(deadline)
            }
            _ => None,
        }
    }

    /// The matrix state used to check PDUs (`OPEN` unless bound).
    pub fn is_bound(&self) -> bool {
        matches!(self, ServerState::Bound)
    }
}

fn bound(id: CommandId, bind: BindState, now: Instant, t: Duration) -> (ServerState, Step) {
    let step = match id {
        CommandId::ENQUIRE_LINK => Step::AnswerEnquire,
        CommandId::ENQUIRE_LINK_RESP => Step::EnquireAnswered,
        CommandId::UNBIND => {
            let s = ServerState::Unbinding { deadline: now + t };
            return (s, Step::Unbind);
        }
        _ => match matrix::check(id, Sender::Esme, bind) {
            Verdict::Allowed if id.is_response() => Step::Relay,
            Verdict::Allowed => Step::Forward,
            Verdict::UnknownCommand | Verdict::WrongSender => {
                Step::Nack(CommandStatus::ESME_RINVCMDID)
            }
            Verdict::WrongState if id.is_bind() => Step::Reject(CommandStatus::ESME_RALYBND),
            Verdict::WrongState if id.is_response() => Step::Nack(CommandStatus::ESME_RINVBNDSTS),
            Verdict::WrongState => Step::Reject(CommandStatus::ESME_RINVBNDSTS),
        },
    };
    (ServerState::Bound, step)
}

fn rebinding(id: CommandId) -> Step {
    match id {
        CommandId::ENQUIRE_LINK => Step::AnswerEnquire,
        CommandId::ENQUIRE_LINK_RESP => Step::EnquireAnswered,
        CommandId::UNBIND => Step::UnbindLocal,
        _ if !id.is_known() => Step::Nack(CommandStatus::ESME_RINVCMDID),
        _ if id.expects_response() => Step::Reject(CommandStatus::ESME_RSYSERR),
        _ => Step::Ignore,
    }
}

fn unbinding(s: ServerState, id: CommandId) -> (ServerState, Step) {
    match id {
        CommandId::UNBIND_RESP => (ServerState::Closed, Step::UnbindAnswered),
        CommandId::ENQUIRE_LINK => (s, Step::AnswerEnquire),
        _ if id.is_response() => (s, Step::Relay),
        _ => (s, Step::Ignore),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandId as C;

    const T: Duration = Duration::from_millis(100);

    #[test]
    fn open_accepts_only_binds() {
        let t0 = crate::test_epoch();
        let open = ServerState::accepted(t0, T);
        assert_eq!(open.deadline(), Some(t0 + T));
        let (s, step) = open.on_pdu(C::BIND_TRANSCEIVER, BindState::Open, t0, T);
        assert_eq!(
            (s, step),
            (ServerState::Binding { deadline: t0 + T }, Step::StartBind)
        );
        let (s, step) = open.on_pdu(C::SUBMIT_SM, BindState::Open, t0, T);
        assert_eq!((s, step), (ServerState::Closed, Step::NackClose(3)));
        let (s, step) = open.on_pdu(C::ENQUIRE_LINK, BindState::Open, t0, T);
        assert_eq!((s, step), (ServerState::Closed, Step::NackClose(3)));
    }

    #[test]
    fn binding_ignores_and_moves_on_with_the_smsc_side() {
        let t0 = crate::test_epoch();
        let b = ServerState::Binding { deadline: t0 };
        assert_eq!(
            b.on_pdu(C::SUBMIT_SM, BindState::Open, t0, T).1,
            Step::Ignore
        );
        assert_eq!(b.on_bound(), ServerState::Bound);
        assert_eq!(
            b.on_bind_failed(t0, T),
            ServerState::Open { bind_by: t0 + T }
        );
        assert_eq!(ServerState::Bound.on_link_lost(), ServerState::Rebinding);
        assert_eq!(ServerState::Rebinding.on_bound(), ServerState::Bound);
    }

    #[test]
    fn bound_follows_the_matrix() {
        let t0 = crate::test_epoch();
        let b = ServerState::Bound;
        let step = |id, bs| b.on_pdu(id, bs, t0, T).1;
        assert_eq!(step(C::SUBMIT_SM, BindState::BoundTx), Step::Forward);
        assert_eq!(step(C::SUBMIT_SM, BindState::BoundRx), Step::Reject(4));
        assert_eq!(step(C::DELIVER_SM_RESP, BindState::BoundTrx), Step::Relay);
        assert_eq!(step(C::GENERIC_NACK, BindState::BoundTrx), Step::Relay);
        assert_eq!(step(C::DELIVER_SM, BindState::BoundTrx), Step::Nack(3));
        assert_eq!(step(C(0x1234), BindState::BoundTrx), Step::Nack(3));
        assert_eq!(
            step(C::BIND_TRANSMITTER, BindState::BoundTx),
            Step::Reject(5)
        );
        assert_eq!(
            step(C::ENQUIRE_LINK, BindState::BoundTx),
            Step::AnswerEnquire
        );
        assert_eq!(
            b.on_pdu(C::UNBIND, BindState::BoundTx, t0, T),
            (ServerState::Unbinding { deadline: t0 + T }, Step::Unbind)
        );
    }

    #[test]
    fn rebinding_answers_requests_with_syserr() {
        let t0 = crate::test_epoch();
        let r = ServerState::Rebinding;
        let step = |id| r.on_pdu(id, BindState::BoundTx, t0, T).1;
        assert_eq!(step(C::SUBMIT_SM), Step::Reject(8));
        assert_eq!(step(C::QUERY_SM), Step::Reject(8));
        assert_eq!(step(C::ENQUIRE_LINK), Step::AnswerEnquire);
        assert_eq!(step(C::ENQUIRE_LINK_RESP), Step::EnquireAnswered);
        assert_eq!(step(C::DELIVER_SM_RESP), Step::Ignore);
        assert_eq!(step(C::UNBIND), Step::UnbindLocal);
        assert_eq!(step(C(0x77)), Step::Nack(3));
    }

    #[test]
    fn unbinding_ends_on_unbind_resp() {
        let t0 = crate::test_epoch();
        let u = ServerState::Bound.on_unbind_sent(t0, T);
        assert_eq!(u.deadline(), Some(t0 + T));
        assert_eq!(
            u.on_pdu(C::UNBIND_RESP, BindState::BoundTx, t0, T),
            (ServerState::Closed, Step::UnbindAnswered)
        );
        assert_eq!(
            u.on_pdu(C::SUBMIT_SM, BindState::BoundTx, t0, T).1,
            Step::Ignore
        );
        assert_eq!(
            u.on_pdu(C::DELIVER_SM_RESP, BindState::BoundTx, t0, T).1,
            Step::Relay
        );
    }
}
