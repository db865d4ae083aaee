//! What every part of the runtime needs to know about the venue: its configuration, its
//! clock, and the vault for visitors' ID numbers. Built once at start, shared read-only.

use std::sync::Arc;

use crate::config::{AreaConfig, Config, ProductConfig};
use crate::realname::IdVault;
use venue_model::clock::Clock;

pub struct Venue {
    pub config: Config,
    pub clock: Clock,
    pub vault: IdVault,
}

pub type SharedVenue = Arc<Venue>;

impl Venue {
    pub fn new(config: Config, vault: IdVault) -> SharedVenue {
        let clock = Clock::new(config.timezone());
        Arc::new(Venue {
            config,
            clock,
            vault,
        })
    }

    pub fn product(&self, id: &str) -> Option<&ProductConfig> {
        self.config.product(id)
    }

    pub fn area(&self, id: &str) -> Option<&AreaConfig> {
        self.config.area(id)
    }

    pub fn zone(&self) -> &str {
        &self.config.venue.zone
    }
}

/// The demo venue with a throwaway ID key (unit tests of the modules that read the venue,
/// here and, through the `testing` feature, in the crates above).
#[cfg(any(test, feature = "testing"))]
pub fn demo_venue() -> SharedVenue {
    let config = Config::parse(
        crate::config::DEMO_VENUE,
        std::path::Path::new("venue.toml"),
    )
    .expect("the demo config is valid");
    Venue::new(config, IdVault::ephemeral())
}
