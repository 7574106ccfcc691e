//! SMPP 3.4 command ids and command statuses (spec §5.1.2, §5.1.3).
//!
//! [`CommandId`] is a newtype over the wire value so that unknown ids pass
//! through the framer and the proxy can answer them with `generic_nack`
//! instead of failing to decode. [`CommandStatus`] holds the statuses the
//! balancer itself produces or inspects.

use std::fmt;

/// `command_id` of a PDU header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub u32);

/// Bit 31 of `command_id`: set on every response.
const RESPONSE_BIT: u32 = 0x8000_0000;

impl CommandId {
    /// `generic_nack`.
    pub const GENERIC_NACK: CommandId = CommandId(0x8000_0000);
    /// `bind_receiver`.
    pub const BIND_RECEIVER: CommandId = CommandId(0x0000_0001);
    /// `bind_receiver_resp`.
    pub const BIND_RECEIVER_RESP: CommandId = CommandId(0x8000_0001);
    /// `bind_transmitter`.
    pub const BIND_TRANSMITTER: CommandId = CommandId(0x0000_0002);
    /// `bind_transmitter_resp`.
    pub const BIND_TRANSMITTER_RESP: CommandId = CommandId(0x8000_0002);
    /// `query_sm`.
    pub const QUERY_SM: CommandId = CommandId(0x0000_0003);
    /// `query_sm_resp`.
    pub const QUERY_SM_RESP: CommandId = CommandId(0x8000_0003);
    /// `submit_sm`.
    pub const SUBMIT_SM: CommandId = CommandId(0x0000_0004);
    /// `submit_sm_resp`.
    pub const SUBMIT_SM_RESP: CommandId = CommandId(0x8000_0004);
    /// `deliver_sm`.
    pub const DELIVER_SM: CommandId = CommandId(0x0000_0005);
    /// `deliver_sm_resp`.
    pub const DELIVER_SM_RESP: CommandId = CommandId(0x8000_0005);
    /// `unbind`.
    pub const UNBIND: CommandId = CommandId(0x0000_0006);
    /// `unbind_resp`.
    pub const UNBIND_RESP: CommandId = CommandId(0x8000_0006);
    /// `replace_sm`.
    pub const REPLACE_SM: CommandId = CommandId(0x0000_0007);
    /// `replace_sm_resp`.
    pub const REPLACE_SM_RESP: CommandId = CommandId(0x8000_0007);
    /// `cancel_sm`.
    pub const CANCEL_SM: CommandId = CommandId(0x0000_0008);
    /// `cancel_sm_resp`.
    pub const CANCEL_SM_RESP: CommandId = CommandId(0x8000_0008);
    /// `bind_transceiver`.
    pub const BIND_TRANSCEIVER: CommandId = CommandId(0x0000_0009);
    /// `bind_transceiver_resp`.
    pub const BIND_TRANSCEIVER_RESP: CommandId = CommandId(0x8000_0009);
    /// `outbind`.
    pub const OUTBIND: CommandId = CommandId(0x0000_000B);
    /// `enquire_link`.
    pub const ENQUIRE_LINK: CommandId = CommandId(0x0000_0015);
    /// `enquire_link_resp`.
    pub const ENQUIRE_LINK_RESP: CommandId = CommandId(0x8000_0015);
    /// `submit_multi`.
    pub const SUBMIT_MULTI: CommandId = CommandId(0x0000_0021);
    /// `submit_multi_resp`.
    pub const SUBMIT_MULTI_RESP: CommandId = CommandId(0x8000_0021);
    /// `alert_notification`.
    pub const ALERT_NOTIFICATION: CommandId = CommandId(0x0000_0102);
    /// `data_sm`.
    pub const DATA_SM: CommandId = CommandId(0x0000_0103);
    /// `data_sm_resp`.
    pub const DATA_SM_RESP: CommandId = CommandId(0x8000_0103);

    /// Every command id SMPP 3.4 defines.
    pub const ALL: [CommandId; 27] = [
        CommandId::GENERIC_NACK,
        CommandId::BIND_RECEIVER,
        CommandId::BIND_RECEIVER_RESP,
        CommandId::BIND_TRANSMITTER,
        CommandId::BIND_TRANSMITTER_RESP,
        CommandId::QUERY_SM,
        CommandId::QUERY_SM_RESP,
        CommandId::SUBMIT_SM,
        CommandId::SUBMIT_SM_RESP,
        CommandId::DELIVER_SM,
        CommandId::DELIVER_SM_RESP,
        CommandId::UNBIND,
        CommandId::UNBIND_RESP,
        CommandId::REPLACE_SM,
        CommandId::REPLACE_SM_RESP,
        CommandId::CANCEL_SM,
        CommandId::CANCEL_SM_RESP,
        CommandId::BIND_TRANSCEIVER,
        CommandId::BIND_TRANSCEIVER_RESP,
        CommandId::OUTBIND,
        CommandId::ENQUIRE_LINK,
        CommandId::ENQUIRE_LINK_RESP,
        CommandId::SUBMIT_MULTI,
        CommandId::SUBMIT_MULTI_RESP,
        CommandId::ALERT_NOTIFICATION,
        CommandId::DATA_SM,
        CommandId::DATA_SM_RESP,
    ];

    /// True for `*_resp` ids and `generic_nack`.
    pub const fn is_response(self) -> bool {
        self.0 & RESPONSE_BIT != 0
    }

    /// The response id of a request (`submit_sm` → `submit_sm_resp`).
    /// `generic_nack` is its own response.
    pub const fn response(self) -> CommandId {
        CommandId(self.0 | RESPONSE_BIT)
    }

    /// True for a request that the peer must answer: every request but
    /// `outbind` and `alert_notification`.
    pub const fn expects_response(self) -> bool {
        !self.is_response() && !matches!(self.0, 0x0B | 0x0102)
    }

    /// True for the three bind requests.
    pub const fn is_bind(self) -> bool {
        matches!(self.0, 0x01 | 0x02 | 0x09)
    }

    /// True for the three bind responses.
    pub const fn is_bind_resp(self) -> bool {
        matches!(self.0, 0x8000_0001 | 0x8000_0002 | 0x8000_0009)
    }

    /// True when SMPP 3.4 defines this id.
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }

    /// The spec's name, e.g. `submit_sm`; `None` for an unknown id.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            CommandId::GENERIC_NACK => "generic_nack",
            CommandId::BIND_RECEIVER => "bind_receiver",
            CommandId::BIND_RECEIVER_RESP => "bind_receiver_resp",
            CommandId::BIND_TRANSMITTER => "bind_transmitter",
            CommandId::BIND_TRANSMITTER_RESP => "bind_transmitter_resp",
            CommandId::QUERY_SM => "query_sm",
            CommandId::QUERY_SM_RESP => "query_sm_resp",
            CommandId::SUBMIT_SM => "submit_sm",
            CommandId::SUBMIT_SM_RESP => "submit_sm_resp",
            CommandId::DELIVER_SM => "deliver_sm",
            CommandId::DELIVER_SM_RESP => "deliver_sm_resp",
            CommandId::UNBIND => "unbind",
            CommandId::UNBIND_RESP => "unbind_resp",
            CommandId::REPLACE_SM => "replace_sm",
            CommandId::REPLACE_SM_RESP => "replace_sm_resp",
            CommandId::CANCEL_SM => "cancel_sm",
            CommandId::CANCEL_SM_RESP => "cancel_sm_resp",
            CommandId::BIND_TRANSCEIVER => "bind_transceiver",
            CommandId::BIND_TRANSCEIVER_RESP => "bind_transceiver_resp",
            CommandId::OUTBIND => "outbind",
            CommandId::ENQUIRE_LINK => "enquire_link",
            CommandId::ENQUIRE_LINK_RESP => "enquire_link_resp",
            CommandId::SUBMIT_MULTI => "submit_multi",
            CommandId::SUBMIT_MULTI_RESP => "submit_multi_resp",
            CommandId::ALERT_NOTIFICATION => "alert_notification",
            CommandId::DATA_SM => "data_sm",
            CommandId::DATA_SM_RESP => "data_sm_resp",
            _ => return None,
        })
    }
}

impl fmt::Debug for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "CommandId({:#010x})", self.0),
        }
    }
}

/// `command_status` values the balancer produces or looks at.
pub struct CommandStatus;

impl CommandStatus {
    /// No error.
    pub const ESME_ROK: u32 = 0x0000_0000;
    /// Message length is invalid.
    pub const ESME_RINVMSGLEN: u32 = 0x0000_0001;
    /// Command length is invalid.
    pub const ESME_RINVCMDLEN: u32 = 0x0000_0002;
    /// Invalid command id.
    pub const ESME_RINVCMDID: u32 = 0x0000_0003;
    /// Incorrect bind status for the given command.
    pub const ESME_RINVBNDSTS: u32 = 0x0000_0004;
    /// ESME already in bound state.
    pub const ESME_RALYBND: u32 = 0x0000_0005;
    /// System error.
    pub const ESME_RSYSERR: u32 = 0x0000_0008;
    /// Bind failed.
    pub const ESME_RBINDFAIL: u32 = 0x0000_000D;
    /// Invalid password.
    pub const ESME_RINVPASWD: u32 = 0x0000_000E;
    /// Invalid system id.
    pub const ESME_RINVSYSID: u32 = 0x0000_000F;
    /// Throttling error: the ESME exceeded its allowed message window.
    pub const ESME_RTHROTTLED: u32 = 0x0000_0058;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_maps_to_its_response() {
        for id in CommandId::ALL {
            if id.expects_response() {
                assert!(id.response().is_known(), "{id:?}");
            }
            if id.is_response() {
                assert_eq!(id.response(), id);
            }
        }
        assert_eq!(CommandId::SUBMIT_SM.response(), CommandId::SUBMIT_SM_RESP);
        assert_eq!(CommandId::DATA_SM.response(), CommandId::DATA_SM_RESP);
    }

    #[test]
    fn unknown_ids_have_no_name() {
        assert_eq!(CommandId(0x99).name(), None);
        assert_eq!(format!("{:?}", CommandId(0x99)), "CommandId(0x00000099)");
        assert_eq!(format!("{:?}", CommandId::OUTBIND), "outbind");
        assert!(CommandId::BIND_TRANSCEIVER.is_bind());
        assert!(CommandId::BIND_RECEIVER_RESP.is_bind_resp());
        assert!(!CommandId::OUTBIND.is_bind());
        assert!(!CommandId::OUTBIND.expects_response());
        assert!(!CommandId::ALERT_NOTIFICATION.expects_response());
        assert!(!CommandId::GENERIC_NACK.expects_response());
        assert!(CommandId::ENQUIRE_LINK.expects_response());
    }
}
