//! The embedded MQTT broker, so a newcomer installs nothing: the `rmqtt` library inside
//! this process, MQTT 3.1.1 and 5 over plain TCP, with TCP_NODELAY on every accepted
//! socket (without it, Nagle's algorithm against a client's delayed ACK adds ~40 ms to
//! every request/response; see BENCHMARKS.md).
//!
//! Production venues may point devices and the runtime at any external broker instead
//! (`mqtt.url`); nothing else changes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::net::Builder;
use rmqtt::retain::{DefaultRetainStorage, RetainStorage};
use rmqtt::server::MqttServer;
use rmqtt::types::{
    AuthResult, Message, PublishAclResult, Reason, Retain, SubscribeAclResult, TopicFilter,
    TopicName, Tx,
};

use crate::{credentials, topics};

/// Largest MQTT packet a device may send. A scan or a sale is well under 16 KiB; a
/// whitelist delta is bounded by the publisher's batch size.
pub const PACKET_BYTES_MAX: u32 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("cannot start the embedded MQTT broker on {addr}: {message}")]
pub struct BrokerError {
    addr: SocketAddr,
    message: String,
}

/// Unacknowledged QoS 1 messages the broker sends one client before waiting.
const INFLIGHT_MAX: std::num::NonZeroU16 = std::num::NonZeroU16::new(1024).unwrap();
/// Messages queued for one client beyond its window.
const SESSION_QUEUE_MAX: usize = 100_000;

/// A running embedded broker. Dropping it leaves it running until the runtime ends;
/// call [`EmbeddedBroker::shutdown`] to stop it.
pub struct EmbeddedBroker {
    local_addr: SocketAddr,
    logins: bool,
    scx: ServerContext,
    task: tokio::task::JoinHandle<()>,
}

/// What the embedded broker asks the runtime about devices.
pub trait DeviceDirectory: Send + Sync + 'static {
    /// The stored `$7$` hash of a device's MQTT password; `None` when the device has no
    /// credentials or they were revoked.
    fn password_hash(&self, device: &str) -> Option<String>;
    /// A device published (`other`: on that device's topic) or subscribed where it may
    /// not; the message was not processed.
    fn refused(&self, device: &str, topic: &str, other: Option<&str>);
}

/// Devices log in with their id as user name and their password, and reach only their
/// own topics (`topics::publish_access`, `topics::may_subscribe`).
pub struct DeviceAccess {
    pub zone: String,
    pub directory: Arc<dyn DeviceDirectory>,
}

impl EmbeddedBroker {
    /// Binds `addr` (port 0 picks a free port) and starts serving. With `access`, a client
    /// without valid device credentials is refused and a device reaches only its own
    /// topics; without, any client may connect (tests of the broker alone).
    pub async fn start(
        addr: SocketAddr,
        access: Option<DeviceAccess>,
    ) -> Result<EmbeddedBroker, BrokerError> {
        let err = |e: &dyn std::fmt::Display| BrokerError {
            addr,
            message: e.to_string(),
        };
        // The load-based busy check refuses connections when the machine is loaded,
        // which is exactly when devices most need the box.
        let scx = ServerContext::new().busy_check_enable(false).build().await;
        *scx.extends.retain_mut().await = Box::new(MemoryRetain::default());
        let authenticate = access.is_some();
        if let Some(access) = access {
            let guard = Guard {
                zone: access.zone.into(),
                directory: access.directory,
            };
            let register = scx.extends.hook_mgr().register();
            for kind in [
                Type::ClientAuthenticate,
                Type::MessagePublishCheckAcl,
                Type::ClientSubscribeCheckAcl,
            ] {
                register.add(kind, Box::new(guard.clone())).await;
            }
            register.start().await;
        }
        let listener = Builder::new()
            .name("mqtt")
            .laddr(addr)
            .nodelay(true)
            .reuseaddr(Some(true))
            .max_packet_size(PACKET_BYTES_MAX)
            .allow_anonymous(!authenticate)
            // The runtime acknowledges a QoS 1 message only after its commit, so the
            // window of unacknowledged messages the broker lets it have is its pipeline
            // depth: rmqtt's default (16) capped sales at ~5,000/s. The queue behind it
            // holds a burst of every device at once.
            .max_inflight(INFLIGHT_MAX)
            .max_mqueue_len(SESSION_QUEUE_MAX)
            .bind()
            .map_err(|e| err(&e))?
            .tcp()
            .map_err(|e| err(&e))?;
        let local_addr = listener.local_addr().map_err(|e| err(&e))?;
        let server = MqttServer::new(scx.clone())
            .listener_by_id(listener, local_addr.port())
            .build();
        let task = tokio::spawn(async move {
            if let Err(e) = server.run().await {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        });
        tracing::info!(%local_addr, "embedded MQTT broker listening");
        Ok(EmbeddedBroker {
            local_addr,
            logins: authenticate,
            scx,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether devices log in and are held to their own topics.
    pub fn logins(&self) -> bool {
        self.logins
    }

    /// The broker's state, for attaching the runtime in process.
    pub fn context(&self) -> &ServerContext {
        &self.scx
    }

    /// Stops accepting and closes every session (devices' last wills fire).
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
        let sessions: Vec<Tx> = {
            let shared = self.scx.extends.shared().await;
            let txs: Vec<Tx> = shared.iter().filter_map(|e| e.tx()).collect();
            txs
        };
        for tx in sessions {
            let _ = tx.unbounded_send(Message::Closed(Reason::from_static("broker shutdown")));
        }
    }
}

/// The hooks that hold devices to their credentials and their own topics.
#[derive(Clone)]
struct Guard {
    zone: Arc<str>,
    directory: Arc<dyn DeviceDirectory>,
}

#[async_trait]
impl Handler for Guard {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(info) => {
                let user = info.username().map(|u| u.to_string());
                let ok = match (&user, info.password()) {
                    (Some(user), Some(password)) => {
                        let password = String::from_utf8_lossy(password);
                        self.directory
                            .password_hash(user)
                            .is_some_and(|hash| credentials::verify(&password, &hash))
                    }
                    _ => false,
                };
                let result = if ok {
                    AuthResult::Allow(false, None)
                } else {
                    tracing::warn!(device = user.as_deref().unwrap_or("(none)"), addr = ?info.ipaddress(), "mqtt: login refused");
                    AuthResult::BadUsernameOrPassword
                };
                (false, Some(HookResult::AuthResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let device = session.id.username_ref();
                match topics::publish_access(&self.zone, device, &publish.topic) {
                    topics::PublishAccess::Own => (
                        false,
                        Some(HookResult::PublishAclResult(PublishAclResult::allow())),
                    ),
                    other => {
                        let named = match &other {
                            topics::PublishAccess::Other(d) => Some(d.as_str()),
                            _ => None,
                        };
                        self.directory.refused(device, &publish.topic, named);
                        (
                            false,
                            Some(HookResult::PublishAclResult(PublishAclResult::rejected(
                                false,
                                Some("not this device's topic".into()),
                            ))),
                        )
                    }
                }
            }
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                let device = session.id.username_ref();
                let result = if topics::may_subscribe(&self.zone, device, &subscribe.topic_filter) {
                    SubscribeAclResult::new_success(subscribe.opts.qos(), None)
                } else {
                    self.directory
                        .refused(device, &subscribe.topic_filter, None);
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            _ => (true, acc),
        }
    }
}

/// Retained messages (devices' `online`/`offline` status) kept in memory, never expiring:
/// a status is true until the device says otherwise.
#[derive(Default)]
struct MemoryRetain(DefaultRetainStorage);

#[async_trait]
impl RetainStorage for MemoryRetain {
    fn enable(&self) -> bool {
        true
    }

    async fn set(
        &self,
        topic: &TopicName,
        retain: Retain,
        _expiry: Option<Duration>,
    ) -> rmqtt::Result<()> {
        self.0.set_with_timeout(topic, retain, None).await
    }

    async fn get(&self, filter: &TopicFilter) -> rmqtt::Result<Vec<(TopicName, Retain)>> {
        self.0.get_message(filter).await
    }

    async fn count(&self) -> isize {
        self.0.count().await
    }

    async fn max(&self) -> isize {
        self.0.max().await
    }
}
