//! Message management and ancillary bodies: `query_sm`, `cancel_sm`,
//! `replace_sm` (and `query_sm_resp`), `alert_notification`.

use super::reader::{put_cstr, Reader};
use super::tlv::Tlvs;
use super::{Address, DecodeError};

/// Body of `query_sm` (§4.8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuerySm<'a> {
    /// The SMSC's id of the message.
    pub message_id: &'a [u8],
    /// Originator used at submission.
    pub source: Address<'a>,
}

impl<'a> QuerySm<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<QuerySm<'a>, DecodeError> {
        Ok(QuerySm {
            message_id: r.cstr(65)?,
            source: Address::decode(r, 21)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_cstr(out, self.message_id);
        self.source.encode(out);
    }
}

/// Mandatory part of a `query_sm_resp` body (§4.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryResult<'a> {
    /// The message queried.
    pub message_id: &'a [u8],
    /// When it reached its final state (≤ 16 chars).
    pub final_date: &'a [u8],
    /// Its state.
    pub message_state: u8,
    /// Network error code.
    pub error_code: u8,
}

/// Body of `query_sm_resp`; `None` when an error response had no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuerySmResp<'a>(pub Option<QueryResult<'a>>);

impl<'a> QuerySmResp<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<QuerySmResp<'a>, DecodeError> {
        if r.is_empty() {
            return Ok(QuerySmResp(None));
        }
        Ok(QuerySmResp(Some(QueryResult {
            message_id: r.cstr(65)?,
            final_date: r.cstr(17)?,
            message_state: r.u8()?,
            error_code: r.u8()?,
        })))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        if let Some(q) = &self.0 {
            put_cstr(out, q.message_id);
            put_cstr(out, q.final_date);
            out.extend_from_slice(&[q.message_state, q.error_code]);
        }
    }
}

/// Body of `cancel_sm` (§4.9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelSm<'a> {
    /// Service type.
    pub service_type: &'a [u8],
    /// The message to cancel (empty: every message of source/dest).
    pub message_id: &'a [u8],
    /// Originator.
    pub source: Address<'a>,
    /// Recipient.
    pub dest: Address<'a>,
}

impl<'a> CancelSm<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<CancelSm<'a>, DecodeError> {
        Ok(CancelSm {
            service_type: r.cstr(6)?,
            message_id: r.cstr(65)?,
            source: Address::decode(r, 21)?,
            dest: Address::decode(r, 21)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_cstr(out, self.service_type);
        put_cstr(out, self.message_id);
        self.source.encode(out);
        self.dest.encode(out);
    }
}

/// Body of `replace_sm` (§4.10.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplaceSm<'a> {
    /// The message to replace.
    pub message_id: &'a [u8],
    /// Originator used at submission.
    pub source: Address<'a>,
    /// New scheduled time.
    pub schedule_delivery_time: &'a [u8],
    /// New validity.
    pub validity_period: &'a [u8],
    /// New receipt request.
    pub registered_delivery: u8,
    /// Canned message id.
    pub sm_default_msg_id: u8,
    /// New user data.
    pub short_message: &'a [u8],
}

impl<'a> ReplaceSm<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<ReplaceSm<'a>, DecodeError> {
        let message_id = r.cstr(65)?;
        let source = Address::decode(r, 21)?;
        let schedule_delivery_time = r.cstr(17)?;
        let validity_period = r.cstr(17)?;
        let registered_delivery = r.u8()?;
        let sm_default_msg_id = r.u8()?;
        let sm_length = r.u8()?;
        Ok(ReplaceSm {
            message_id,
            source,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            sm_default_msg_id,
            short_message: r.octets(usize::from(sm_length))?,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_cstr(out, self.message_id);
        self.source.encode(out);
        put_cstr(out, self.schedule_delivery_time);
        put_cstr(out, self.validity_period);
        out.extend_from_slice(&[self.registered_delivery, self.sm_default_msg_id]);
        super::put_short_message(out, self.short_message);
    }
}

/// Body of `alert_notification` (§4.12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertNotification<'a> {
    /// The MS that became available (address ≤ 64 chars).
    pub source: Address<'a>,
    /// The ESME that asked to be told.
    pub esme: Address<'a>,
    /// TLVs (`ms_availability_status`).
    pub tlvs: Tlvs<'a>,
}

impl<'a> AlertNotification<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<AlertNotification<'a>, DecodeError> {
        Ok(AlertNotification {
            source: Address::decode(r, 65)?,
            esme: Address::decode(r, 65)?,
            tlvs: super::tlvs_rest(r)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        self.source.encode(out);
        self.esme.encode(out);
        out.extend_from_slice(self.tlvs.as_bytes());
    }
}
