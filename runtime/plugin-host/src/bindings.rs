//! Host bindings generated from `wit/`, one module per world. The shared interfaces
//! (types and host imports) are generated once, in `gate`, and reused by the others, so
//! a `Scan` or a `Payout` is one Rust type whichever world it crosses.

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
