//! End-to-end tests: the real `venue-edge` process, real MQTT brokers (the embedded one
//! and the machine's mosquitto), the reference plugins compiled to wasm32-wasip2, SQLite
//! on disk. Each scenario that involves devices runs on both brokers.

mod access;
mod bad_input;
mod certs;
mod console;
mod dates;
mod demo;
mod device_logins;
mod https;
mod limits;
mod mqtt_tls;
mod offline;
mod one_code;
mod other_languages;
mod packages;
mod payouts;
mod plugin_check;
mod plugin_formats;
mod plugins;
mod pos_load;
mod reports;
mod rules;
mod settlement;
mod tickets;
mod upstream;
mod vendor_path;

/// Runs a scenario once on the embedded broker and once on the external mosquitto.
macro_rules! on_both_brokers {
    ($($name:ident),* $(,)?) => {
        mod embedded_broker {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(venue_tests::Broker::Embedded).await
                }
            )*
        }
        mod mosquitto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(venue_tests::Broker::External(venue_tests::EXTERNAL_BROKER.into())).await
                }
            )*
        }
    };
}
pub(crate) use on_both_brokers;
