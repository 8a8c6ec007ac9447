//! The DDS transport of the node service: a ROS 2 node on ros2-client/RustDDS, its topics'
//! QoS as rclpy's presets set them, subscriptions driven by a smol executor that
//! [`Transport::spin_for`] runs, and warnings on /rosout.

use std::time::Duration;

use futures::StreamExt;
use ros2_client::dds::rustdds::DomainParticipantBuilder;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{
    Context, MessageTypeName, Name, Node, NodeName, NodeOptions, Publisher, QosProfile,
};

use super::args::NodeIdentity;
use super::msgs::RosMessage;
use super::params::QosPreset;
use crate::node::transport::{Handler, Outlet, Qos, Transport};

/// How the node reaches the network, from the standard ROS 2 environment variables.
pub struct Discovery {
    pub domain_id: u16,
    pub localhost_only: bool,
}

impl Discovery {
    /// `ROS_DOMAIN_ID` (default 0) and `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST` (or the
    /// older `ROS_LOCALHOST_ONLY=1`).
    ///
    /// # Errors
    /// `ROS_DOMAIN_ID` is not a number in 0..=232.
    pub fn from_env() -> anyhow::Result<Self> {
        let domain_id = match std::env::var("ROS_DOMAIN_ID") {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|&d| d <= 232)
                .ok_or_else(|| {
                    anyhow::anyhow!("ROS_DOMAIN_ID={v:?} is not a domain id (0..=232)")
                })?,
            _ => 0,
        };
        let range = std::env::var("ROS_AUTOMATIC_DISCOVERY_RANGE").unwrap_or_default();
        let legacy = std::env::var("ROS_LOCALHOST_ONLY").is_ok_and(|v| v == "1");
        Ok(Self {
            domain_id,
            localhost_only: range.eq_ignore_ascii_case("LOCALHOST") || legacy,
        })
    }
}

/// The node's QoS as DDS policies (rclpy's `qos_profile_sensor_data` and default profiles;
/// `Latched` as tf2's static broadcaster and listener set theirs).
fn profile(qos: Qos) -> QosProfile {
    match qos {
        Qos::Stream { preset, deadline } => {
            let base = match preset {
                QosPreset::SensorData => {
                    QosProfile::subscription_default().history(History::KeepLast { depth: 5 })
                }
                QosPreset::Default => QosProfile::publisher_default()
                    .reliability_reliable(WhenFull::DEFAULT)
                    .history(History::KeepLast { depth: 10 }),
            };
            base.deadline(deadline)
        }
        Qos::Latched { depth } => QosProfile::publisher_default()
            .reliability_reliable(WhenFull::DEFAULT)
            .durability(Durability::TransientLocal)
            .history(History::KeepLast { depth }),
    }
}

/// A ROS 2 node on DDS.
pub struct DdsTransport {
    node: Node,
    executor: smol::Executor<'static>,
}

impl DdsTransport {
    /// Joins the ROS graph as `identity` (with /rosout) on the domain `discovery` names,
    /// restricted to loopback when it says localhost only.
    ///
    /// # Errors
    /// DDS could not start on the domain, or the node name is invalid.
    pub fn new(discovery: &Discovery, identity: &NodeIdentity) -> anyhow::Result<Self> {
        let mut builder = DomainParticipantBuilder::new(discovery.domain_id);
        if discovery.localhost_only {
            builder = builder.with_only_networks([std::net::Ipv4Addr::LOCALHOST]);
        }
        let participant = builder.build().map_err(|e| {
            anyhow::anyhow!("cannot start DDS on domain {}: {e:?}", discovery.domain_id)
        })?;
        let context = Context::from_domain_participant(participant)
            .map_err(|e| anyhow::anyhow!("cannot create the ROS context: {e:?}"))?;
        let mut node = context
            .new_node(
                NodeName::new(&identity.namespace, &identity.name).map_err(|e| {
                    anyhow::anyhow!("node name {:?}: {e:?}", identity.fully_qualified())
                })?,
                NodeOptions::new().enable_rosout(true),
            )
            .map_err(|e| anyhow::anyhow!("cannot create node {}: {e:?}", identity.name))?;
        let executor = smol::Executor::new();
        let spinner = node
            .spinner()
            .map_err(|e| anyhow::anyhow!("spinner: {e:?}"))?;
        executor.spawn(spinner.spin()).detach();
        Ok(Self { node, executor })
    }

    fn topic<M: RosMessage>(
        &mut self,
        name: &str,
        qos: &QosProfile,
    ) -> anyhow::Result<ros2_client::dds::rustdds::Topic> {
        let parsed = Name::parse(name).map_err(|e| anyhow::anyhow!("topic {name:?}: {e:?}"))?;
        let type_name = MessageTypeName::new(M::PACKAGE, M::NAME);
        self.node
            .create_topic(&parsed, type_name, qos)
            .map_err(|e| anyhow::anyhow!("topic {name}: {e:?}"))
    }
}

impl<M: RosMessage> Outlet<M> for Publisher<M> {
    fn publish(&self, message: M) -> Result<(), String> {
        Publisher::publish(self, message).map_err(|e| e.to_string())
    }
}

impl Transport for DdsTransport {
    fn advertise<M: RosMessage>(
        &mut self,
        topic: &str,
        qos: Qos,
    ) -> anyhow::Result<Box<dyn Outlet<M>>> {
        let dds_topic = self.topic::<M>(topic, &profile(qos))?;
        let publisher: Publisher<M> = self
            .node
            .create_publisher(&dds_topic, None)
            .map_err(|e| anyhow::anyhow!("publisher {topic}: {e:?}"))?;
        Ok(Box::new(publisher))
    }

    fn subscribe<M: RosMessage>(
        &mut self,
        topic: &str,
        qos: Qos,
        mut handler: Handler<M>,
    ) -> anyhow::Result<()> {
        let dds_topic = self.topic::<M>(topic, &profile(qos))?;
        let subscription = self
            .node
            .create_subscription::<M>(&dds_topic, None)
            .map_err(|e| anyhow::anyhow!("subscription {topic}: {e:?}"))?;
        let deliver = async move {
            let stream = subscription.async_stream();
            futures::pin_mut!(stream);
            while let Some(sample) = stream.next().await {
                handler(
                    sample
                        .map(|(m, _)| m)
                        .map_err(|e| format!("undecodable sample: {e:?}")),
                );
            }
        };
        self.executor.spawn(deliver).detach();
        Ok(())
    }

    fn subscriber_count(&self, topic: &str) -> usize {
        self.node.subscription_count(topic)
    }

    fn log_warning(&mut self, line: &str) {
        ros2_client::rosout!(self.node, ros2_client::ros2::LogLevel::Warn, "{line}");
    }

    fn spin_for(&mut self, duration: Duration) {
        smol::block_on(self.executor.run(smol::Timer::after(duration)));
    }
}
