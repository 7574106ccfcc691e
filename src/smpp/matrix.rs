//! The SMPP 3.4 operation matrix (spec §2.3, table 2-1) as data.
//!
//! For every command id: which side may issue it (ESME or SMSC) and in
//! which session states. The proxy checks a PDU against this table before
//! any effect; a PDU the table rejects never reaches the other side.

use super::command::CommandId as C;

/// An SMPP session state of the spec (§2.2), seen from either end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindState {
    /// Connected, not bound.
    Open,
    /// Bound as transmitter.
    BoundTx,
    /// Bound as receiver.
    BoundRx,
    /// Bound as transceiver.
    BoundTrx,
}

/// Who sends a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The ESME (client side of the protocol).
    Esme,
    /// The SMSC / message centre.
    Smsc,
}

/// A set of [`BindState`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct States(u8);

impl States {
    const OPEN: States = States(1);
    const TX: States = States(2);
    const RX: States = States(4);
    const TRX: States = States(8);
    const NONE: States = States(0);
    const BOUND: States = States(2 | 4 | 8);
    const TX_TRX: States = States(2 | 8);
    const RX_TRX: States = States(4 | 8);

    /// True when `s` is in the set.
    pub const fn contains(self, s: BindState) -> bool {
        let bit = match s {
            BindState::Open => States::OPEN.0,
            BindState::BoundTx => States::TX.0,
            BindState::BoundRx => States::RX.0,
            BindState::BoundTrx => States::TRX.0,
        };
        self.0 & bit != 0
    }
}

/// One row of the matrix.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// The command.
    pub command: C,
    /// States in which the ESME may send it.
    pub esme: States,
    /// States in which the SMSC may send it.
    pub smsc: States,
}

const fn op(command: C, esme: States, smsc: States) -> Operation {
    Operation {
        command,
        esme,
        smsc,
    }
}

/// SMPP 3.4 table 2-1, one row per PDU. `data_sm` is issued by the ESME
/// when it can transmit and by the SMSC when the ESME can receive.
pub const OPERATIONS: [Operation; 27] = [
    op(C::BIND_TRANSMITTER, States::OPEN, States::NONE),
    op(C::BIND_TRANSMITTER_RESP, States::NONE, States::OPEN),
    op(C::BIND_RECEIVER, States::OPEN, States::NONE),
    op(C::BIND_RECEIVER_RESP, States::NONE, States::OPEN),
    op(C::BIND_TRANSCEIVER, States::OPEN, States::NONE),
    op(C::BIND_TRANSCEIVER_RESP, States::NONE, States::OPEN),
    op(C::OUTBIND, States::NONE, States::OPEN),
    op(C::UNBIND, States::BOUND, States::BOUND),
    op(C::UNBIND_RESP, States::BOUND, States::BOUND),
    op(C::SUBMIT_SM, States::TX_TRX, States::NONE),
    op(C::SUBMIT_SM_RESP, States::NONE, States::TX_TRX),
    op(C::SUBMIT_MULTI, States::TX_TRX, States::NONE),
    op(C::SUBMIT_MULTI_RESP, States::NONE, States::TX_TRX),
    op(C::DATA_SM, States::TX_TRX, States::RX_TRX),
    op(C::DATA_SM_RESP, States::RX_TRX, States::TX_TRX),
    op(C::DELIVER_SM, States::NONE, States::RX_TRX),
    op(C::DELIVER_SM_RESP, States::RX_TRX, States::NONE),
    op(C::QUERY_SM, States::TX_TRX, States::NONE),
    op(C::QUERY_SM_RESP, States::NONE, States::TX_TRX),
    op(C::CANCEL_SM, States::TX_TRX, States::NONE),
    op(C::CANCEL_SM_RESP, States::NONE, States::TX_TRX),
    op(C::REPLACE_SM, States::TX_TRX, States::NONE),
    op(C::REPLACE_SM_RESP, States::NONE, States::TX_TRX),
    op(C::ENQUIRE_LINK, States::BOUND, States::BOUND),
    op(C::ENQUIRE_LINK_RESP, States::BOUND, States::BOUND),
    op(C::ALERT_NOTIFICATION, States::NONE, States::RX_TRX),
    op(C::GENERIC_NACK, States::BOUND, States::BOUND),
];

/// The row of `command`, `None` for an id SMPP 3.4 does not define.
pub const fn operation(command: C) -> Option<Operation> {
    let mut i = 0;
    while i < OPERATIONS.len() {
        if OPERATIONS[i].command.0 == command.0 {
            return Some(OPERATIONS[i]);
        }
        i += 1;
    }
    None
}

/// What the matrix says about one PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed.
    Allowed,
    /// Not an SMPP 3.4 command id (answer `ESME_RINVCMDID`).
    UnknownCommand,
    /// This side never sends this command (answer `ESME_RINVCMDID`).
    WrongSender,
    /// Right side, wrong session state (answer `ESME_RINVBNDSTS`).
    WrongState,
}

/// May `sender`, in session state `state`, send `command`?
pub const fn check(command: C, sender: Sender, state: BindState) -> Verdict {
    let Some(op) = operation(command) else {
        return Verdict::UnknownCommand;
    };
    let states = match sender {
        Sender::Esme => op.esme,
        Sender::Smsc => op.smsc,
    };
    if states.0 == 0 {
        Verdict::WrongSender
    } else if states.contains(state) {
        Verdict::Allowed
    } else {
        Verdict::WrongState
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_command_has_one_row() {
        for id in C::ALL {
            assert!(operation(id).is_some(), "{id:?}");
            let rows = OPERATIONS.iter().filter(|o| o.command == id).count();
            assert_eq!(rows, 1, "{id:?}");
        }
    }

    #[test]
    fn spec_examples() {
        use BindState::*;
        use Sender::*;
        assert_eq!(check(C::SUBMIT_SM, Esme, BoundTx), Verdict::Allowed);
        assert_eq!(check(C::SUBMIT_SM, Esme, BoundRx), Verdict::WrongState);
        assert_eq!(check(C::SUBMIT_SM, Esme, Open), Verdict::WrongState);
        assert_eq!(check(C::SUBMIT_SM, Smsc, BoundTrx), Verdict::WrongSender);
        assert_eq!(check(C::DELIVER_SM, Smsc, BoundRx), Verdict::Allowed);
        assert_eq!(check(C::DELIVER_SM, Smsc, BoundTx), Verdict::WrongState);
        assert_eq!(check(C::DELIVER_SM, Esme, BoundTrx), Verdict::WrongSender);
        assert_eq!(check(C::DELIVER_SM_RESP, Esme, BoundTrx), Verdict::Allowed);
        assert_eq!(check(C::DATA_SM, Esme, BoundRx), Verdict::WrongState);
        assert_eq!(check(C::DATA_SM, Smsc, BoundRx), Verdict::Allowed);
        assert_eq!(check(C::BIND_TRANSCEIVER, Esme, Open), Verdict::Allowed);
        assert_eq!(
            check(C::BIND_TRANSCEIVER, Esme, BoundTrx),
            Verdict::WrongState
        );
        assert_eq!(check(C::OUTBIND, Esme, Open), Verdict::WrongSender);
        assert_eq!(check(C::ENQUIRE_LINK, Smsc, BoundTx), Verdict::Allowed);
        assert_eq!(
            check(C::ALERT_NOTIFICATION, Smsc, BoundTx),
            Verdict::WrongState
        );
        assert_eq!(check(C(0x1234), Esme, BoundTx), Verdict::UnknownCommand);
    }
}
