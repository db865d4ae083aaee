//! Which version of the `venue:edge` contract a component was built against, read from
//! the names of its exports (`venue:edge/pos@1.0.0`), and whether this host runs it.
//!
//! Minor versions only add, so a host runs every minor version up to its own within its
//! major version; a plugin of another major version, or of a newer minor version than the
//! host knows, is refused at load with the versions the host accepts.

use std::fmt;

use crate::manifest::World;

/// A contract version. The patch number changes nothing a plugin sees, so it is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContractVersion {
    pub major: u32,
    pub minor: u32,
}

pub const V1_0: ContractVersion = ContractVersion { major: 1, minor: 0 };
pub const V1_1: ContractVersion = ContractVersion { major: 1, minor: 1 };

/// The version of `wit/`, which the reference plugins and the SDK build against.
pub const CURRENT: ContractVersion = V1_1;

/// Every version this host runs, oldest first.
pub const ACCEPTED: &[ContractVersion] = &[V1_0, V1_1];

impl fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.0", self.major, self.minor)
    }
}

/// `venue:edge@1.0.0 and venue:edge@1.1.0`.
pub fn accepted_list() -> String {
    let names: Vec<String> = ACCEPTED.iter().map(|v| format!("venue:edge@{v}")).collect();
    names.join(" and ")
}

/// The contract version of a component with these export names, or why the host refuses
/// it. Exports outside `venue:edge` (none are expected, but WASI tooling may add some) are
/// ignored.
pub fn of_exports<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<ContractVersion, String> {
    let mut found: Option<(ContractVersion, &str)> = None;
    for name in names {
        let Some(rest) = name.strip_prefix("venue:edge/") else {
            continue;
        };
        let Some((_, version)) = rest.split_once('@') else {
            return Err(format!(
                "it exports {name} without a version; build it against the contract's WIT ({})",
                accepted_list()
            ));
        };
        let v = parse(version).ok_or_else(|| {
            format!("it exports {name}, whose version {version:?} is not major.minor.patch")
        })?;
        match found {
            Some((first, first_name)) if first != v => {
                return Err(format!(
                    "it exports {first_name} and {name}: one component targets one contract version"
                ));
            }
            _ => found = Some((v, name)),
        }
    }
    let (v, _) = found.ok_or_else(|| {
        "it exports no venue:edge interface; is it built for one of the contract's worlds?"
            .to_string()
    })?;
    if ACCEPTED.contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "it targets venue:edge@{v}; this host accepts {}",
            accepted_list()
        ))
    }
}

/// The world whose interface a component exports (`venue:edge/gate@...` is a gate adapter).
pub fn world_of_exports<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<World> {
    names.into_iter().find_map(|name| {
        let interface = name.strip_prefix("venue:edge/")?.split('@').next()?;
        match interface {
            "gate" => Some(World::GateAdapter),
            "pos" => Some(World::PosAdapter),
            "ticketing" => Some(World::TicketingAdapter),
            "rules" => Some(World::SettlementRule),
            "connector" => Some(World::PaymentConnector),
            _ => None,
        }
    })
}

fn parse(s: &str) -> Option<ContractVersion> {
    let mut parts = s.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    // The patch may carry a pre-release tag; it changes nothing a plugin sees.
    let patch = parts.next()?;
    let digits = patch.split(['-', '+']).next()?;
    digits.parse::<u32>().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(ContractVersion { major, minor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_components_version_is_read_from_its_exports() {
        let cases: &[(&[&str], Result<ContractVersion, &str>)] = &[
            (&["venue:edge/pos@1.0.0"], Ok(V1_0)),
            (&["venue:edge/gate@1.1.0"], Ok(V1_1)),
            (&["venue:edge/gate@1.1.3"], Ok(V1_1)),
            (&["wasi:cli/run@0.2.0", "venue:edge/rules@1.1.0"], Ok(V1_1)),
            (
                &["venue:edge/gate@2.0.0"],
                Err(
                    "it targets venue:edge@2.0.0; this host accepts venue:edge@1.0.0 and venue:edge@1.1.0",
                ),
            ),
            (
                &["venue:edge/gate@1.2.0"],
                Err(
                    "it targets venue:edge@1.2.0; this host accepts venue:edge@1.0.0 and venue:edge@1.1.0",
                ),
            ),
            (
                &["venue:edge/gate"],
                Err(
                    "it exports venue:edge/gate without a version; build it against the contract's WIT (venue:edge@1.0.0 and venue:edge@1.1.0)",
                ),
            ),
            (
                &["venue:edge/gate@one"],
                Err(
                    "it exports venue:edge/gate@one, whose version \"one\" is not major.minor.patch",
                ),
            ),
            (
                &["venue:edge/gate@1.0.0", "venue:edge/pos@1.1.0"],
                Err(
                    "it exports venue:edge/gate@1.0.0 and venue:edge/pos@1.1.0: one component targets one contract version",
                ),
            ),
            (
                &["wasi:cli/run@0.2.0"],
                Err(
                    "it exports no venue:edge interface; is it built for one of the contract's worlds?",
                ),
            ),
            (
                &[],
                Err(
                    "it exports no venue:edge interface; is it built for one of the contract's worlds?",
                ),
            ),
        ];
        for (names, want) in cases {
            let got = of_exports(names.iter().copied());
            assert_eq!(got, (*want).map_err(String::from), "exports {names:?}");
        }
    }

    #[test]
    fn a_components_world_is_read_from_its_exports() {
        let cases: &[(&[&str], Option<World>)] = &[
            (&["venue:edge/gate@1.1.0"], Some(World::GateAdapter)),
            (
                &["wasi:cli/run@0.2.0", "venue:edge/pos@1.0.0"],
                Some(World::PosAdapter),
            ),
            (
                &["venue:edge/ticketing@1.1.0"],
                Some(World::TicketingAdapter),
            ),
            (&["venue:edge/rules@1.1.0"], Some(World::SettlementRule)),
            (
                &["venue:edge/connector@1.1.0"],
                Some(World::PaymentConnector),
            ),
            (&["venue:edge/types@1.1.0"], None),
            (&[], None),
        ];
        for (names, want) in cases {
            assert_eq!(world_of_exports(names.iter().copied()), *want, "{names:?}");
        }
    }

    #[test]
    fn versions_print_and_order() {
        assert_eq!(V1_1.to_string(), "1.1.0");
        assert!(V1_0 < V1_1);
        assert_eq!(ACCEPTED.last(), Some(&CURRENT));
    }
}
