//! The ROS arguments that `ros2 launch` and `ros2 run` append to a node's command line
//! (`--ros-args -r __node:=rtseg`, `--params-file FILE`, …). `launch_ros` always adds a
//! `--ros-args` block, so `rtseg node` must read it to start from a launch file at all.

use std::path::PathBuf;

/// What rtseg takes from the ROS arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RosArgs {
    /// `-r __node:=NAME` (or `__name:=`): the node's name in the ROS graph.
    pub node_name: Option<String>,
    /// `--params-file FILE`.
    pub params_file: Option<PathBuf>,
}

/// Splits a command line into the program's own arguments and the ROS arguments: each
/// `--ros-args` starts a ROS block, which runs to a lone `--` or the end.
pub fn split(args: impl IntoIterator<Item = String>) -> (Vec<String>, Vec<String>) {
    let (mut own, mut ros) = (Vec::new(), Vec::new());
    let mut in_ros = false;
    for arg in args {
        match arg.as_str() {
            "--ros-args" => in_ros = true,
            "--" if in_ros => in_ros = false,
            _ if in_ros => ros.push(arg),
            _ => own.push(arg),
        }
    }
    (own, ros)
}

impl RosArgs {
    /// Reads the ROS arguments rtseg supports; any other is an error naming it, rather than
    /// a setting silently not applied.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut parsed = Self::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| format!("ROS argument {arg} needs a value"))
            };
            match arg.as_str() {
                "-r" | "--remap" => {
                    let rule = value()?;
                    if let Some(name) = rule
                        .strip_prefix("__node:=")
                        .or_else(|| rule.strip_prefix("__name:="))
                    {
                        parsed.node_name = Some(name.to_string());
                    } else {
                        return Err(format!(
                            "ROS remapping {rule:?} is not supported: set camera namespaces \
                             (cameras:) and output_namespace: in the parameter file"
                        ));
                    }
                }
                "--params-file" => parsed.params_file = Some(PathBuf::from(value()?)),
                other => {
                    return Err(format!(
                        "ROS argument {other:?} is not supported (rtseg node reads \
                         -r __node:=NAME and --params-file FILE; everything else goes in \
                         the parameter file)"
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn launch_ros_command_lines_split_and_parse() {
        // What launch_ros runs for <node pkg="rtseg" exec="rtseg" name="rtseg" args="node …">.
        let line = strings(&[
            "rtseg",
            "node",
            "--params-file",
            "p.yaml",
            "--ros-args",
            "-r",
            "__node:=front_seg",
        ]);
        let (own, ros) = split(line);
        assert_eq!(own, strings(&["rtseg", "node", "--params-file", "p.yaml"]));
        let parsed = RosArgs::parse(&ros).unwrap();
        assert_eq!(parsed.node_name.as_deref(), Some("front_seg"));
        assert_eq!(parsed.params_file, None);
        // Several blocks, `--` back to own arguments, parameters passed the ROS way.
        let (own, ros) = split(strings(&[
            "rtseg",
            "--ros-args",
            "--params-file",
            "a.yaml",
            "--",
            "node",
            "--ros-args",
        ]));
        assert_eq!(own, strings(&["rtseg", "node"]));
        let parsed = RosArgs::parse(&ros).unwrap();
        assert_eq!(parsed.params_file, Some(PathBuf::from("a.yaml")));
    }

    #[test]
    fn unsupported_ros_arguments_are_named() {
        for (args, named) in [
            (
                &["-r", "image:=/cam/image_raw"][..],
                "image:=/cam/image_raw",
            ),
            (&["-r", "__ns:=/front"], "__ns:=/front"),
            (&["-p", "workers:=2"], "-p"),
            (&["--log-level", "debug"], "--log-level"),
            (&["-r"], "needs a value"),
        ] {
            let err = RosArgs::parse(&strings(args)).unwrap_err();
            assert!(err.contains(named), "{err}");
        }
    }
}
