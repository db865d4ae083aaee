//! Host bindings generated from `wit/`, one module per world. The shared interfaces
//! (types and host imports) are generated once, in `gate`, and reused by the others, so
//! a `Scan` or a `Payout` is one Rust type whichever world it crosses.
//!
//! The current contract is `venue:edge@1.1.0`. Wasmtime finds a 1.0.0 component's exports
//! under their 1.1.0 names (semver-compatible lookup) and links its 1.0.0 imports to the
//! 1.1.0 host functions, so a world whose types did not change in 1.1.0 needs no bindings
//! of its own. The POS world's `sale` gained a field in 1.1.0, so a 1.0.0 POS adapter is
//! called through [`pos_1_0`], generated from the 1.0.0 text kept in `wit/1.0.0/`.

pub mod gate {
    wasmtime::component::bindgen!({
        world: "gate-adapter",
        path: "../../wit",
        imports: { default: trappable },
        exports: { default: async },
    });
}

pub mod pos {
    wasmtime::component::bindgen!({
        world: "pos-adapter",
        path: "../../wit",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "venue:edge/types": crate::bindings::gate::venue::edge::types,
            "venue:edge/log": crate::bindings::gate::venue::edge::log,
            "venue:edge/clock": crate::bindings::gate::venue::edge::clock,
            "venue:edge/config": crate::bindings::gate::venue::edge::config,
            "venue:edge/kv": crate::bindings::gate::venue::edge::kv,
        },
    });
}

/// The POS world as contract 1.0.0 had it: its `sale` has no `ticket-code`.
pub mod pos_1_0 {
    wasmtime::component::bindgen!({
        world: "pos-adapter",
        path: "../../wit/1.0.0",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "venue:edge/log": crate::bindings::gate::venue::edge::log,
            "venue:edge/clock": crate::bindings::gate::venue::edge::clock,
            "venue:edge/config": crate::bindings::gate::venue::edge::config,
            "venue:edge/kv": crate::bindings::gate::venue::edge::kv,
        },
    });
}

pub mod ticketing {
    wasmtime::component::bindgen!({
        world: "ticketing-adapter",
        path: "../../wit",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "venue:edge/types": crate::bindings::gate::venue::edge::types,
            "venue:edge/log": crate::bindings::gate::venue::edge::log,
            "venue:edge/clock": crate::bindings::gate::venue::edge::clock,
            "venue:edge/config": crate::bindings::gate::venue::edge::config,
            "venue:edge/kv": crate::bindings::gate::venue::edge::kv,
        },
    });
}

pub mod settlement {
    wasmtime::component::bindgen!({
        world: "settlement-rule",
        path: "../../wit",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "venue:edge/types": crate::bindings::gate::venue::edge::types,
            "venue:edge/log": crate::bindings::gate::venue::edge::log,
            "venue:edge/config": crate::bindings::gate::venue::edge::config,
        },
    });
}

pub mod payment {
    wasmtime::component::bindgen!({
        world: "payment-connector",
        path: "../../wit",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "venue:edge/types": crate::bindings::gate::venue::edge::types,
            "venue:edge/log": crate::bindings::gate::venue::edge::log,
            "venue:edge/clock": crate::bindings::gate::venue::edge::clock,
            "venue:edge/config": crate::bindings::gate::venue::edge::config,
            "venue:edge/kv": crate::bindings::gate::venue::edge::kv,
        },
    });
}

pub use gate::venue::edge::{clock, config, kv, log, types};
