//! `/metrics`: the OpenMetrics text of what HQ received (batches, records, revenue lines,
//! per edge box the last batch number and when it came) and of its HTTP answers.
//!
//! Built like the edge box's: one [`Registry`] with the prefix `venue_hq`, counters and
//! gauges updated where things happen, encoded by `prometheus_client` at scrape time.
//! Counters are exposed with the `_total` suffix (`venue_hq_batches_accepted_total`).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::store::Ingested;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EdgeLabels {
    edge: LabelText,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: u16,
}

/// A label value written with `\`, `"` and line breaks escaped, as the text format
/// requires (`prometheus_client` writes a `String` label value as it is). Edge ids are
/// checked at the door, but [`Metrics`] does not rely on it.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct LabelText(String);

impl EncodeLabelValue for LabelText {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let mut rest = self.0.as_str();
        while let Some(at) = rest.find(['\\', '"', '\n']) {
            encoder.write_str(&rest[..at])?;
            encoder.write_str(match rest.as_bytes()[at] {
                b'\\' => "\\\\",
                b'"' => "\\\"",
                _ => "\\n",
            })?;
            rest = &rest[at + 1..];
        }
        encoder.write_str(rest)
    }
}

pub struct Metrics {
    registry: Registry,
    batches_accepted: Counter,
    batches_replayed: Counter,
    batches_refused: Counter,
    records_accepted: Counter,
    records_duplicate: Counter,
    revenue_lines: Counter,
    ingest_seconds: Counter<f64, AtomicU64>,
    /// Per edge box: the highest batch number stored.
    edge_last_seq: Family<EdgeLabels, Gauge>,
    /// Per edge box: when its last batch was stored (Unix seconds; 0 before this start).
    edge_last_at: Family<EdgeLabels, Gauge>,
    http_responses: Family<StatusLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric at zero, no edge box known.
    pub fn new() -> Metrics {
        let batches_accepted = Counter::default();
        let batches_replayed = Counter::default();
        let batches_refused = Counter::default();
        let records_accepted = Counter::default();
        let records_duplicate = Counter::default();
        let revenue_lines = Counter::default();
        let ingest_seconds = Counter::<f64, AtomicU64>::default();
        let edge_last_seq = Family::<EdgeLabels, Gauge>::default();
        let edge_last_at = Family::<EdgeLabels, Gauge>::default();
        let http_responses = Family::<StatusLabels, Counter>::default();

        let mut r = Registry::with_prefix("venue_hq");
        r.register(
            "batches_accepted",
            "Batches stored",
            batches_accepted.clone(),
        );
        r.register(
            "batches_replayed",
            "Batches whose number was already stored, answered as all duplicates",
            batches_replayed.clone(),
        );
        r.register(
            "batches_refused",
            "Uploads answered with an error",
            batches_refused.clone(),
        );
        r.register(
            "records_accepted",
            "Records stored",
            records_accepted.clone(),
        );
        r.register(
            "records_duplicate",
            "Records received again and not stored",
            records_duplicate.clone(),
        );
        r.register(
            "revenue_lines",
            "Revenue lines stored",
            revenue_lines.clone(),
        );
        r.register(
            "ingest_seconds",
            "Time spent storing batches",
            ingest_seconds.clone(),
        );
        r.register(
            "edge_last_batch_seq",
            "The highest batch number stored per edge box",
            edge_last_seq.clone(),
        );
        r.register(
            "edge_last_batch_timestamp_seconds",
            "When the last batch of each edge box was stored (0: before this start)",
            edge_last_at.clone(),
        );
        r.register(
            "http_responses",
            "HTTP answers by status",
            http_responses.clone(),
        );

        Metrics {
            registry: r,
            batches_accepted,
            batches_replayed,
            batches_refused,
            records_accepted,
            records_duplicate,
            revenue_lines,
            ingest_seconds,
            edge_last_seq,
            edge_last_at,
            http_responses,
        }
    }

    /// Starts from what the database knows of every edge box: its highest batch number,
    /// stored at an unknown time (0).
    pub fn with_edges(edges: impl IntoIterator<Item = (String, i64)>) -> Metrics {
        let metrics = Metrics::new();
        for (edge, seq) in edges {
            let labels = EdgeLabels {
                edge: LabelText(edge),
            };
            metrics.raise_seq(&labels, seq);
            metrics.edge_last_at.get_or_create(&labels).set(0);
        }
        metrics
    }

    /// A batch answered 200, stored in `took`.
    pub fn batch(&self, edge_id: &str, seq: i64, outcome: &Ingested, took: Duration) {
        if outcome.replayed {
            self.batches_replayed.inc();
        } else {
            self.batches_accepted.inc();
            let labels = EdgeLabels {
                edge: LabelText(edge_id.to_owned()),
            };
            self.raise_seq(&labels, seq);
            self.edge_last_at
                .get_or_create(&labels)
                .set(chrono::Utc::now().timestamp());
        }
        self.records_accepted.inc_by(outcome.accepted);
        self.records_duplicate.inc_by(outcome.duplicates);
        self.revenue_lines.inc_by(outcome.revenue_lines);
        self.ingest_seconds.inc_by(took.as_secs_f64());
    }

    /// An upload refused (4xx or 5xx).
    pub fn refused(&self) {
        self.batches_refused.inc();
    }

    /// An HTTP answer sent, any route.
    pub fn response(&self, status: u16) {
        self.http_responses
            .get_or_create(&StatusLabels { status })
            .inc();
    }

    /// The OpenMetrics text exposition (serve it as [`CONTENT_TYPE`]), ending in `# EOF`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail, and neither can the label values above; an
        // error here would be a bug in the encoder, so it is logged, not served.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        out
    }

    /// Sets the edge box's batch number gauge to `seq` unless it already shows a higher
    /// one (batches may be stored out of order; the numbers are never negative).
    fn raise_seq(&self, labels: &EdgeLabels, seq: i64) {
        self.edge_last_seq
            .get_or_create(labels)
            .inner()
            .fetch_max(seq, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(accepted: u64, duplicates: u64, revenue_lines: u64) -> Ingested {
        Ingested {
            accepted,
            duplicates,
            revenue_lines,
            replayed: false,
        }
    }

    fn replayed(duplicates: u64) -> Ingested {
        Ingested {
            accepted: 0,
            duplicates,
            revenue_lines: 0,
            replayed: true,
        }
    }

    /// What happens to a fresh `Metrics`, then lines its text must and must not contain.
    struct Case {
        name: &'static str,
        known: &'static [(&'static str, i64)],
        act: fn(&Metrics),
        present: &'static [&'static str],
        absent: &'static [&'static str],
    }

    const CASES: &[Case] = &[
        Case {
            name: "nothing happened: every counter at zero, no edge, no status",
            known: &[],
            act: |_| {},
            present: &[
                "# HELP venue_hq_batches_accepted Batches stored.\n",
                "# TYPE venue_hq_batches_accepted counter\n",
                "venue_hq_batches_accepted_total 0\n",
                "venue_hq_batches_replayed_total 0\n",
                "venue_hq_batches_refused_total 0\n",
                "venue_hq_records_accepted_total 0\n",
                "venue_hq_records_duplicate_total 0\n",
                "venue_hq_revenue_lines_total 0\n",
                "venue_hq_ingest_seconds_total 0.0\n",
                "# EOF\n",
            ],
            // prometheus-client leaves out a family without members, HELP and TYPE too.
            absent: &[
                "venue_hq_edge_last_batch_seq",
                "venue_hq_edge_last_batch_timestamp_seconds",
                "venue_hq_http_responses",
            ],
        },
        Case {
            name: "stored batches count, the highest number per edge stays",
            known: &[("edge-a", 4)],
            act: |m| {
                m.batch("edge-a", 7, &stored(3, 1, 5), Duration::from_millis(2));
                m.batch("edge-a", 5, &stored(3, 1, 5), Duration::from_millis(2));
                m.batch("edge-b", 1, &replayed(4), Duration::ZERO);
            },
            present: &[
                "venue_hq_batches_accepted_total 2\n",
                "venue_hq_batches_replayed_total 1\n",
                "venue_hq_records_accepted_total 6\n",
                "venue_hq_records_duplicate_total 6\n",
                "venue_hq_revenue_lines_total 10\n",
                "venue_hq_ingest_seconds_total 0.004\n",
                "venue_hq_edge_last_batch_seq{edge=\"edge-a\"} 7\n",
            ],
            // A replay stores nothing, so edge-b has no batch number.
            absent: &[
                "edge=\"edge-b\"",
                "venue_hq_edge_last_batch_timestamp_seconds{edge=\"edge-a\"} 0\n",
            ],
        },
        Case {
            name: "edges from the database: their number, stored at an unknown time",
            known: &[("edge-a", 4), ("edge-c", 0)],
            act: |_| {},
            present: &[
                "# TYPE venue_hq_edge_last_batch_seq gauge\n",
                "# TYPE venue_hq_edge_last_batch_timestamp_seconds gauge\n",
                "venue_hq_edge_last_batch_seq{edge=\"edge-a\"} 4\n",
                "venue_hq_edge_last_batch_seq{edge=\"edge-c\"} 0\n",
                "venue_hq_edge_last_batch_timestamp_seconds{edge=\"edge-a\"} 0\n",
                "venue_hq_edge_last_batch_timestamp_seconds{edge=\"edge-c\"} 0\n",
                "venue_hq_batches_accepted_total 0\n",
            ],
            absent: &[],
        },
        Case {
            name: "a lower number than the database's does not lower the gauge",
            known: &[("edge-a", 9)],
            act: |m| m.batch("edge-a", 3, &stored(1, 0, 0), Duration::ZERO),
            present: &[
                "venue_hq_edge_last_batch_seq{edge=\"edge-a\"} 9\n",
                "venue_hq_batches_accepted_total 1\n",
            ],
            absent: &["venue_hq_edge_last_batch_timestamp_seconds{edge=\"edge-a\"} 0\n"],
        },
        Case {
            name: "refusals and responses by status",
            known: &[],
            act: |m| {
                m.refused();
                m.refused();
                m.response(200);
                m.response(200);
                m.response(200);
                m.response(413);
            },
            present: &[
                "# HELP venue_hq_http_responses HTTP answers by status.\n",
                "# TYPE venue_hq_http_responses counter\n",
                "venue_hq_batches_refused_total 2\n",
                "venue_hq_http_responses_total{status=\"200\"} 3\n",
                "venue_hq_http_responses_total{status=\"413\"} 1\n",
            ],
            absent: &["status=\"500\""],
        },
        Case {
            name: "label values are escaped",
            known: &[("a\"b\\c\nd", 2)],
            act: |_| {},
            present: &["venue_hq_edge_last_batch_seq{edge=\"a\\\"b\\\\c\\nd\"} 2\n"],
            absent: &[],
        },
    ];

    #[test]
    fn renders_what_happened() {
        for case in CASES {
            let m = Metrics::with_edges(case.known.iter().map(|&(e, s)| (e.to_owned(), s)));
            (case.act)(&m);
            let text = m.render();
            for line in case.present {
                assert!(
                    text.contains(line),
                    "{}: {line:?} missing in\n{text}",
                    case.name
                );
            }
            for line in case.absent {
                assert!(
                    !text.contains(line),
                    "{}: {line:?} present in\n{text}",
                    case.name
                );
            }
            assert!(text.ends_with("# EOF\n"), "{}: {text}", case.name);
        }
    }

    #[test]
    fn a_stored_batch_stamps_its_edge_with_the_time_now() {
        let before = chrono::Utc::now().timestamp();
        let m = Metrics::default();
        m.batch("edge-a", 1, &stored(1, 0, 0), Duration::ZERO);
        let after = chrono::Utc::now().timestamp();
        let text = m.render();
        let prefix = "venue_hq_edge_last_batch_timestamp_seconds{edge=\"edge-a\"} ";
        let at: i64 = text
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix:?} line in\n{text}"));
        assert!(
            (before..=after).contains(&at),
            "{before} <= {at} <= {after}"
        );
    }
}
