//! `/metrics`: Prometheus text of what HQ received (batches, records, revenue lines, per
//! edge box the last batch number) and of its HTTP answers.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::Ingested;

#[derive(Default)]
pub struct Metrics {
    batches_accepted: AtomicU64,
    batches_replayed: AtomicU64,
    batches_refused: AtomicU64,
    records_accepted: AtomicU64,
    records_duplicate: AtomicU64,
    revenue_lines: AtomicU64,
    ingest_micros: AtomicU64,
    /// Per edge box: the highest batch number stored, and when (Unix seconds).
    edges: Mutex<BTreeMap<String, (i64, i64)>>,
    responses: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    /// Starts from what the database knows of every edge box.
    pub fn with_edges(edges: impl IntoIterator<Item = (String, i64)>) -> Metrics {
        let metrics = Metrics::default();
        if let Ok(mut m) = metrics.edges.lock() {
            m.extend(edges.into_iter().map(|(id, seq)| (id, (seq, 0))));
        }
        metrics
    }

    /// A batch answered 200, stored in `took`.
    pub fn batch(&self, edge_id: &str, seq: i64, outcome: &Ingested, took: Duration) {
        if outcome.replayed {
            self.batches_replayed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.batches_accepted.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut edges) = self.edges.lock() {
                let now = chrono::Utc::now().timestamp();
                let entry = edges.entry(edge_id.to_owned()).or_insert((seq, now));
                *entry = (entry.0.max(seq), now);
            }
        }
        self.records_accepted
            .fetch_add(outcome.accepted, Ordering::Relaxed);
        self.records_duplicate
            .fetch_add(outcome.duplicates, Ordering::Relaxed);
        self.revenue_lines
            .fetch_add(outcome.revenue_lines, Ordering::Relaxed);
        self.ingest_micros.fetch_add(
            took.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    /// An upload refused (4xx or 5xx).
    pub fn refused(&self) {
        self.batches_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn response(&self, status: u16) {
        if let Ok(mut r) = self.responses.lock() {
            *r.entry(status).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "venue_hq_batches_accepted_total",
            "Batches stored.",
            get(&self.batches_accepted),
        );
        counter(
            &mut out,
            "venue_hq_batches_replayed_total",
            "Batches whose number was already stored, answered as all duplicates.",
            get(&self.batches_replayed),
        );
        counter(
            &mut out,
            "venue_hq_batches_refused_total",
            "Uploads answered with an error.",
            get(&self.batches_refused),
        );
        counter(
            &mut out,
            "venue_hq_records_accepted_total",
            "Records stored.",
            get(&self.records_accepted),
        );
        counter(
            &mut out,
            "venue_hq_records_duplicate_total",
            "Records received again and not stored.",
            get(&self.records_duplicate),
        );
        counter(
            &mut out,
            "venue_hq_revenue_lines_total",
            "Revenue lines stored.",
            get(&self.revenue_lines),
        );
        let _ = writeln!(
            out,
            "# HELP venue_hq_ingest_seconds_total Time spent storing batches.\n# TYPE venue_hq_ingest_seconds_total counter\nvenue_hq_ingest_seconds_total {:.6}",
            get(&self.ingest_micros) as f64 / 1e6
        );
        out.push_str("# HELP venue_hq_edge_last_batch_seq The highest batch number stored per edge box.\n# TYPE venue_hq_edge_last_batch_seq gauge\n");
        let edges = self.edges.lock().map(|e| e.clone()).unwrap_or_default();
        for (edge, (seq, _)) in &edges {
            let _ = writeln!(
                out,
                "venue_hq_edge_last_batch_seq{{edge=\"{}\"}} {seq}",
                label(edge)
            );
        }
        out.push_str("# HELP venue_hq_edge_last_batch_timestamp_seconds When the last batch of each edge box was stored (0: before this start).\n# TYPE venue_hq_edge_last_batch_timestamp_seconds gauge\n");
        for (edge, (_, at)) in &edges {
            let _ = writeln!(
                out,
                "venue_hq_edge_last_batch_timestamp_seconds{{edge=\"{}\"}} {at}",
                label(edge)
            );
        }
        out.push_str("# HELP venue_hq_http_responses_total HTTP answers by status.\n# TYPE venue_hq_http_responses_total counter\n");
        let responses = self.responses.lock().map(|r| r.clone()).unwrap_or_default();
        for (status, n) in responses {
            let _ = writeln!(
                out,
                "venue_hq_http_responses_total{{status=\"{status}\"}} {n}"
            );
        }
        out
    }
}

/// A label value with `\`, `"` and line breaks escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_batches_and_keeps_the_highest_seq_per_edge() {
        let m = Metrics::with_edges([("edge-a".to_owned(), 4)]);
        let stored = Ingested {
            accepted: 3,
            duplicates: 1,
            revenue_lines: 5,
            replayed: false,
        };
        m.batch("edge-a", 7, &stored, Duration::from_millis(2));
        m.batch("edge-a", 5, &stored, Duration::from_millis(2));
        let replay = Ingested {
            accepted: 0,
            duplicates: 4,
            revenue_lines: 0,
            replayed: true,
        };
        m.batch("edge-b", 1, &replay, Duration::ZERO);
        m.response(200);
        let text = m.render();
        assert!(
            text.contains("venue_hq_batches_accepted_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("venue_hq_batches_replayed_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("venue_hq_records_accepted_total 6\n"),
            "{text}"
        );
        assert!(
            text.contains("venue_hq_edge_last_batch_seq{edge=\"edge-a\"} 7\n"),
            "{text}"
        );
        assert!(
            !text.contains("edge=\"edge-b\""),
            "a replay stores nothing: {text}"
        );
        assert!(
            text.contains("venue_hq_http_responses_total{status=\"200\"} 1\n"),
            "{text}"
        );
    }
}
