//! The unified scan and verdict, as the host works with them. Plugins hand over the
//! WIT shapes of the same name; the plugin host maps between the two.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    pub event_id: String,
    pub code: String,
    pub direction: Direction,
    pub at: String,
    pub count: u32,
    pub id_number: Option<String>,
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Admit,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Admit => "admit",
            Decision::Deny => "deny",
        }
    }
    pub fn parse(s: &str) -> Decision {
        if s == "admit" {
            Decision::Admit
        } else {
            Decision::Deny
        }
    }
}

/// Why a scan was admitted or denied. The names are fixed by protocol.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Ok,
    UnknownTicket,
    AlreadyUsed,
    NotValidToday,
    OutsideTimeSlot,
    Refunded,
    Rebooked,
    Passback,
    WrongArea,
    CapacityFull,
    RealnameMismatch,
    BadRequest,
    PluginError,
}

impl Reason {
    pub const ALL: [Reason; 13] = [
        Reason::Ok,
        Reason::UnknownTicket,
        Reason::AlreadyUsed,
        Reason::NotValidToday,
        Reason::OutsideTimeSlot,
        Reason::Refunded,
        Reason::Rebooked,
        Reason::Passback,
        Reason::WrongArea,
        Reason::CapacityFull,
        Reason::RealnameMismatch,
        Reason::BadRequest,
        Reason::PluginError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::UnknownTicket => "unknown_ticket",
            Reason::AlreadyUsed => "already_used",
            Reason::NotValidToday => "not_valid_today",
            Reason::OutsideTimeSlot => "outside_time_slot",
            Reason::Refunded => "refunded",
            Reason::Rebooked => "rebooked",
            Reason::Passback => "passback",
            Reason::WrongArea => "wrong_area",
            Reason::CapacityFull => "capacity_full",
            Reason::RealnameMismatch => "realname_mismatch",
            Reason::BadRequest => "bad_request",
            Reason::PluginError => "plugin_error",
        }
    }

    pub fn parse(s: &str) -> Reason {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .unwrap_or(Reason::BadRequest)
    }

    /// The turnstile's display text: Chinese and English.
    pub fn message(self) -> &'static str {
        match self {
            Reason::Ok => "欢迎 / Welcome",
            Reason::UnknownTicket => "无效票 / Unknown ticket",
            Reason::AlreadyUsed => "票已使用 / Ticket already used",
            Reason::NotValidToday => "非当日票 / Not valid today",
            Reason::OutsideTimeSlot => "未到入园时段 / Outside your time slot",
            Reason::Refunded => "票已退 / Ticket refunded",
            Reason::Rebooked => "票已改签 / Ticket rebooked",
            Reason::Passback => "已在园内 / Already inside",
            Reason::WrongArea => "此票不适用本区域 / Not valid for this area",
            Reason::CapacityFull => "已满员,请稍候 / Full, please wait",
            Reason::RealnameMismatch => "证件不符 / ID does not match",
            Reason::BadRequest => "无法识别 / Cannot read the code",
            Reason::PluginError => "系统故障 / System fault, please ask staff",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub event_id: String,
    pub decision: Decision,
    pub reason: Reason,
    pub ticket_id: Option<String>,
    pub admitted: u32,
    pub entries_left: Option<u32>,
    pub message: String,
}

impl Verdict {
    pub fn deny(event_id: &str, reason: Reason, ticket_id: Option<String>) -> Verdict {
        Verdict {
            event_id: event_id.to_owned(),
            decision: Decision::Deny,
            reason,
            ticket_id,
            admitted: 0,
            entries_left: None,
            message: reason.message().to_owned(),
        }
    }
}
