//! Issue 26, part 9: the reference plugins' decoders of untrusted bytes, fuzzed through the
//! real plugin host (property-based: proptest over random bytes and over valid messages
//! cut, flipped and spliced). Whatever comes in, a decoder answers a value or a decode
//! error: never a trap, a timeout or a memory fault, and the same instance pool keeps
//! serving. `PROPTEST_CASES` sets the cases (256 here; `scripts/fuzz` runs many more).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use venue_edge::demo::{REFERENCE_PLUGINS, install_plugin};
use venue_plugin_host::{Loaded, PluginError, World};
use venue_tests::built_plugins;

/// Valid messages of each format, the seeds mutations start from.
fn seeds(id: &str) -> Vec<Vec<u8>> {
    let texts: &[&str] = match id {
        "std-json-gate" => &[
            r#"{"event_id":"e-1","code":"TK1","direction":"in","at":"2026-11-25T09:00:00+08:00","count":1}"#,
            r#"{"event_id":"e-2","code":"GRP1","direction":"out","at":"2026-11-25T09:00:00+08:00","count":5,"id_number":"110101199001011234","offline":true}"#,
        ],
        "line-gate" => &[
            "TP1;SCAN;77;TK1;I;1764032400000;1;-;0*00",
            "TP1;SCAN;78;GRP1;O;1764032400000;5;110101199001011234;1*00",
        ],
        "std-json-pos" => &[
            r#"{"event_id":"s-1","merchant":"m-tea-house","kind":"sale","refers_to":null,"at":"2026-11-25T12:00:00+08:00","payment":"wechat","lines":[{"sku":"tea-01","category":"drink","qty":2,"unit_price_fen":1800}],"total_fen":3600}"#,
            r#"{"event_id":"s-2","merchant":"m-tea-house","kind":"refund","refers_to":"s-1","at":"2026-11-25T12:10:00+08:00","payment":"wechat","lines":[{"sku":"tea-01","category":"drink","qty":1,"unit_price_fen":1800}],"total_fen":1800}"#,
        ],
        "hotel-pms" => &[
            r#"{"msgType":"FOLIO_POST","postingId":"P1","postDate":"2026-11-25","postTime":"12:31:09","charges":[{"code":"RN","qty":2,"amountCent":58000},{"code":"MB","qty":1,"amountCent":3500}],"settlement":{"method":"CARD"}}"#,
        ],
        "ota-orders" => &[
            r#"{"otaOrderNo":"OTA-778812","travelDate":"20261125","timeSlot":"06:00","items":[{"skuCode":"YUNSHAN-DAY-ADULT","quantity":2,"guests":[{"fullName":"张三","certType":"ID","certNo":"110101199001011234"}]}]}"#,
        ],
        _ => &[],
    };
    // The line format's checksum, made right so the seed gets past it.
    texts
        .iter()
        .map(|t| match t.strip_suffix("*00") {
            Some(body) => venue_devices::formats::seal(body).into_bytes(),
            None => t.as_bytes().to_vec(),
        })
        .collect()
}

/// Random bytes, or a seed cut, with bytes flipped, or with random bytes spliced in.
fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (0..n, any::<prop::sample::Index>()).prop_map({
            let seeds = seeds.clone();
            move |(i, at)| {
                let s = &seeds[i];
                s[..at.index(s.len() + 1)].to_vec()
            }
        }),
        (
            0..n,
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
        )
            .prop_map({
                let seeds = seeds.clone();
                move |(i, flips)| {
                    let mut s = seeds[i].clone();
                    for (at, b) in flips {
                        let k = at.index(s.len());
                        s[k] = b;
                    }
                    s
                }
            }),
        (
            0..n,
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..64)
        )
            .prop_map(move |(i, at, junk)| {
                let mut s = seeds[i].clone();
                let k = at.index(s.len() + 1);
                s.splice(k..k, junk);
                s
            }),
    ]
}

/// One decode call: Ok when the plugin answered (a value or a decode error), Err naming a
/// trap, timeout or any other host-level failure.
async fn decode(plugin: &Loaded, world: World, bytes: &[u8]) -> Result<bool, PluginError> {
    Ok(match world {
        World::GateAdapter => plugin.decode_scan("g-fuzz", bytes).await?.is_ok(),
        World::PosAdapter => plugin.decode_sale("p-fuzz", bytes).await?.is_ok(),
        World::TicketingAdapter => plugin
            .decode_order(bytes, "application/json")
            .await?
            .is_ok(),
        _ => unreachable!("only decoders are fuzzed here"),
    })
}

#[test]
fn every_reference_decoder_answers_any_bytes_without_trapping() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, _alerts) = tokio::sync::mpsc::channel(64);
    let clock = venue_model::clock::Clock::new(chrono_tz::Asia::Shanghai);
    let host = rt.block_on(async {
        venue_plugin_host::PluginHost::new(&dir.path().join("cache"), None, clock, tx).unwrap()
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    let mut fuzzed = 0;
    for p in REFERENCE_PLUGINS {
        if !matches!(
            p.world,
            World::GateAdapter | World::PosAdapter | World::TicketingAdapter
        ) {
            continue;
        }
        let seeds = seeds(p.id);
        assert!(!seeds.is_empty(), "no seeds for {}", p.id);
        let mut manifest = install_plugin(
            &built_plugins().join(p.file),
            &dir.path().join("plugins"),
            p.id,
            p.world,
            p.grants,
            p.config,
        )
        .unwrap();
        manifest.wasm = dir.path().join("plugins").join(&manifest.wasm);
        let plugin = rt.block_on(async { host.install(manifest) }).unwrap();
        // Every seed decodes: the mutations start from messages the plugin takes.
        for s in &seeds {
            let took = rt.block_on(decode(&plugin, p.world, s));
            assert!(
                matches!(took, Ok(true)),
                "{}: the seed {:?} is not taken: {took:?}",
                p.id,
                String::from_utf8_lossy(s)
            );
        }
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&input(seeds.clone()), |bytes| {
            let answered = rt.block_on(decode(&plugin, p.world, &bytes));
            prop_assert!(
                answered.is_ok(),
                "{} failed at the host level on {:?}: {:?}",
                p.id,
                String::from_utf8_lossy(&bytes),
                answered
            );
            Ok(())
        });
        if let Err(e) = result {
            panic!("{}: {e}", p.id);
        }
        // And it still serves.
        assert!(matches!(
            rt.block_on(decode(&plugin, p.world, &seeds[0])),
            Ok(true)
        ));
        fuzzed += 1;
    }
    assert_eq!(fuzzed, 5, "every reference decoder was fuzzed");
}
