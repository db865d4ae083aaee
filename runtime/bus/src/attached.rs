//! The runtime attached to the embedded broker inside the same process: device messages
//! are taken from the broker's publish hook and answers are routed by the broker's own
//! router, without an MQTT client, a loopback socket or a second encoding.
//!
//! What a device sees is unchanged: the broker still acknowledges its QoS 1 publish,
//! delivers the answer with QoS 1 and keeps last wills and retained messages. What the
//! runtime gives up is nothing: in this mode the broker lives and dies with the runtime,
//! so the broker's queue for a TCP client would not outlive a crash either. A device that
//! gets no answer sends again with the same `event_id`, and the journal answers it.
//!
//! Backpressure: the hook waits while the runtime's inbox is full, which holds back the
//! publishing device's session (the broker stops reading from that socket) instead of
//! dropping anything.

use std::sync::Arc;

use async_trait::async_trait;
use bytestring::ByteString;
use rmqtt::codec::types::QoS;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::session::SessionState;
use rmqtt::types::{CodecPublish, From, Id, Publish};
use tokio::sync::mpsc;

use super::{BusError, Delivery, Topic};

/// The client id the runtime's answers carry as their origin in the broker.
const ORIGIN: &str = "venue-edge";

/// The runtime's side of an in-process attachment. Cheap to clone.
#[derive(Clone)]
pub struct Attachment {
    scx: ServerContext,
    origin: From,
}

impl Attachment {
    /// Registers the intake on `scx`: from now on every device message of `zone` the
    /// broker receives is also delivered on the returned receiver.
    /// With `owners_only`, a message is taken only from the device whose topic it is (the
    /// broker runs this hook before its ACL check, which then refuses the message).
    pub async fn attach(
        scx: &ServerContext,
        zone: &str,
        inbox_len: usize,
        owners_only: bool,
    ) -> (Attachment, mpsc::Receiver<Delivery>) {
        let (tx, rx) = mpsc::channel(inbox_len);
        let register = scx.extends.hook_mgr().register();
        register
            .add(
                Type::MessagePublish,
                Box::new(Intake {
                    zone: zone.into(),
                    inbox: tx,
                    owners_only,
                }),
            )
            .await;
        register.start().await;
        let id = Id::new(scx.node.id(), 0, None, None, ByteString::from(ORIGIN), None);
        let attachment = Attachment {
            scx: scx.clone(),
            origin: From::from_system(id),
        };
        (attachment, rx)
    }

    /// Routes a QoS 1 message to its subscribers (none is not an error: a device that
    /// is away gets its answer from the journal when it asks again).
    pub async fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), BusError> {
        let publish = Publish::from(CodecPublish {
            dup: false,
            retain,
            qos: QoS::AtLeastOnce,
            topic: ByteString::from(topic),
            packet_id: None,
            payload: payload.into(),
            properties: None,
        });
        SessionState::forwards(&self.scx, self.origin.clone(), publish, false, None)
            .await
            .map_err(|e| BusError::Route(e.to_string()))
    }
}

/// The publish hook: copies device messages of the zone into the runtime's inbox and
/// lets the broker route them on as usual (a monitoring client subscribed to the zone
/// still sees them).
struct Intake {
    zone: Arc<str>,
    inbox: mpsc::Sender<Delivery>,
    owners_only: bool,
}

#[async_trait]
impl Handler for Intake {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        if let Parameter::MessagePublish(_, from, publish) = param
            && let Some(topic) = Topic::parse(&self.zone, &publish.topic)
            && (!self.owners_only || from.id.username_ref() == topic.device())
        {
            let delivery = Delivery {
                topic,
                payload: publish.payload.clone(),
                ack: None,
            };
            // Fails only once the runtime stopped taking messages (shutdown): the
            // device, unanswered, sends again to the next run.
            let _ = self.inbox.send(delivery).await;
        }
        (true, acc)
    }
}
