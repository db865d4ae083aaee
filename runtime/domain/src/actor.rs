//! Who did something: a staff user and the token or session the request came through, or
//! a part of the box itself. The audit records both; a bill's `approved_by` and a payout's
//! `requested_by` record the user, so "whoever approved cannot pay" compares people.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A user name, or for the box's own work the part that acted (`cli:settle`, `bank`).
    pub user: String,
    /// The token id (`tok_...`) or session id (`ses_...`) of a request, or `system`.
    pub via: String,
}

impl Actor {
    /// A user acting through a token or a session.
    pub fn user(user: impl Into<String>, via: impl Into<String>) -> Actor {
        Actor {
            user: user.into(),
            via: via.into(),
        }
    }

    /// A part of the box acting on its own (a command, a timer, the bank's answer).
    pub fn system(name: impl Into<String>) -> Actor {
        Actor {
            user: name.into(),
            via: "system".into(),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} via {}", self.user, self.via)
    }
}
