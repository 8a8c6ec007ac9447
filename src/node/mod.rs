//! The node service: everything `rtseg node` does between a middleware and
//! [`crate::pipeline`], for any [`Transport`]. Transport callbacks only hand frames to
//! keep-latest slots; worker threads decode, segment, encode each output into a finished ROS
//! message and publish it on the transport's outlets; the main loop publishes diagnostics at
//! 1 Hz, tracks who listens to the colour mask and forwards warnings to /rosout. The service
//! knows ROS message types and topic names (the same over DDS and rmw_zenoh), not the wire:
//! `crate::ros::dds` is the DDS transport.

mod camera;
mod diagnostics;
mod ground;
mod topics;
pub mod transport;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use self::camera::MASK_PNG_FORMAT;
use self::camera::{Camera, Pending, process};
use self::diagnostics::diagnostics_message;
use self::ground::CameraGround;
use self::topics::CameraTopics;
pub use self::topics::describe;
use self::transport::{Outlet, Qos, Transport};
use crate::geometry::transforms::StaticTransforms;
use crate::pipeline::Segmenter;
use crate::pipeline::latest::LatestSlots;
use crate::ros::msgs::{
    Clock, DiagnosticArray, Header, LabelInfo, RosMessage, TFMessage, Time, VisionClass,
};
use crate::ros::params::{ParamsFile, QosPreset};

/// Opens a segmenter for one worker thread.
pub type BackendFactory<'a> = dyn Fn() -> anyhow::Result<Box<dyn Segmenter>> + Sync + 'a;

/// Warnings waiting for /rosout at most; more are dropped (stderr still has them).
const ROSOUT_BACKLOG: usize = 64;

/// An outlet for an output the parameter file turns on; `None` (and no topic advertised) for
/// one it turns off.
fn advertise_if<M: RosMessage>(
    transport: &mut impl Transport,
    enabled: bool,
    topic: &str,
    qos: Qos,
) -> anyhow::Result<Option<Box<dyn Outlet<M>>>> {
    enabled.then(|| transport.advertise(topic, qos)).transpose()
}

/// Runs the node described by `file` over `transport` until `stop` is set or a worker fails.
///
/// # Errors
/// The transport refused an endpoint, a ground-plane parameter is unusable, a worker could not
/// open its backend, or a worker panicked.
pub fn run(
    file: ParamsFile,
    transport: &mut impl Transport,
    make_backend: &BackendFactory<'_>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let ParamsFile {
        node: identity,
        params,
        remaps,
        calibrations,
        ..
    } = file;
    // Every topic through the node's remapping rules, as rcl resolves them.
    let name = |topic: &str| identity.remap(topic, &remaps);
    let in_qos = Qos::stream(params.input_qos);
    let out_qos = Qos::Stream {
        preset: params.output_qos,
        deadline: (params.output_deadline_ms > 0)
            .then(|| Duration::from_millis(params.output_deadline_ms)),
    };
    let slots = Arc::new(LatestSlots::<Pending>::new(params.cameras.len()));
    let (rosout, warnings) = std::sync::mpsc::sync_channel::<String>(ROSOUT_BACKLOG);
    let tf_static: Arc<Mutex<StaticTransforms>> = Arc::default();
    let mut cameras = Vec::new();
    for (index, name) in params.cameras.iter().enumerate() {
        let topics = CameraTopics::new(name, &params, &identity, &remaps);
        let ground = match params.ground.enabled {
            true => Some(CameraGround::new(
                transport,
                &params,
                calibrations[index].clone(),
                tf_static.clone(),
                (&topics, out_qos),
            )?),
            false => None,
        };
        let camera = Arc::new(Camera::new(
            transport,
            (name, &topics, &params),
            out_qos,
            ground,
            rosout.clone(),
        )?);
        camera.subscribe(transport, (&topics, in_qos), &slots, index)?;
        cameras.push(camera);
    }
    // The cameras placed by /tf_static: subscribe as tf2's static listener does (reliable,
    // transient local, so transforms published before the node started arrive too).
    let needs_tf = cameras.iter().any(|c| {
        c.ground.as_ref().is_some_and(|g| {
            g.lock()
                .unwrap_or_else(|e| e.into_inner())
                .file_pose
                .is_none()
        })
    });
    if needs_tf {
        let store = tf_static.clone();
        transport.subscribe::<TFMessage>(
            &name("/tf_static"),
            Qos::Latched { depth: 100 },
            Box::new(move |m| {
                let Ok(m) = m else { return };
                let mut tf = store.lock().unwrap_or_else(|e| e.into_inner());
                for t in m.transforms {
                    if let Some(pose) = t.transform.isometry() {
                        tf.insert(&t.header.frame_id, &t.child_frame_id, pose);
                    }
                }
            }),
        )?;
    }
    // Transient local: the outlet lives as long as the node, so late joiners get it.
    let _label_info = if params.publish.label_info {
        let label_info =
            transport.advertise::<LabelInfo>(&name("~/label_info"), Qos::Latched { depth: 1 })?;
        let class_map = params
            .dataset
            .class_names()
            .iter()
            .enumerate()
            .map(|(i, name)| VisionClass {
                class_id: i as u16,
                class_name: name.to_string(),
            })
            .collect();
        label_info
            .publish(LabelInfo {
                header: Header::default(),
                class_map,
                threshold: 0.0,
            })
            .map_err(|e| anyhow::anyhow!("label_info: {e}"))?;
        Some(label_info)
    } else {
        None
    };
    // use_sim_time: the stamps the node makes come from the newest /clock (zero before the
    // first, as ROS time is).
    let sim_clock: Arc<Mutex<Option<Time>>> = Arc::default();
    if params.use_sim_time {
        let latest = sim_clock.clone();
        transport.subscribe::<Clock>(
            &name("/clock"),
            Qos::stream(QosPreset::SensorData),
            Box::new(move |m| {
                if let Ok(m) = m {
                    *latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(m.clock);
                }
            }),
        )?;
    }
    let stamp = || match params.use_sim_time {
        true => sim_clock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_default(),
        false => Time::now(),
    };
    let diagnostics = advertise_if::<DiagnosticArray>(
        transport,
        params.publish.diagnostics,
        &name("/diagnostics"),
        Qos::stream(QosPreset::Default),
    )?;

    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut workers = Vec::new();
        for _ in 0..params.workers {
            let (slots, cameras, params) = (slots.clone(), cameras.clone(), &params);
            workers.push(scope.spawn(move || -> anyhow::Result<()> {
                let mut segmenter = make_backend()?;
                loop {
                    let taken = slots.take(Duration::from_millis(200), params.max_batch);
                    if !taken.is_empty() {
                        process(segmenter.as_mut(), params, &cameras, taken);
                    } else if slots.is_closed() {
                        break;
                    }
                }
                Ok(())
            }));
        }
        let mut next = Instant::now();
        while !stop.load(Ordering::SeqCst) && !workers.iter().any(|w| w.is_finished()) {
            if Instant::now() >= next {
                next += Duration::from_secs(1);
                for c in &cameras {
                    let wanted =
                        params.publish.color_mask && transport.subscriber_count(&c.color_topic) > 0;
                    c.color_wanted.store(wanted, Ordering::SeqCst);
                }
                if let Some(diagnostics) = &diagnostics {
                    let array =
                        diagnostics_message(&params, &identity.name, &cameras, &slots, stamp());
                    let _ = diagnostics.publish(array);
                }
            }
            for line in warnings.try_iter() {
                transport.log_warning(&line);
            }
            transport.spin_for(Duration::from_millis(50));
        }
        slots.close();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("an inference worker panicked"))??;
        }
        Ok(())
    })
}
