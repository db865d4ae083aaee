//! The topic scheme of protocol.md, section 1. `{zone}` is the box's zone; `{device}` a
//! device id.

/// A topic the runtime reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// `venue/{zone}/gate/{device}/scan`
    Scan { device: String },
    /// `venue/{zone}/pos/{device}/sale`
    Sale { device: String },
    /// `venue/{zone}/device/{device}/status` (retained `online` / `offline`)
    Status { device: String },
}

impl Topic {
    /// Parses a topic the runtime reads in `zone`; `None` for anything else.
    pub fn parse(zone: &str, topic: &str) -> Option<Topic> {
        let mut parts = topic.split('/');
        let (Some("venue"), Some(in_zone), Some(kind), Some(device), Some(leaf), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        if in_zone != zone {
            return None;
        }
        let device = device.to_owned();
        match (kind, leaf) {
            ("gate", "scan") => Some(Topic::Scan { device }),
            ("pos", "sale") => Some(Topic::Sale { device }),
            ("device", "status") => Some(Topic::Status { device }),
            _ => None,
        }
    }

    pub fn device(&self) -> &str {
        match self {
            Topic::Scan { device } | Topic::Sale { device } | Topic::Status { device } => device,
        }
    }
}

/// What a device's publish on a topic is: its own, or another device's (whose id is
/// named, for the alert), or no topic a device writes.
#[derive(Debug, PartialEq, Eq)]
pub enum PublishAccess {
    Own,
    /// The topic of another device.
    Other(String),
    /// Not a device topic of this zone (an answer, an alert, another zone, anything).
    Foreign,
}

/// May `device` publish on `topic`: only its own scan, sale and status topics.
pub fn publish_access(zone: &str, device: &str, topic: &str) -> PublishAccess {
    if topic.contains(['+', '#']) {
        return PublishAccess::Foreign;
    }
    match Topic::parse(zone, topic) {
        Some(t) if t.device() == device => PublishAccess::Own,
        Some(t) => PublishAccess::Other(t.device().to_owned()),
        None => PublishAccess::Foreign,
    }
}

/// May `device` subscribe to `filter`: only its own verdicts, whitelist and acks, and the
/// zone's alerts; no wildcard.
pub fn may_subscribe(zone: &str, device: &str, filter: &str) -> bool {
    [
        verdict(zone, device),
        whitelist(zone, device),
        ack(zone, device),
        alerts(zone),
    ]
    .iter()
    .any(|own| own == filter)
}

/// The filters the runtime subscribes to.
pub fn subscriptions(zone: &str) -> Vec<String> {
    vec![
        format!("venue/{zone}/gate/+/scan"),
        format!("venue/{zone}/pos/+/sale"),
        format!("venue/{zone}/device/+/status"),
    ]
}

pub fn scan(zone: &str, device: &str) -> String {
    format!("venue/{zone}/gate/{device}/scan")
}
pub fn verdict(zone: &str, device: &str) -> String {
    format!("venue/{zone}/gate/{device}/verdict")
}
pub fn whitelist(zone: &str, device: &str) -> String {
    format!("venue/{zone}/gate/{device}/whitelist")
}
pub fn sale(zone: &str, device: &str) -> String {
    format!("venue/{zone}/pos/{device}/sale")
}
pub fn ack(zone: &str, device: &str) -> String {
    format!("venue/{zone}/pos/{device}/ack")
}
pub fn status(zone: &str, device: &str) -> String {
    format!("venue/{zone}/device/{device}/status")
}
pub fn alerts(zone: &str) -> String {
    format!("venue/{zone}/alerts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        assert_eq!(
            Topic::parse("main", &scan("main", "g-1")),
            Some(Topic::Scan {
                device: "g-1".into()
            })
        );
        assert_eq!(
            Topic::parse("main", &sale("main", "p-1")),
            Some(Topic::Sale {
                device: "p-1".into()
            })
        );
        assert_eq!(
            Topic::parse("main", &status("main", "d")),
            Some(Topic::Status { device: "d".into() })
        );
        assert_eq!(Topic::parse("main", &verdict("main", "g-1")), None);
        assert_eq!(Topic::parse("main", "venue/main/gate/g-1/scan/extra"), None);
        assert_eq!(Topic::parse("east", &scan("main", "g-1")), None);
    }

    #[test]
    fn a_device_writes_its_own_topics_and_reads_its_own_answers() {
        use PublishAccess::{Foreign, Other, Own};
        // (device, topic, access)
        let publishes = [
            ("g-1", "venue/main/gate/g-1/scan", Own),
            ("g-1", "venue/main/device/g-1/status", Own),
            ("p-1", "venue/main/pos/p-1/sale", Own),
            ("g-1", "venue/main/gate/g-2/scan", Other("g-2".into())),
            ("g-1", "venue/main/pos/p-1/sale", Other("p-1".into())),
            ("g-1", "venue/main/device/g-2/status", Other("g-2".into())),
            ("g-1", "venue/main/gate/g-1/verdict", Foreign),
            ("g-1", "venue/main/gate/g-1/whitelist", Foreign),
            ("g-1", "venue/main/alerts", Foreign),
            ("g-1", "venue/east/gate/g-1/scan", Foreign),
            ("g-1", "venue/main/gate/+/scan", Foreign),
        ];
        for (device, topic, access) in publishes {
            assert_eq!(
                publish_access("main", device, topic),
                access,
                "{device} on {topic}"
            );
        }
        // (device, filter, allowed)
        let subscriptions = [
            ("g-1", "venue/main/gate/g-1/verdict", true),
            ("g-1", "venue/main/gate/g-1/whitelist", true),
            ("p-1", "venue/main/pos/p-1/ack", true),
            ("g-1", "venue/main/alerts", true),
            ("g-1", "venue/main/gate/g-2/whitelist", false),
            ("g-1", "venue/main/gate/+/whitelist", false),
            ("g-1", "venue/main/#", false),
            ("g-1", "#", false),
            ("g-1", "venue/main/gate/g-1/scan", false),
            ("g-1", "venue/east/gate/g-1/verdict", false),
        ];
        for (device, filter, ok) in subscriptions {
            assert_eq!(
                may_subscribe("main", device, filter),
                ok,
                "{device} to {filter}"
            );
        }
    }
}
