//! An alert for `venue/{zone}/alerts`: what any part of the box raises for staff to see
//! (a threshold crossed, a plugin failing, an undecodable device message).

use serde::Serialize;

/// An alert for `venue/{zone}/alerts`, published after the commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub kind: String,
    pub at: String,
    #[serde(flatten)]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

impl Alert {
    pub fn new(kind: &str, at: String, detail: serde_json::Value) -> Alert {
        let detail = match detail {
            serde_json::Value::Object(map) => map,
            other => {
                let mut map = serde_json::Map::new();
                map.insert("detail".into(), other);
                map
            }
        };
        Alert {
            kind: kind.into(),
            at,
            detail,
        }
    }
}
