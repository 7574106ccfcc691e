//! Message submission and delivery bodies: `submit_sm`, `deliver_sm`,
//! `submit_multi`, `data_sm` and their responses.

use super::reader::{put_cstr, Reader};
use super::tlv::Tlvs;
use super::{Address, DecodeError};

/// Body of `submit_sm` and `deliver_sm` (the same layout, §4.4.1 / §4.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sm<'a> {
    /// Service type (≤ 5 chars).
    pub service_type: &'a [u8],
    /// Originator (address ≤ 20 chars).
    pub source: Address<'a>,
    /// Recipient (address ≤ 20 chars).
    pub dest: Address<'a>,
    /// Message mode and type; `0x04` marks a delivery receipt in `deliver_sm`.
    pub esm_class: u8,
    /// Protocol identifier.
    pub protocol_id: u8,
    /// Priority.
    pub priority_flag: u8,
    /// Absolute or relative time (≤ 16 chars).
    pub schedule_delivery_time: &'a [u8],
    /// Absolute or relative time (≤ 16 chars).
    pub validity_period: &'a [u8],
    /// Receipt request.
    pub registered_delivery: u8,
    /// Replace an earlier message.
    pub replace_if_present_flag: u8,
    /// Encoding of `short_message`.
    pub data_coding: u8,
    /// Canned message id.
    pub sm_default_msg_id: u8,
    /// Up to 254 octets of user data (its length is `sm_length`).
    pub short_message: &'a [u8],
    /// TLVs, byte-exact.
    pub tlvs: Tlvs<'a>,
}

impl<'a> Sm<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Sm<'a>, DecodeError> {
        let service_type = r.cstr(6)?;
        let source = Address::decode(r, 21)?;
        let dest = Address::decode(r, 21)?;
        let (esm_class, protocol_id, priority_flag) = (r.u8()?, r.u8()?, r.u8()?);
        let schedule_delivery_time = r.cstr(17)?;
        let validity_period = r.cstr(17)?;
        let registered_delivery = r.u8()?;
        let replace_if_present_flag = r.u8()?;
        let data_coding = r.u8()?;
        let sm_default_msg_id = r.u8()?;
        let sm_length = r.u8()?;
        let short_message = r.octets(usize::from(sm_length))?;
        Ok(Sm {
            service_type,
            source,
            dest,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding,
            sm_default_msg_id,
            short_message,
            tlvs: super::tlvs_rest(r)?,
        })
    }

    /// Decodes a `submit_sm` / `deliver_sm` body (the bytes after the header).
    pub fn parse(body: &'a [u8]) -> Result<Sm<'a>, DecodeError> {
        Sm::decode(&mut Reader::new(body))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_cstr(out, self.service_type);
        self.source.encode(out);
        self.dest.encode(out);
        out.extend_from_slice(&[self.esm_class, self.protocol_id, self.priority_flag]);
        put_cstr(out, self.schedule_delivery_time);
        put_cstr(out, self.validity_period);
        out.extend_from_slice(&[
            self.registered_delivery,
            self.replace_if_present_flag,
            self.data_coding,
            self.sm_default_msg_id,
        ]);
        super::put_short_message(out, self.short_message);
        out.extend_from_slice(self.tlvs.as_bytes());
    }
}

/// Body of `submit_sm_resp`, `deliver_sm_resp` and `data_sm_resp`. An
/// error response may have no body: `message_id` is then `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageIdResp<'a> {
    /// The SMSC's id of the message (≤ 64 chars; empty in `deliver_sm_resp`).
    pub message_id: Option<&'a [u8]>,
    /// TLVs (`data_sm_resp` only in 3.4).
    pub tlvs: Tlvs<'a>,
}

impl<'a> MessageIdResp<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<MessageIdResp<'a>, DecodeError> {
        if r.is_empty() {
            return Ok(MessageIdResp {
                message_id: None,
                tlvs: Tlvs::default(),
            });
        }
        let message_id = Some(r.cstr(65)?);
        Ok(MessageIdResp {
            message_id,
            tlvs: super::tlvs_rest(r)?,
        })
    }

    /// Decodes a `*_sm_resp` body (the bytes after the header).
    pub fn parse(body: &'a [u8]) -> Result<MessageIdResp<'a>, DecodeError> {
        MessageIdResp::decode(&mut Reader::new(body))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        if let Some(m) = self.message_id {
            put_cstr(out, m);
        }
        out.extend_from_slice(self.tlvs.as_bytes());
    }
}

/// Body of `data_sm` (§4.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSm<'a> {
    /// Service type (≤ 5 chars).
    pub service_type: &'a [u8],
    /// Originator (address ≤ 64 chars).
    pub source: Address<'a>,
    /// Recipient (address ≤ 64 chars).
    pub dest: Address<'a>,
    /// Message mode and type.
    pub esm_class: u8,
    /// Receipt request.
    pub registered_delivery: u8,
    /// Encoding of the payload.
    pub data_coding: u8,
    /// TLVs (`message_payload`, …), byte-exact.
    pub tlvs: Tlvs<'a>,
}

impl<'a> DataSm<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<DataSm<'a>, DecodeError> {
        Ok(DataSm {
            service_type: r.cstr(6)?,
            source: Address::decode(r, 65)?,
            dest: Address::decode(r, 65)?,
            esm_class: r.u8()?,
            registered_delivery: r.u8()?,
            data_coding: r.u8()?,
            tlvs: super::tlvs_rest(r)?,
        })
    }

    /// Decodes a `data_sm` body (the bytes after the header).
    pub fn parse(body: &'a [u8]) -> Result<DataSm<'a>, DecodeError> {
        DataSm::decode(&mut Reader::new(body))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_cstr(out, self.service_type);
        self.source.encode(out);
        self.dest.encode(out);
        out.extend_from_slice(&[self.esm_class, self.registered_delivery, self.data_coding]);
        out.extend_from_slice(self.tlvs.as_bytes());
    }
}

/// One destination of `submit_multi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestAddress<'a> {
    /// `dest_flag` 1: an SME address.
    Sme(Address<'a>),
    /// `dest_flag` 2: a distribution list name.
    DistributionList(&'a [u8]),
}

/// Body of `submit_multi` (§4.5.1). The destinations stay a raw slice
/// (see [`SubmitMulti::dests`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitMulti<'a> {
    /// Service type (≤ 5 chars).
    pub service_type: &'a [u8],
    /// Originator.
    pub source: Address<'a>,
    /// `number_of_dests`.
    pub number_of_dests: u8,
    /// The encoded destination list.
    pub dest_bytes: &'a [u8],
    /// Message mode and type.
    pub esm_class: u8,
    /// Protocol identifier.
    pub protocol_id: u8,
    /// Priority.
    pub priority_flag: u8,
    /// Scheduled time.
    pub schedule_delivery_time: &'a [u8],
    /// Validity.
    pub validity_period: &'a [u8],
    /// Receipt request.
    pub registered_delivery: u8,
    /// Replace flag.
    pub replace_if_present_flag: u8,
    /// Encoding.
    pub data_coding: u8,
    /// Canned message id.
    pub sm_default_msg_id: u8,
    /// User data.
    pub short_message: &'a [u8],
    /// TLVs, byte-exact.
    pub tlvs: Tlvs<'a>,
}

impl<'a> SubmitMulti<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<SubmitMulti<'a>, DecodeError> {
        let service_type = r.cstr(6)?;
        let source = Address::decode(r, 21)?;
        let number_of_dests = r.u8()?;
        let mut probe = r.clone();
        for _ in 0..number_of_dests {
            read_dest(&mut probe)?;
        }
        let dest_len = r.rest_len() - probe.rest_len();
        let dest_bytes = r.octets(dest_len)?;
        let (esm_class, protocol_id, priority_flag) = (r.u8()?, r.u8()?, r.u8()?);
        let schedule_delivery_time = r.cstr(17)?;
        let validity_period = r.cstr(17)?;
        let (registered_delivery, replace_if_present_flag) = (r.u8()?, r.u8()?);
        let (data_coding, sm_default_msg_id) = (r.u8()?, r.u8()?);
        let sm_length = r.u8()?;
        Ok(SubmitMulti {
            service_type,
            source,
            number_of_dests,
            dest_bytes,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding,
            sm_default_msg_id,
            short_message: r.octets(usize::from(sm_length))?,
            tlvs: super::tlvs_rest(r)?,
        })
    }

    /// The destinations, decoded one by one (they were validated by decode).
    pub fn dests(&self) -> impl Iterator<Item = DestAddress<'a>> + 'a {
        let mut r = Reader::new(self.dest_bytes);
        (0..self.number_of_dests).map_while(move |_| read_dest(&mut r).ok())
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_cstr(out, self.service_type);
        self.source.encode(out);
        out.push(self.number_of_dests);
        out.extend_from_slice(self.dest_bytes);
        out.extend_from_slice(&[self.esm_class, self.protocol_id, self.priority_flag]);
        put_cstr(out, self.schedule_delivery_time);
        put_cstr(out, self.validity_period);
        out.extend_from_slice(&[
            self.registered_delivery,
            self.replace_if_present_flag,
            self.data_coding,
            self.sm_default_msg_id,
        ]);
        super::put_short_message(out, self.short_message);
        out.extend_from_slice(self.tlvs.as_bytes());
    }
}

fn read_dest<'a>(r: &mut Reader<'a>) -> Result<DestAddress<'a>, DecodeError> {
    let at = r.position();
    match r.u8()? {
        1 => Ok(DestAddress::Sme(Address::decode(r, 21)?)),
        2 => Ok(DestAddress::DistributionList(r.cstr(21)?)),
        _ => Err(DecodeError::BadDestFlag { at }),
    }
}

/// One failed destination in `submit_multi_resp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsuccessSme<'a> {
    /// The destination.
    pub address: Address<'a>,
    /// Why it failed (a command status).
    pub error_status_code: u32,
}

/// Body of `submit_multi_resp` (§4.5.2); `message_id` is `None` when the
/// PDU had no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitMultiResp<'a> {
    /// The SMSC's message id.
    pub message_id: Option<&'a [u8]>,
    /// `no_unsuccess`.
    pub no_unsuccess: u8,
    /// The encoded `unsuccess_sme` list.
    pub unsuccess_bytes: &'a [u8],
    /// Trailing TLVs (none in 3.4; kept if a peer sends them).
    pub tlvs: Tlvs<'a>,
}

impl<'a> SubmitMultiResp<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<SubmitMultiResp<'a>, DecodeError> {
        let mut resp = SubmitMultiResp {
            message_id: None,
            no_unsuccess: 0,
            unsuccess_bytes: &[],
            tlvs: Tlvs::default(),
        };
        if r.is_empty() {
            return Ok(resp);
        }
        resp.message_id = Some(r.cstr(65)?);
        resp.no_unsuccess = r.u8()?;
        let mut probe = r.clone();
        for _ in 0..resp.no_unsuccess {
            read_unsuccess(&mut probe)?;
        }
        resp.unsuccess_bytes = r.octets(r.rest_len() - probe.rest_len())?;
        resp.tlvs = super::tlvs_rest(r)?;
        Ok(resp)
    }

    /// The failed destinations.
    pub fn unsuccess(&self) -> impl Iterator<Item = UnsuccessSme<'a>> + 'a {
        let mut r = Reader::new(self.unsuccess_bytes);
        (0..self.no_unsuccess).map_while(move |_| read_unsuccess(&mut r).ok())
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        if let Some(m) = self.message_id {
            put_cstr(out, m);
            out.push(self.no_unsuccess);
            out.extend_from_slice(self.unsuccess_bytes);
        }
        out.extend_from_slice(self.tlvs.as_bytes());
    }
}

fn read_unsuccess<'a>(r: &mut Reader<'a>) -> Result<UnsuccessSme<'a>, DecodeError> {
    Ok(UnsuccessSme {
        address: Address::decode(r, 21)?,
        error_status_code: r.u32()?,
    })
}
