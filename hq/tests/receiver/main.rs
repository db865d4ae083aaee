//! The receiver end to end: the real `venue-hq` binary, on SQLite and on PostgreSQL, each
//! scenario once per database.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod batches;
mod durability;
mod reports;

use access::*;
use batches::*;
use common::Db;
use durability::*;
use reports::*;

const DAY: &str = "2026-11-24";

/// Runs every listed scenario once on SQLite and once on PostgreSQL.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Db::Postgres).await
                }
            )*
        }
    };
}

on_both_databases!(
    a_batch_is_stored_once_however_often_it_or_its_records_come,
    a_bad_line_refuses_the_whole_batch_and_keeps_its_number_free,
    batches_over_the_limit_are_refused_compressed_or_not,
    zstd_bodies_are_decoded_and_broken_ones_refused,
    tokens_and_headers_are_checked,
    reports_group_by_key_and_period,
    two_edges_upload_at_once,
    acknowledged_batches_survive_a_restart,
    health_metrics_and_edges,
);
