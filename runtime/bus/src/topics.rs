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
}
