//! What the node service needs from a middleware: advertise and subscribe typed topics,
//! count a topic's subscribers, log to /rosout, and run its event loop for a while. The DDS
//! transport (`crate::ros::dds`, ros2-client) implements it; the service above knows only ROS
//! message types and topic names, never the wire.

use std::time::Duration;

use crate::ros::msgs::RosMessage;
use crate::ros::params::QosPreset;

/// An endpoint's quality of service, in ROS terms (rmw's QoS profile, reduced to what the node
/// uses); each transport maps it onto its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qos {
    /// A stream of frames or results at a parameter file's preset — `sensor_data` (best
    /// effort, keep last 5) or `default` (reliable, keep last 10) — with an optional deadline
    /// (the longest promised gap between two messages).
    Stream {
        preset: QosPreset,
        deadline: Option<Duration>,
    },
    /// Reliable and transient local, keep last `depth`: a subscriber that joins late still gets
    /// the newest `depth` messages (`label_info`, and `/tf_static` as tf2 subscribes to it).
    Latched { depth: usize },
}

impl Qos {
    /// A stream at `preset` without a deadline.
    pub fn stream(preset: QosPreset) -> Self {
        Qos::Stream {
            preset,
            deadline: None,
        }
    }
}

/// An advertised topic: sends finished messages. Shared by the worker threads.
pub trait Outlet<M>: Send + Sync {
    /// Sends one message.
    ///
    /// # Errors
    /// The transport refused or failed to send it, described; the message is dropped (the next
    /// frame's replaces it).
    fn publish(&self, message: M) -> Result<(), String>;
}

/// Called with every sample a subscription delivers, or with a description of one that could
/// not be decoded. Runs on the transport's thread: it must only hand the sample on.
pub type Handler<M> = Box<dyn FnMut(Result<M, String>) + Send>;

/// A middleware the node service publishes and subscribes through.
pub trait Transport {
    /// Advertises `topic` (fully qualified, remapped) for messages of type `M`.
    ///
    /// # Errors
    /// An invalid topic name, or the middleware refused the endpoint.
    fn advertise<M: RosMessage>(
        &mut self,
        topic: &str,
        qos: Qos,
    ) -> anyhow::Result<Box<dyn Outlet<M>>>;

    /// Subscribes to `topic` (fully qualified, remapped); `handler` gets each sample.
    ///
    /// # Errors
    /// An invalid topic name, or the middleware refused the endpoint.
    fn subscribe<M: RosMessage>(
        &mut self,
        topic: &str,
        qos: Qos,
        handler: Handler<M>,
    ) -> anyhow::Result<()>;

    /// How many subscribers the transport currently sees on `topic` (an output the node only
    /// computes while someone listens).
    fn subscriber_count(&self, topic: &str) -> usize;

    /// Logs a warning on `/rosout` as the node.
    fn log_warning(&mut self, line: &str);

    /// Runs the transport's event loop (delivering samples to handlers) for `duration`.
    fn spin_for(&mut self, duration: Duration);
}
