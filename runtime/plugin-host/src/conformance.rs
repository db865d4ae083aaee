//! The conformance check of a plugin (`venue-edge plugin check`): the world's vectors
//! (`conformance/<world>.toml`, carried in the binary) run against a loaded plugin, each
//! call timed, each answer compared with what the vector expects. The joint-test
//! scenarios take their payloads from the vendor's samples file, since only the vendor
//! knows its format. conformance/README.md describes the files.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Deserialize;

use super::{Loaded, PluginError, World, bindings};

/// The vectors of each world, as shipped with the binary.
pub fn vectors_of(world: World) -> &'static str {
    match world {
        World::GateAdapter => include_str!("../../../conformance/gate-adapter.toml"),
        World::PosAdapter => include_str!("../../../conformance/pos-adapter.toml"),
        World::TicketingAdapter => include_str!("../../../conformance/ticketing-adapter.toml"),
        World::SettlementRule => include_str!("../../../conformance/settlement-rule.toml"),
        World::PaymentConnector => include_str!("../../../conformance/payment-connector.toml"),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    vector: Vec<Vector>,
}

/// One call and what must come back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    pub name: String,
    pub group: String,
    pub call: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    hex: Option<String>,
    #[serde(default)]
    repeat: Option<Repeat>,
    #[serde(default)]
    sample: Option<String>,
    #[serde(default)]
    json: Option<String>,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    pub expect: Expect,
    #[serde(default)]
    want: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repeat {
    text: String,
    times: usize,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// A value (and, with `want`, one that contains it).
    Ok,
    /// A decode error.
    DecodeError,
    /// A value or a decode error: anything but a failed call.
    Answer,
}

/// A vendor's payloads in its own format, by the keys the vectors name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Samples {
    #[serde(default)]
    samples: BTreeMap<String, Sample>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Sample {
    Text(String),
    Hex { hex: String },
}

impl Samples {
    pub fn parse(text: &str) -> Result<Samples, String> {
        toml::from_str(text).map_err(|e| format!("samples file: {e}"))
    }
}

pub fn parse_vectors(text: &str) -> Result<Vec<Vector>, String> {
    let file: VectorFile = toml::from_str(text).map_err(|e| format!("vectors: {e}"))?;
    Ok(file.vector)
}

/// What one vector did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub name: String,
    pub group: String,
    pub call: String,
    pub pass: bool,
    pub expected: String,
    pub got: String,
    /// The call's wall time, microseconds (0 when it was not made).
    pub micros: u64,
    /// The limit the call ran into: `timeout`, `out_of_fuel`, `memory_limit`, `trap`,
    /// `bad_output`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<&'static str>,
}

/// What came back from one call, before it is judged.
enum Answer {
    Value(serde_json::Value),
    Bytes(Vec<u8>),
    DecodeError(String),
    Failed(PluginError),
}

/// Runs every vector against `plugin`, in order.
pub async fn run(plugin: &Loaded, vectors: &[Vector], samples: &Samples) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(vectors.len());
    for v in vectors {
        outcomes.push(run_one(plugin, v, samples).await);
    }
    outcomes
}

/// Runs one vector. A call that runs past its deadline is made once more before it
/// counts as a failure: on a busy machine one slow call is the machine's; a plugin that
/// loops misses the deadline every time.
async fn run_one(plugin: &Loaded, v: &Vector, samples: &Samples) -> Outcome {
    let first = run_once(plugin, v, samples).await;
    if first.limit != Some("timeout") {
        return first;
    }
    let mut second = run_once(plugin, v, samples).await;
    second.got = format!(
        "{} (the first call ran past the deadline after {:.1} ms)",
        second.got,
        first.micros as f64 / 1000.0
    );
    second
}

async fn run_once(plugin: &Loaded, v: &Vector, samples: &Samples) -> Outcome {
    let mut outcome = Outcome {
        name: v.name.clone(),
        group: v.group.clone(),
        call: v.call.clone(),
        pass: false,
        expected: expected_text(v),
        got: String::new(),
        micros: 0,
        limit: None,
    };
    let started = Instant::now();
    let answer = match call(plugin, v, samples).await {
        Ok(answer) => answer,
        Err(why) => {
            outcome.got = why;
            return outcome;
        }
    };
    outcome.micros = started.elapsed().as_micros() as u64;
    let (pass, got) = judge(v, &answer);
    if let Answer::Failed(PluginError::Call { kind, .. }) = &answer {
        outcome.limit = Some(kind.as_str());
    }
    outcome.pass = pass;
    outcome.got = got;
    outcome
}

fn expected_text(v: &Vector) -> String {
    match (v.expect, &v.want) {
        (Expect::Ok, Some(want)) => format!("a value containing {want}"),
        (Expect::Ok, None) => "a value".into(),
        (Expect::DecodeError, _) => "a decode error".into(),
        (Expect::Answer, _) => "a value or a decode error, within the limits".into(),
    }
}

/// The payload of a decode call.
fn payload(v: &Vector, samples: &Samples) -> Result<Vec<u8>, String> {
    if let Some(key) = &v.sample {
        return match samples.samples.get(key) {
            Some(Sample::Text(t)) => Ok(t.clone().into_bytes()),
            Some(Sample::Hex { hex }) => from_hex(hex),
            None => Err(format!(
                "no sample {key:?}: add `{key} = '''<a payload in your format>'''` under [samples] in your samples file"
            )),
        };
    }
    if let Some(t) = &v.text {
        return Ok(t.clone().into_bytes());
    }
    if let Some(h) = &v.hex {
        return from_hex(h);
    }
    if let Some(r) = &v.repeat {
        return Ok(format!("{}{}{}", r.prefix, r.text.repeat(r.times), r.suffix).into_bytes());
    }
    Err("the vector gives no payload (text, hex, repeat or sample)".into())
}

fn from_hex(h: &str) -> Result<Vec<u8>, String> {
    let clean: String = h.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&clean).map_err(|e| format!("hex {h:?}: {e}"))
}

fn input<T: serde::de::DeserializeOwned>(v: &Vector) -> Result<T, String> {
    let json = v
        .json
        .as_deref()
        .ok_or_else(|| format!("{} needs a json input", v.call))?;
    serde_json::from_str(json).map_err(|e| format!("the vector's json input: {e}"))
}

fn value<T: serde::Serialize>(t: &T) -> Answer {
    match serde_json::to_value(t) {
        Ok(v) => Answer::Value(v),
        Err(e) => Answer::DecodeError(format!("cannot show the value: {e}")),
    }
}

/// A payout as the vectors write it (the WIT record has no serde of its own).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutJson {
    payout_id: String,
    bill_id: String,
    party: String,
    amount_fen: i64,
    account: String,
    memo: String,
}

impl From<PayoutJson> for bindings::types::Payout {
    fn from(p: PayoutJson) -> Self {
        bindings::types::Payout {
            payout_id: p.payout_id,
            bill_id: p.bill_id,
            party: p.party,
            amount_fen: p.amount_fen,
            account: p.account,
            memo: p.memo,
        }
    }
}

fn http_request(r: super::connector::HttpRequest) -> Answer {
    Answer::Value(serde_json::json!({
        "method": r.method,
        "url": r.url,
        "headers": r.headers.iter().map(|h| (h.name.clone(), serde_json::Value::String(h.value.clone()))).collect::<serde_json::Map<_, _>>(),
        "body_bytes": r.body.len(),
    }))
}

/// Makes the vector's call. `Err` is a vector that could not be made (no sample, a bad
/// input); the plugin was not called.
async fn call(plugin: &Loaded, v: &Vector, samples: &Samples) -> Result<Answer, String> {
    let device = v.device.as_deref().unwrap_or("conformance-1");
    let decoded = |r: Result<Result<serde_json::Value, String>, PluginError>| match r {
        Ok(Ok(value)) => Answer::Value(value),
        Ok(Err(e)) => Answer::DecodeError(e),
        Err(e) => Answer::Failed(e),
    };
    let bytes = |r: Result<Vec<u8>, PluginError>| match r {
        Ok(b) => Answer::Bytes(b),
        Err(e) => Answer::Failed(e),
    };
    let de = |e: super::DecodeError| format!("{}: {}", e.code, e.message);
    Ok(match v.call.as_str() {
        "decode-scan" => decoded(
            plugin
                .decode_scan(device, &payload(v, samples)?)
                .await
                .map(|r| r.map(|s| json(&s)).map_err(de)),
        ),
        "encode-verdict" => bytes(
            plugin
                .encode_verdict(device, &input::<venue_model::scan::Verdict>(v)?)
                .await,
        ),
        "encode-whitelist" => bytes(
            plugin
                .encode_whitelist(device, &input::<super::Delta>(v)?)
                .await,
        ),
        "decode-sale" => decoded(
            plugin
                .decode_sale(device, &payload(v, samples)?)
                .await
                .map(|r| r.map(|s| json(&s)).map_err(de)),
        ),
        "encode-ack" => bytes(
            plugin
                .encode_ack(device, &input::<venue_model::sale::Ack>(v)?)
                .await,
        ),
        "decode-order" => {
            let content_type = v.content_type.as_deref().unwrap_or("application/json");
            decoded(
                plugin
                    .decode_order(&payload(v, samples)?, content_type)
                    .await
                    .map(|r| r.map(|o| json(&o)).map_err(de)),
            )
        }
        "encode-confirmation" => bytes(
            plugin
                .encode_confirmation(&input::<venue_model::order::OrderView>(v)?)
                .await,
        ),
        "compute-lines" => match plugin
            .compute_lines(&input::<venue_model::contract::PluginInput>(v)?)
            .await
        {
            Ok(lines) => value(&lines),
            Err(e) => Answer::Failed(e),
        },
        "build-payout" => {
            let payout: bindings::types::Payout = input::<PayoutJson>(v)?.into();
            match plugin.build_payout(&payout).await {
                Ok(r) => http_request(r),
                Err(e) => Answer::Failed(e),
            }
        }
        "build-status-query" => {
            let payout: bindings::types::Payout = input::<PayoutJson>(v)?.into();
            match plugin.build_status_query(&payout).await {
                Ok(r) => http_request(r),
                Err(e) => Answer::Failed(e),
            }
        }
        other => return Err(format!("unknown call {other:?} in the vectors")),
    })
}

fn json<T: serde::Serialize>(t: &T) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or(serde_json::Value::Null)
}

/// Whether the answer is what the vector expects, and the answer as the report shows it.
fn judge(v: &Vector, answer: &Answer) -> (bool, String) {
    match answer {
        Answer::Failed(e) => (false, format!("the call failed: {e}")),
        Answer::DecodeError(e) => (
            matches!(v.expect, Expect::DecodeError | Expect::Answer),
            format!("decode error {e}"),
        ),
        Answer::Bytes(b) => {
            let shown = show_bytes(b);
            match v.expect {
                Expect::DecodeError => (false, shown),
                _ if b.is_empty() => (false, "an empty payload for the device".into()),
                _ => (true, shown),
            }
        }
        Answer::Value(got) => {
            let shown = masked(got).to_string();
            match (v.expect, &v.want) {
                (Expect::DecodeError, _) => (false, shown),
                (Expect::Ok, Some(want)) => match serde_json::from_str::<serde_json::Value>(want) {
                    Ok(want) => match missing(&want, got, "") {
                        None => (true, shown),
                        Some(path) => (false, format!("{shown} (differs at {path})")),
                    },
                    Err(e) => (false, format!("the vector's want is not JSON: {e}")),
                },
                _ => (true, shown),
            }
        }
    }
}

/// Where `got` does not contain `want`: objects by key, arrays element by element, other
/// values equal. `None` when it does.
pub fn missing(want: &serde_json::Value, got: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => w.iter().find_map(|(k, wv)| match g.get(k) {
            Some(gv) => missing(wv, gv, &format!("{at}.{k}")),
            None => Some(format!("{at}.{k}")),
        }),
        (Value::Array(w), Value::Array(g)) if w.len() <= g.len() => w
            .iter()
            .zip(g)
            .enumerate()
            .find_map(|(i, (wv, gv))| missing(wv, gv, &format!("{at}[{i}]"))),
        (w, g) if w == g => None,
        _ => Some(if at.is_empty() {
            "the top".into()
        } else {
            at.to_owned()
        }),
    }
}

/// A device payload as the report shows it: text when it is UTF-8, else hex; long ones cut.
fn show_bytes(b: &[u8]) -> String {
    const SHOWN: usize = 160;
    let cut = &b[..b.len().min(SHOWN)];
    let more = if b.len() > SHOWN {
        format!("… ({} bytes)", b.len())
    } else {
        String::new()
    };
    match std::str::from_utf8(cut) {
        Ok(t) => format!("{t}{more}"),
        Err(_) => format!("hex {}{more}", hex::encode(cut)),
    }
}

/// A value with ID numbers masked (a sample's are made up, but the report is shown and
/// kept by CI; no ID number is ever printed whole).
fn masked(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = match (k.as_str(), x) {
                        ("id_number", Value::String(s)) if s.chars().count() > 8 => {
                            let chars: Vec<char> = s.chars().collect();
                            let tail: String = chars[chars.len() - 4..].iter().collect();
                            Value::String(format!("****{tail}"))
                        }
                        _ => masked(x),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(masked).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_worlds_vectors_parse() {
        for world in [
            World::GateAdapter,
            World::PosAdapter,
            World::TicketingAdapter,
            World::SettlementRule,
            World::PaymentConnector,
        ] {
            let vectors = parse_vectors(vectors_of(world)).unwrap();
            assert!(!vectors.is_empty(), "{}", world.as_str());
            for v in &vectors {
                // Encode calls' inputs are the model's shapes: they must read.
                let read = match v.call.as_str() {
                    "encode-verdict" => input::<venue_model::scan::Verdict>(v).map(|_| ()),
                    "encode-whitelist" => input::<super::super::Delta>(v).map(|_| ()),
                    "encode-ack" => input::<venue_model::sale::Ack>(v).map(|_| ()),
                    "encode-confirmation" => input::<venue_model::order::OrderView>(v).map(|_| ()),
                    "compute-lines" => input::<venue_model::contract::PluginInput>(v).map(|_| ()),
                    "build-payout" | "build-status-query" => input::<PayoutJson>(v).map(|_| ()),
                    _ if v.sample.is_some() => Ok(()),
                    _ => payload(v, &Samples::default()).map(|_| ()),
                };
                assert!(read.is_ok(), "{} / {}: {read:?}", world.as_str(), v.name);
                if let Some(want) = &v.want {
                    assert!(
                        serde_json::from_str::<serde_json::Value>(want).is_ok(),
                        "{}",
                        v.name
                    );
                }
            }
        }
    }

    #[test]
    fn a_value_contains_what_is_wanted() {
        let got = json!({"code":"TK1","direction":"in","count":1,"items":[{"qty":2,"product":"p"},{"qty":1}]});
        let cases = [
            (json!({}), None),
            (json!({"code":"TK1"}), None),
            (json!({"code":"TK1","count":1}), None),
            (json!({"items":[{"qty":2}]}), None),
            (json!({"code":"TK2"}), Some(".code")),
            (json!({"gate":"g"}), Some(".gate")),
            (json!({"items":[{"qty":3}]}), Some(".items[0].qty")),
            (json!({"items":[{},{},{}]}), Some(".items")),
            (json!("TK1"), Some("the top")),
        ];
        for (want, at) in cases {
            assert_eq!(missing(&want, &got, "").as_deref(), at, "{want}");
        }
    }

    #[test]
    fn id_numbers_are_masked_in_the_report() {
        let v = json!({"items":[{"visitors":[{"name":"张三","id_number":"110101199001011234"}]}]});
        assert_eq!(
            masked(&v)["items"][0]["visitors"][0]["id_number"],
            "****1234"
        );
    }

    #[test]
    fn payloads_come_from_text_hex_repeat_or_the_samples() {
        let mut samples =
            Samples::parse("[samples]\nentry = 'E'\nbin = { hex = \"ff00\" }\n").unwrap();
        let v = |s: &str| {
            parse_vectors(&format!(
                "[[vector]]\nname='n'\ngroup='g'\ncall='decode-scan'\nexpect='answer'\n{s}\n"
            ))
            .unwrap()
            .remove(0)
        };
        assert_eq!(payload(&v("text = 'abc'"), &samples).unwrap(), b"abc");
        assert_eq!(
            payload(&v("hex = 'ff fe'"), &samples).unwrap(),
            [0xff, 0xfe]
        );
        assert_eq!(
            payload(
                &v("repeat = { text = 'ab', times = 3, prefix = '<', suffix = '>' }"),
                &samples
            )
            .unwrap(),
            b"<ababab>"
        );
        assert_eq!(payload(&v("sample = 'entry'"), &samples).unwrap(), b"E");
        assert_eq!(
            payload(&v("sample = 'bin'"), &samples).unwrap(),
            [0xff, 0x00]
        );
        samples.samples.clear();
        let err = payload(&v("sample = 'entry'"), &samples).unwrap_err();
        assert!(err.starts_with("no sample \"entry\""), "{err}");
    }
}
