//! What a token may do: an edge box's upload for its own id, or reading reports as a
//! manager, finance or auditor. Stored with the token's digest (see [`crate::auth`]).

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// An edge box: uploads batches for this edge id, nothing else.
    Edge(String),
    Manager,
    Finance,
    Auditor,
}

/// The HQ roles `token add --role` takes.
pub const HQ_ROLES: [&str; 3] = ["manager", "finance", "auditor"];

impl Role {
    /// An HQ role by name (`manager`, `finance`, `auditor`).
    pub fn hq(name: &str) -> Option<Role> {
        match name {
            "manager" => Some(Role::Manager),
            "finance" => Some(Role::Finance),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    /// The role as stored: `(role, edge_id)`.
    pub fn to_columns(&self) -> (&'static str, Option<&str>) {
        match self {
            Role::Edge(id) => ("edge", Some(id)),
            Role::Manager => ("manager", None),
            Role::Finance => ("finance", None),
            Role::Auditor => ("auditor", None),
        }
    }

    /// The role from its stored columns; `None` for a row this version does not know.
    pub fn from_columns(role: &str, edge_id: Option<String>) -> Option<Role> {
        match (role, edge_id) {
            ("edge", Some(id)) if !id.is_empty() => Some(Role::Edge(id)),
            (other, _) => Role::hq(other),
        }
    }

    /// How error messages name the role.
    pub fn describe(&self) -> String {
        match self {
            Role::Edge(id) => format!("the edge token of {id}"),
            Role::Manager => "a manager token".into(),
            Role::Finance => "a finance token".into(),
            Role::Auditor => "an auditor token".into(),
        }
    }
}
