//! `rtseg node`: the ROS 2 node. Also reads the ROS arguments `ros2 launch`/`ros2 run` append
//! (`--ros-args -r __node:=NAME --params-file FILE`).

use std::path::PathBuf;
use std::process::ExitCode;

use rtseg::backend::{self, BackendKind};
use rtseg::ros::args::{NodeIdentity, RosArgs};
use rtseg::ros::params::TransportKind;
use rtseg::source::ModelSource;

#[derive(clap::Args)]
pub struct Args {
    /// ROS 2 parameter file (`<node>: ros__parameters: …`, `/**:` for any node) [default: the
    /// `--ros-args --params-file` ones, else launch/rtseg.params.yaml in the working
    /// directory, else the one installed with rtseg (share/rtseg/launch) or beside its
    /// checkout]. Given here, it comes before any `--params-file` of the ROS arguments, which
    /// then override it.
    #[arg(long)]
    params_file: Option<PathBuf>,
    /// Print the node's fully qualified name, its parameters as resolved from the files and
    /// `-p` overrides, and its topics after remapping, as JSON; then exit.
    #[arg(long)]
    print_params: bool,
}

/// Refused before the backend loads, when the build has no zenoh transport.
const NO_ZENOH: &str = "transport: zenoh needs rtseg built with `--features zenoh`";

pub fn run(args: Args, ros_args: &[String]) -> anyhow::Result<ExitCode> {
    let ros = RosArgs::parse(ros_args).map_err(anyhow::Error::msg)?;
    let mut files: Vec<PathBuf> = args.params_file.into_iter().collect();
    files.extend(ros.params_files);
    if files.is_empty() {
        files.push(default_params_file()?);
    }
    let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    eprintln!("parameters: {}", shown.join(", "));
    let identity = NodeIdentity::new(
        ros.namespace.as_deref().unwrap_or("/"),
        ros.node_name.as_deref().unwrap_or("rtseg"),
    );
    let mut file = rtseg::ros::params::resolve(&files, &ros.overrides, &identity)?;
    file.remaps = ros.remaps;
    if args.print_params {
        println!("{}", rtseg::node::describe(&file));
        return Ok(ExitCode::SUCCESS);
    }
    let discovery = rtseg::ros::dds::Discovery::from_env()?;
    if file.params.transport == TransportKind::Zenoh && !cfg!(feature = "zenoh") {
        anyhow::bail!(NO_ZENOH);
    }
    let source = ModelSource::resolve(
        &file.params.model,
        file.params.dataset,
        None,
        file.params.weights(),
    )?;
    let mut config = file.params.backend_config();
    // Fail on a bad model, backend, ONNX or weight file before joining the ROS graph (and build
    // a missing TensorRT engine now rather than with the first frame).
    let mut probe = backend::open(&config, &source)?;
    let backend_name = probe.io().backend;
    // `auto` is decided once: the workers and /diagnostics use what it chose.
    config.kind = <BackendKind as clap::ValueEnum>::from_str(backend_name, false)
        .map_err(anyhow::Error::msg)?;
    file.params.backend = config.kind;
    let p = &file.params;
    if p.build_only {
        eprintln!("build_only: the {backend_name} backend is ready; exiting");
        return Ok(ExitCode::SUCCESS);
    }
    expected_rate(probe.as_mut(), config.network_size, p.workers);
    drop(probe);
    super::catch_ctrl_c();
    // Announced once the transport is up, so a node that cannot reach its network never
    // says it runs.
    let announce = |reach: &str| {
        eprintln!(
            "rtseg node {} on ROS domain {} ({reach}): {} camera(s), backend {backend_name}",
            file.node.fully_qualified(),
            discovery.domain_id,
            file.params.cameras.len(),
        )
    };
    let factory = || backend::open(&config, &source);
    let name = file.node.fully_qualified();
    let stop = &super::INTERRUPTED;
    match file.params.transport {
        TransportKind::Dds => {
            let mut transport = rtseg::ros::dds::DdsTransport::new(&discovery, &file.node)?;
            announce(match discovery.localhost_only {
                true => "DDS, localhost only",
                false => "DDS",
            });
            rtseg::node::run(file, &mut transport, &factory, stop)?;
        }
        #[cfg(feature = "zenoh")]
        TransportKind::Zenoh => {
            let (domain, z) = (discovery.domain_id, &file.params.zenoh);
            let mut transport = rtseg::ros::zenoh::ZenohTransport::new(z, domain, &file.node)?;
            announce(&format!("zenoh {}, connect {:?}", z.mode.name(), z.connect));
            rtseg::node::run(file, &mut transport, &factory, stop)?;
        }
        #[cfg(not(feature = "zenoh"))]
        TransportKind::Zenoh => anyhow::bail!(NO_ZENOH),
    }
    eprintln!("rtseg node {name}: stopped");
    Ok(ExitCode::SUCCESS)
}

/// The shipped parameter file: `launch/rtseg.params.yaml` here, else in the install's or the
/// checkout's data folders.
///
/// # Errors
/// None of them exists; the message lists every place looked at.
fn default_params_file() -> anyhow::Result<PathBuf> {
    const NAME: &str = "rtseg.params.yaml";
    let mut places = vec![PathBuf::from("launch").join(NAME)];
    places.extend(
        rtseg::source::data_dirs("launch")
            .into_iter()
            .map(|d| d.join(NAME)),
    );
    places.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        let looked: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
        anyhow::anyhow!(
            "no parameter file given and none found (looked in {}); pass --params-file FILE",
            looked.join(", ")
        )
    })
}

/// Logs the mask rate to expect on this machine, from a few network calls at the network
/// size (a 360×480 frame when the node runs at each frame's own size) with the threads one
/// worker gets; the workers run their calls side by side.
fn expected_rate(
    segmenter: &mut dyn rtseg::pipeline::Segmenter,
    size: Option<(u32, u32)>,
    workers: usize,
) {
    let (h, w) = size.unwrap_or((360, 480));
    match rtseg::bench::run(segmenter, [1, h as usize, w as usize], 1, 5, 0) {
        Ok(report) => eprintln!(
            "expected: ~{:.0} masks/s ({workers} worker(s), {:.0} ms per {w}x{h} network call \
             with {}, measured now); a faster camera is kept up with by dropping frames: each \
             mask is of the newest frame, so latency stays at about one call",
            workers as f64 * 1e3 / report.p50_ms.max(1e-3),
            report.p50_ms,
            report.backend
        ),
        Err(e) => eprintln!("expected rate unknown: {e:#}"),
    }
}
