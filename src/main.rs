//! The `rtseg` command line: parsing and dispatch; each command lives in `cli/<command>.rs`.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rtseg",
    version,
    about = "Real-time semantic segmentation: models, training, evaluation, export, inference, \
             benchmarks and a ROS 2 node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List registered models with parameter counts and GMACs (computed from the module tree).
    Models(cli::models::Args),
    /// Segment PNG/JPEG files or folders; writes <name>_mask.png and <name>_color.png.
    Infer(cli::infer::Args),
    /// Latency (p50/p90/p99), FPS and peak memory of backends on a model; with
    /// --train-config, training throughput (images/s) of a training config instead.
    Bench(cli::bench::Args),
    /// Export a model with its weights to ONNX (opset 17, BatchNorm folded, model card in the
    /// metadata).
    Export(cli::export::Args),
    /// TensorRT engines: build from an ONNX export, check against this machine, compile the
    /// CUDA kernels, report the TensorRT and GPU here.
    #[command(subcommand)]
    Engine(cli::engine::Command),
    /// Weight files: list tensor names, convert between burnpack and safetensors, initialise.
    #[command(subcommand)]
    Weights(cli::weights::Command),
    /// Train a model from a YAML config (see configs/), or resume a run.
    Train(cli::train::Args),
    /// Search an MsNet-ANAS cell genotype on a dataset (see configs/search/), or resume one.
    Search(cli::search::Args),
    /// Run the ROS 2 node: camera topics in, segmentation masks out (see launch/).
    Node(cli::node::Args),
    /// Per-class IoU, mIoU, pixel and mean class accuracy on a dataset split.
    Eval(cli::eval::Args),
}

fn run(cli: Cli, ros_args: &[String]) -> anyhow::Result<ExitCode> {
    if !ros_args.is_empty() && !matches!(cli.command, Command::Node(_)) {
        anyhow::bail!("--ros-args is only read by `rtseg node`");
    }
    match cli.command {
        Command::Models(args) => cli::models::run(args),
        Command::Infer(args) => cli::infer::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Export(args) => cli::export::run(args),
        Command::Engine(command) => cli::engine::run(command),
        Command::Weights(command) => cli::weights::run(command),
        Command::Train(args) => cli::train::run(args),
        Command::Search(args) => cli::search::run(args),
        Command::Node(args) => cli::node::run(args, ros_args),
        Command::Eval(args) => cli::eval::run(args),
    }
}

/// `rtseg models | head` and the like end quietly when the reader closes the pipe, as Unix tools
/// do: Rust ignores SIGPIPE, so without this `println!` panics on EPIPE. The node keeps Rust's
/// setting, because a peer closing one of its sockets must be an error it handles, not its end.
#[cfg(unix)]
fn end_quietly_on_closed_stdout() {
    // SAFETY: called before any thread starts; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let (args, ros_args) = rtseg::ros::args::split(std::env::args());
    let cli = Cli::parse_from(args);
    #[cfg(unix)]
    if !matches!(cli.command, Command::Node(_)) {
        end_quietly_on_closed_stdout();
    }
    match run(cli, &ros_args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `rtseg --help` and every subcommand's help read like a manual: each command and each
    /// option (positional arguments included) says what it is.
    #[test]
    fn every_command_and_option_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "rtseg", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
