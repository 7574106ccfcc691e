//! Zero-copy decode and encode of every SMPP 3.4 PDU.
//!
//! [`Pdu::decode`] takes one framed PDU (see [`super::framer`]) and returns
//! a view whose string and octet fields borrow the input; TLVs stay the raw
//! validated region ([`tlv::Tlvs`]). [`Pdu::encode`] writes the view back:
//! for any PDU that decodes, encoding gives the same bytes (the tests check
//! this for every command). Decoding allocates nothing.
//!
//! The proxy does not decode most PDUs: it reads the header and forwards the
//! bytes. It decodes binds (credentials), `submit_sm_resp` (message ids) and
//! `deliver_sm` (receipts) with the per-body `parse` functions.
//!
//! Hand-written rather than `rusmpp-core`: the proxy needs the header, three
//! bodies and a 4-byte sequence patch; a dependency would bring SMPP 5.0
//! types, an owned-PDU layer and its own error model for that, and this
//! module is small enough to read in one sitting and fully tested here.

use super::command::CommandId;
use super::header::{Header, HEADER_LEN};
use reader::{put_cstr, Reader};

pub mod bind;
pub mod query;
pub(crate) mod reader;
pub mod sm;
pub mod tlv;

#[cfg(test)]
mod tests;

pub use bind::{Bind, BindResp, Outbind};
pub use query::{AlertNotification, CancelSm, QueryResult, QuerySm, QuerySmResp, ReplaceSm};
pub use sm::{DataSm, DestAddress, MessageIdResp, Sm, SubmitMulti, SubmitMultiResp, UnsuccessSme};
pub use tlv::{Tlv, Tlvs};

/// Why a PDU does not decode. Offsets are within the body (after the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer than 16 bytes.
    NoHeader,
    /// `command_length` differs from the bytes given.
    LengthMismatch {
        /// What the header says.
        command_length: u32,
        /// What was given.
        actual: usize,
    },
    /// A command id SMPP 3.4 does not define.
    UnknownCommand(CommandId),
    /// The body ends inside a field.
    Truncated {
        /// Offset of the field.
        at: usize,
    },
    /// A C-octet string has no NUL within its maximum length.
    FieldTooLong {
        /// Offset of the field.
        at: usize,
        /// Maximum length including the NUL.
        max: usize,
    },
    /// A TLV's length runs past the body.
    BadTlv {
        /// Offset of the TLV.
        at: usize,
    },
    /// A `submit_multi` destination has a `dest_flag` other than 1 or 2.
    BadDestFlag {
        /// Offset of the flag.
        at: usize,
    },
    /// Bytes after the last field of a body that has no TLVs.
    TrailingBytes {
        /// Offset of the first extra byte.
        at: usize,
    },
}

/// An address triple: type of number, numbering plan, digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Address<'a> {
    /// Type of number.
    pub ton: u8,
    /// Numbering plan indicator.
    pub npi: u8,
    /// The address (C-octet string without its NUL).
    pub addr: &'a [u8],
}

impl<'a> Address<'a> {
    fn decode(r: &mut Reader<'a>, max: usize) -> Result<Address<'a>, DecodeError> {
        Ok(Address {
            ton: r.u8()?,
            npi: r.u8()?,
            addr: r.cstr(max)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.ton, self.npi]);
        put_cstr(out, self.addr);
    }
}

/// The body of a PDU; the variant names the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // one variant per command id, named as in the spec
pub enum Body<'a> {
    GenericNack,
    BindReceiver(Bind<'a>),
    BindReceiverResp(BindResp<'a>),
    BindTransmitter(Bind<'a>),
    BindTransmitterResp(BindResp<'a>),
    QuerySm(QuerySm<'a>),
    QuerySmResp(QuerySmResp<'a>),
    SubmitSm(Sm<'a>),
    SubmitSmResp(MessageIdResp<'a>),
    DeliverSm(Sm<'a>),
    DeliverSmResp(MessageIdResp<'a>),
    Unbind,
    UnbindResp,
    ReplaceSm(ReplaceSm<'a>),
    ReplaceSmResp,
    CancelSm(CancelSm<'a>),
    CancelSmResp,
    BindTransceiver(Bind<'a>),
    BindTransceiverResp(BindResp<'a>),
    Outbind(Outbind<'a>),
    EnquireLink,
    EnquireLinkResp,
    SubmitMulti(SubmitMulti<'a>),
    SubmitMultiResp(SubmitMultiResp<'a>),
    AlertNotification(AlertNotification<'a>),
    DataSm(DataSm<'a>),
    DataSmResp(MessageIdResp<'a>),
}

/// A decoded PDU borrowing its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdu<'a> {
    /// Result of a response; 0 in requests.
    pub command_status: u32,
    /// Pairs a response with its request.
    pub sequence_number: u32,
    /// Command and fields.
    pub body: Body<'a>,
}

// === impl Pdu ===

impl<'a> Pdu<'a> {
    /// Decodes exactly one PDU (`bytes` is the whole PDU as framed).
    pub fn decode(bytes: &'a [u8]) -> Result<Pdu<'a>, DecodeError> {
        let h = Header::parse(bytes).ok_or(DecodeError::NoHeader)?;
        if h.command_length as usize != bytes.len() {
            return Err(DecodeError::LengthMismatch {
                command_length: h.command_length,
                actual: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes.get(HEADER_LEN..).unwrap_or_default());
        let body = decode_body(h.command_id, &mut r)?;
        if !r.is_empty() {
            return Err(DecodeError::TrailingBytes { at: r.position() });
        }
        Ok(Pdu {
            command_status: h.command_status,
            sequence_number: h.sequence_number,
            body,
        })
    }

    /// The command id of the body.
    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// Appends the encoded PDU to `out` (`command_length` computed).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        Header {
            command_length: 0,
            command_id: self.command_id(),
            command_status: self.command_status,
            sequence_number: self.sequence_number,
        }
        .write(out);
        self.body.encode(out);
        let len = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
        if let Some(l) = out.get_mut(start..start + 4) {
            l.copy_from_slice(&len.to_be_bytes());
        }
    }
}

fn decode_body<'a>(id: CommandId, r: &mut Reader<'a>) -> Result<Body<'a>, DecodeError> {
    use Body as B;
    Ok(match id {
        CommandId::GENERIC_NACK => B::GenericNack,
        CommandId::BIND_RECEIVER => B::BindReceiver(Bind::decode(r)?),
        CommandId::BIND_RECEIVER_RESP => B::BindReceiverResp(BindResp::decode(r)?),
        CommandId::BIND_TRANSMITTER => B::BindTransmitter(Bind::decode(r)?),
        CommandId::BIND_TRANSMITTER_RESP => B::BindTransmitterResp(BindResp::decode(r)?),
        CommandId::BIND_TRANSCEIVER => B::BindTransceiver(Bind::decode(r)?),
        CommandId::BIND_TRANSCEIVER_RESP => B::BindTransceiverResp(BindResp::decode(r)?),
        CommandId::OUTBIND => B::Outbind(Outbind::decode(r)?),
        CommandId::UNBIND => B::Unbind,
        CommandId::UNBIND_RESP => B::UnbindResp,
        CommandId::ENQUIRE_LINK => B::EnquireLink,
        CommandId::ENQUIRE_LINK_RESP => B::EnquireLinkResp,
        CommandId::SUBMIT_SM => B::SubmitSm(Sm::decode(r)?),
        CommandId::SUBMIT_SM_RESP => B::SubmitSmResp(MessageIdResp::decode(r)?),
        CommandId::DELIVER_SM => B::DeliverSm(Sm::decode(r)?),
        CommandId::DELIVER_SM_RESP => B::DeliverSmResp(MessageIdResp::decode(r)?),
        CommandId::DATA_SM => B::DataSm(DataSm::decode(r)?),
        CommandId::DATA_SM_RESP => B::DataSmResp(MessageIdResp::decode(r)?),
        CommandId::SUBMIT_MULTI => B::SubmitMulti(SubmitMulti::decode(r)?),
        CommandId::SUBMIT_MULTI_RESP => B::SubmitMultiResp(SubmitMultiResp::decode(r)?),
        CommandId::QUERY_SM => B::QuerySm(QuerySm::decode(r)?),
        CommandId::QUERY_SM_RESP => B::QuerySmResp(QuerySmResp::decode(r)?),
        CommandId::CANCEL_SM => B::CancelSm(CancelSm::decode(r)?),
        CommandId::CANCEL_SM_RESP => B::CancelSmResp,
        CommandId::REPLACE_SM => B::ReplaceSm(ReplaceSm::decode(r)?),
        CommandId::REPLACE_SM_RESP => B::ReplaceSmResp,
        CommandId::ALERT_NOTIFICATION => B::AlertNotification(AlertNotification::decode(r)?),
        other => return Err(DecodeError::UnknownCommand(other)),
    })
}

// === impl Body ===

impl Body<'_> {
    /// The command id this body belongs to.
    pub fn command_id(&self) -> CommandId {
        use Body as B;
        match self {
            B::GenericNack => CommandId::GENERIC_NACK,
            B::BindReceiver(_) => CommandId::BIND_RECEIVER,
            B::BindReceiverResp(_) => CommandId::BIND_RECEIVER_RESP,
            B::BindTransmitter(_) => CommandId::BIND_TRANSMITTER,
            B::BindTransmitterResp(_) => CommandId::BIND_TRANSMITTER_RESP,
            B::QuerySm(_) => CommandId::QUERY_SM,
            B::QuerySmResp(_) => CommandId::QUERY_SM_RESP,
            B::SubmitSm(_) => CommandId::SUBMIT_SM,
            B::SubmitSmResp(_) => CommandId::SUBMIT_SM_RESP,
            B::DeliverSm(_) => CommandId::DELIVER_SM,
            B::DeliverSmResp(_) => CommandId::DELIVER_SM_RESP,
            B::Unbind => CommandId::UNBIND,
            B::UnbindResp => CommandId::UNBIND_RESP,
            B::ReplaceSm(_) => CommandId::REPLACE_SM,
            B::ReplaceSmResp => CommandId::REPLACE_SM_RESP,
            B::CancelSm(_) => CommandId::CANCEL_SM,
            B::CancelSmResp => CommandId::CANCEL_SM_RESP,
            B::BindTransceiver(_) => CommandId::BIND_TRANSCEIVER,
            B::BindTransceiverResp(_) => CommandId::BIND_TRANSCEIVER_RESP,
            B::Outbind(_) => CommandId::OUTBIND,
            B::EnquireLink => CommandId::ENQUIRE_LINK,
            B::EnquireLinkResp => CommandId::ENQUIRE_LINK_RESP,
            B::SubmitMulti(_) => CommandId::SUBMIT_MULTI,
            B::SubmitMultiResp(_) => CommandId::SUBMIT_MULTI_RESP,
            B::AlertNotification(_) => CommandId::ALERT_NOTIFICATION,
            B::DataSm(_) => CommandId::DATA_SM,
            B::DataSmResp(_) => CommandId::DATA_SM_RESP,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        use Body as B;
        match self {
            B::GenericNack
            | B::Unbind
            | B::UnbindResp
            | B::EnquireLink
            | B::EnquireLinkResp
            | B::CancelSmResp
            | B::ReplaceSmResp => {}
            B::BindReceiver(b) | B::BindTransmitter(b) | B::BindTransceiver(b) => b.encode(out),
            B::BindReceiverResp(b) | B::BindTransmitterResp(b) | B::BindTransceiverResp(b) => {
                b.encode(out)
            }
            B::Outbind(b) => b.encode(out),
            B::SubmitSm(b) | B::DeliverSm(b) => b.encode(out),
            B::SubmitSmResp(b) | B::DeliverSmResp(b) | B::DataSmResp(b) => b.encode(out),
            B::DataSm(b) => b.encode(out),
            B::SubmitMulti(b) => b.encode(out),
            B::SubmitMultiResp(b) => b.encode(out),
            B::QuerySm(b) => b.encode(out),
            B::QuerySmResp(b) => b.encode(out),
            B::CancelSm(b) => b.encode(out),
            B::ReplaceSm(b) => b.encode(out),
            B::AlertNotification(b) => b.encode(out),
        }
    }
}

/// The remaining bytes of a body as a validated TLV region.
fn tlvs_rest<'a>(r: &mut Reader<'a>) -> Result<Tlvs<'a>, DecodeError> {
    let base = r.position();
    Tlvs::parse(r.rest(), base)
}

/// `sm_length` then the octets (longer than 255 octets is cut to 255:
/// decode never produces such a field).
fn put_short_message(out: &mut Vec<u8>, m: &[u8]) {
    let len = u8::try_from(m.len()).unwrap_or(u8::MAX);
    out.push(len);
    out.extend_from_slice(m.get(..usize::from(len)).unwrap_or(m));
}
