//! The zenoh transport of the node service: ROS 2 as rmw_zenoh_cpp (Jazzy 0.2.x, zenoh 1.x)
//! puts it on the wire, through the `zenoh` crate directly.
//!
//! - Data key expression: `<domain>/<topic without its leading '/'>/<type>/<hash>`, the type as
//!   `sensor_msgs::msg::dds_::Image_` and the hash as `RIHS01_<hex>` ([`super::type_hash`]).
//! - Payload: the CDR sample a DDS writer sends (encapsulation `00 01 00 00`, little endian).
//! - Attachment (33 bytes): sequence number (i64 LE, from 1 per publisher), source timestamp
//!   (i64 LE, ns since the Unix epoch), then the publisher's 16-byte GID as a sequence
//!   (length byte `0x10`, zenoh-ext's serialisation of a `std::vector<uint8_t>`).
//! - Liveliness tokens, which `ros2 node list` / `ros2 topic list` over rmw_zenoh read:
//!   `@ros2_lv/<domain>/<zid>/<node id>/<entity id>/<NN|MP|MS>/<enclave>/<namespace>/<node>`
//!   (+ `/<topic>/<type>/<hash>/<qos>` for publishers and subscriptions), names with `/` as
//!   `%`, QoS as `<reliability>:<durability>:<history>,<depth>:<deadline s>,<ns>:,:,,` with
//!   rmw's enum values.
//!
//! Transient local is not emulated (rmw_zenoh does it with zenoh-ext's advanced publisher
//! cache): a `label_info` subscriber that joins after the node misses it.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use ::zenoh::Wait;
use ::zenoh::liveliness::LivelinessToken;
use ::zenoh::pubsub::{Publisher, Subscriber};
use byteorder::LittleEndian;
use sha2::{Digest, Sha256};

use super::args::NodeIdentity;
use super::msgs::{Log, RosMessage, Time};
use super::params::{QosPreset, ZenohMode, ZenohParams};
use super::type_hash::rihs01;
use crate::node::transport::{Handler, Outlet, Qos, Transport};

/// CDR, little endian: the encapsulation header of every payload.
const CDR_LE: [u8; 4] = [0x00, 0x01, 0x00, 0x00];

/// The wire names of a message type: `(dds type name, RIHS01 hash)`.
fn wire_type<M: RosMessage>() -> anyhow::Result<(String, String)> {
    let hash = rihs01(&M::type_name())?;
    Ok((format!("{}::msg::dds_::{}_", M::PACKAGE, M::NAME), hash))
}

/// A ROS name in a liveliness token: every `/` as `%` (`/` alone is `%`).
fn mangle(name: &str) -> String {
    name.replace('/', "%")
}

/// A QoS as rmw_zenoh writes it into liveliness tokens (rmw's enum values: reliable 1, best
/// effort 2; transient local 1, volatile 2; keep last 1).
fn qos_token(qos: Qos) -> String {
    let (reliability, durability, depth, deadline) = match qos {
        Qos::Stream {
            preset: QosPreset::SensorData,
            deadline,
        } => (2, 2, 5, deadline),
        Qos::Stream {
            preset: QosPreset::Default,
            deadline,
        } => (1, 2, 10, deadline),
        Qos::Latched { depth } => (1, 1, depth, None),
    };
    let deadline = deadline.map_or(",".to_string(), |d| {
        format!("{},{}", d.as_secs(), d.subsec_nanos())
    });
    format!("{reliability}:{durability}:1,{depth}:{deadline}:,:,,")
}

/// The attachment rmw_zenoh sends with each sample.
fn attachment(sequence: i64, gid: &[u8; 16]) -> Vec<u8> {
    let stamp = Time::now();
    let nanos = i64::from(stamp.sec) * 1_000_000_000 + i64::from(stamp.nanosec);
    let mut bytes = Vec::with_capacity(33);
    bytes.extend(sequence.to_le_bytes());
    bytes.extend(nanos.to_le_bytes());
    bytes.push(16);
    bytes.extend(gid);
    bytes
}

/// A message's bytes on the wire.
fn encode<M: RosMessage>(message: &M) -> Result<Vec<u8>, String> {
    let body = cdr_encoding::to_vec::<M, LittleEndian>(message).map_err(|e| e.to_string())?;
    Ok([CDR_LE.as_slice(), &body].concat())
}

/// A sample's bytes as a message.
///
/// # Errors
/// Too short for the encapsulation header, not little-endian CDR, or not a valid `M`.
pub fn decode<M: RosMessage>(payload: &[u8]) -> Result<M, String> {
    let (header, body) = payload
        .split_at_checked(4)
        .ok_or_else(|| format!("a {}-byte sample has no CDR header", payload.len()))?;
    if header[..2] != CDR_LE[..2] {
        return Err(format!(
            "sample encapsulation {:02x}{:02x} is not little-endian CDR (0001)",
            header[0], header[1]
        ));
    }
    cdr_encoding::from_bytes::<M, LittleEndian>(body)
        .map(|(m, _)| m)
        .map_err(|e| format!("undecodable sample: {e}"))
}

/// One declared publisher with its rmw_zenoh identity.
struct Endpoint {
    publisher: Publisher<'static>,
    gid: [u8; 16],
    sequence: AtomicI64,
}

/// A typed outlet over an [`Endpoint`].
struct ZenohOutlet<M> {
    endpoint: Arc<Endpoint>,
    _message: PhantomData<fn(M)>,
}

impl<M: RosMessage> Outlet<M> for ZenohOutlet<M> {
    fn publish(&self, message: M) -> Result<(), String> {
        let e = &self.endpoint;
        let sequence = e.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        e.publisher
            .put(encode(&message)?)
            .attachment(attachment(sequence, &e.gid))
            .wait()
            .map_err(|err| err.to_string())
    }
}

/// A ROS 2 node on zenoh, as rmw_zenoh_cpp makes one: one session, a liveliness token for the
/// node and for each publisher and subscription.
pub struct ZenohTransport {
    session: ::zenoh::Session,
    domain: u16,
    /// `@ros2_lv/<domain>/<zid>/<node id>`, the start of every token of this node.
    token_prefix: String,
    /// `<enclave>/<namespace>/<node>`, mangled.
    node_names: String,
    next_entity: u64,
    tokens: Vec<LivelinessToken>,
    subscribers: Vec<Subscriber<()>>,
    /// Publishers by topic, to ask zenoh whether anyone matches.
    publishers: HashMap<String, Arc<Endpoint>>,
    rosout: Option<Box<dyn Outlet<Log>>>,
    logger: String,
}

impl ZenohTransport {
    /// Opens a zenoh session as `params` say and declares the node `identity` on ROS domain
    /// `domain` (its liveliness token and /rosout).
    ///
    /// # Errors
    /// An endpoint zenoh cannot use, or a session that cannot open (e.g. a client whose
    /// router is unreachable).
    pub fn new(params: &ZenohParams, domain: u16, identity: &NodeIdentity) -> anyhow::Result<Self> {
        let mut config = ::zenoh::Config::default();
        let json = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
        let mode = params.mode.name();
        let set = |config: &mut ::zenoh::Config, key: &str, value: String| {
            config
                .insert_json5(key, &value)
                .map_err(|e| anyhow::anyhow!("zenoh {key} = {value}: {e}"))
        };
        set(&mut config, "mode", format!("{mode:?}"))?;
        set(&mut config, "connect/endpoints", json(&params.connect))?;
        if params.mode == ZenohMode::Peer {
            set(&mut config, "listen/endpoints", json(&params.listen))?;
        }
        // rmw_zenoh's default: discovery through the router, never multicast on the LAN.
        set(&mut config, "scouting/multicast/enabled", "false".into())?;
        let session = ::zenoh::open(config).wait().map_err(|e| {
            // zenoh's messages end with the source file and line they came from: not the user's.
            let message = e.to_string();
            let message = message.split(" at /").next().unwrap_or_default().trim_end();
            anyhow::anyhow!(
                "cannot open a zenoh session ({mode}, connect {:?}): {message}; is a zenoh \
                 router running there (zenohd, or `ros2 run rmw_zenoh_cpp rmw_zenohd`)?",
                params.connect
            )
        })?;
        // A peer opens without a router and keeps trying in the background: say so, since
        // nothing flows until one is reached.
        let routers = session.info().routers_zid().wait().count();
        if params.mode == ZenohMode::Peer && routers == 0 {
            eprintln!(
                "warning: no zenoh router reached at {:?} yet; the node keeps trying (start \
                 zenohd, or `ros2 run rmw_zenoh_cpp rmw_zenohd`, there)",
                params.connect
            );
        }
        let zid = session.zid().to_string();
        let token_prefix = format!("@ros2_lv/{domain}/{zid}/0");
        let node_names = format!("%/{}/{}", mangle(&identity.namespace), identity.name);
        let node_token = format!("{token_prefix}/0/NN/{node_names}");
        let token = session
            .liveliness()
            .declare_token(node_token.clone())
            .wait()
            .map_err(|e| anyhow::anyhow!("liveliness token {node_token}: {e}"))?;
        let mut transport = Self {
            session,
            domain,
            token_prefix,
            node_names,
            next_entity: 1,
            tokens: vec![token],
            subscribers: Vec::new(),
            publishers: HashMap::new(),
            rosout: None,
            logger: identity
                .fully_qualified()
                .trim_start_matches('/')
                .replace('/', "."),
        };
        let rosout = transport.advertise::<Log>("/rosout", Qos::Latched { depth: 1000 })?;
        transport.rosout = Some(rosout);
        Ok(transport)
    }

    /// Declares the liveliness token of an endpoint (`MP` publisher, `MS` subscription) and
    /// returns the data key expression it stands for.
    fn declare_entity<M: RosMessage>(
        &mut self,
        kind: &str,
        topic: &str,
        qos: Qos,
    ) -> anyhow::Result<(String, String)> {
        let (type_name, hash) = wire_type::<M>()?;
        let relative = topic.trim_start_matches('/');
        if relative.is_empty() || !topic.starts_with('/') {
            anyhow::bail!("topic {topic:?} is not a fully qualified name");
        }
        let key = format!("{}/{relative}/{type_name}/{hash}", self.domain);
        let entity = self.next_entity;
        self.next_entity += 1;
        let token = format!(
            "{}/{entity}/{kind}/{}/{}/{type_name}/{hash}/{}",
            self.token_prefix,
            self.node_names,
            mangle(topic),
            qos_token(qos)
        );
        let declared = self
            .session
            .liveliness()
            .declare_token(token.clone())
            .wait()
            .map_err(|e| anyhow::anyhow!("liveliness token {token}: {e}"))?;
        self.tokens.push(declared);
        Ok((key, token))
    }
}

impl Transport for ZenohTransport {
    fn advertise<M: RosMessage>(
        &mut self,
        topic: &str,
        qos: Qos,
    ) -> anyhow::Result<Box<dyn Outlet<M>>> {
        let (key, token) = self.declare_entity::<M>("MP", topic, qos)?;
        let publisher = self
            .session
            .declare_publisher(key.clone())
            .wait()
            .map_err(|e| anyhow::anyhow!("zenoh publisher {key}: {e}"))?;
        let digest = Sha256::digest(token.as_bytes());
        let mut gid = [0u8; 16];
        gid.copy_from_slice(&digest[..16]);
        let endpoint = Arc::new(Endpoint {
            publisher,
            gid,
            sequence: AtomicI64::new(0),
        });
        self.publishers.insert(topic.to_string(), endpoint.clone());
        Ok(Box::new(ZenohOutlet {
            endpoint,
            _message: PhantomData,
        }))
    }

    fn subscribe<M: RosMessage>(
        &mut self,
        topic: &str,
        qos: Qos,
        handler: Handler<M>,
    ) -> anyhow::Result<()> {
        let (key, _) = self.declare_entity::<M>("MS", topic, qos)?;
        // zenoh calls back on its own threads, one sample at a time per subscriber.
        let handler = std::sync::Mutex::new(handler);
        let subscriber = self
            .session
            .declare_subscriber(key.clone())
            .callback(move |sample| {
                let message = decode::<M>(&sample.payload().to_bytes());
                (handler.lock().unwrap_or_else(|e| e.into_inner()))(message);
            })
            .wait()
            .map_err(|e| anyhow::anyhow!("zenoh subscriber {key}: {e}"))?;
        self.subscribers.push(subscriber);
        Ok(())
    }

    fn subscriber_count(&self, topic: &str) -> usize {
        let Some(endpoint) = self.publishers.get(topic) else {
            return 0;
        };
        // zenoh says whether any subscriber matches, not how many.
        let status = endpoint.publisher.matching_status().wait();
        status.map_or(0, |s| usize::from(s.matching()))
    }

    fn log_warning(&mut self, line: &str) {
        if let Some(rosout) = &self.rosout {
            let _ = rosout.publish(Log {
                stamp: Time::now(),
                level: 30,
                name: self.logger.clone(),
                msg: line.to_string(),
                ..Log::default()
            });
        }
    }

    fn spin_for(&mut self, duration: Duration) {
        // zenoh delivers samples on its own threads; nothing to drive here.
        std::thread::sleep(duration);
    }
}
