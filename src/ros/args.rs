//! The ROS arguments that `ros2 launch` and `ros2 run` append to a node's command line, read
//! by rcl's rules (ROS 2 design: "ROS command line arguments"; rcl `rcl_parse_arguments`):
//! `-r/--remap [node:]from:=to` (with `__node`, `__name`, `__ns`), `-p/--param
//! [node:]name:=value`, `--params-file FILE` (repeatable, later files win). `launch_ros`
//! always adds a `--ros-args` block, so `rtseg node` must read it to start from a launch file.

use std::path::PathBuf;

/// What rtseg takes from the ROS arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RosArgs {
    /// `-r __node:=NAME` (or `__name:=`): the node's name in the ROS graph.
    pub node_name: Option<String>,
    /// `-r __ns:=/NAMESPACE`: the node's namespace.
    pub namespace: Option<String>,
    /// `--params-file FILE`, in order: a later file overrides an earlier one.
    pub params_files: Vec<PathBuf>,
    /// `-p [node:]name:=value`, in order; they override every file.
    pub overrides: Vec<Rule>,
    /// `-r [node:]from:=to` topic remappings, in order: the first that matches applies.
    pub remaps: Vec<Rule>,
}

/// A `[node:]left:=right` rule; `node` limits it to the node of that name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub node: Option<String>,
    pub left: String,
    pub right: String,
}

impl Rule {
    fn parse(text: &str) -> Result<Self, String> {
        let (lhs, right) = text
            .split_once(":=")
            .ok_or_else(|| format!("ROS rule {text:?} needs the form [node:]name:=value"))?;
        let (node, left) = match lhs.split_once(':') {
            Some((node, left)) => (Some(node.to_string()), left),
            None => (None, lhs),
        };
        if left.is_empty() {
            return Err(format!("ROS rule {text:?} has an empty name"));
        }
        Ok(Rule {
            node,
            left: left.to_string(),
            right: right.to_string(),
        })
    }

    /// The rule applies to the node named `node_name`.
    pub fn applies_to(&self, node_name: &str) -> bool {
        self.node.as_deref().is_none_or(|n| n == node_name)
    }
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
                    let rule = Rule::parse(value()?)?;
                    match rule.left.as_str() {
                        "__node" | "__name" => parsed.node_name = Some(rule.right),
                        "__ns" => parsed.namespace = Some(rule.right),
                        _ => parsed.remaps.push(rule),
                    }
                }
                "-p" | "--param" => parsed.overrides.push(Rule::parse(value()?)?),
                "--params-file" => parsed.params_files.push(PathBuf::from(value()?)),
                other => {
                    return Err(format!(
                        "ROS argument {other:?} is not supported (rtseg node reads -r/--remap, \
                         -p/--param and --params-file)"
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

/// A node's name in the graph: its namespace and base name (`/ns/name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeIdentity {
    pub namespace: String,
    pub name: String,
}

impl NodeIdentity {
    /// `name` in `namespace` (`""` or `"/"` = the root; a relative one is made absolute).
    pub fn new(namespace: &str, name: &str) -> Self {
        let trimmed = namespace.trim_matches('/');
        NodeIdentity {
            namespace: format!("/{trimmed}"),
            name: name.to_string(),
        }
    }

    /// `/ns/name`.
    pub fn fully_qualified(&self) -> String {
        join(&self.namespace, &self.name)
    }

    /// A topic name made absolute as rcl expands it: `/x` stays, `~/x` is under the node's
    /// fully qualified name, `x` is under its namespace.
    pub fn expand(&self, topic: &str) -> String {
        if topic.starts_with('/') {
            topic.to_string()
        } else if let Some(private) = topic.strip_prefix('~') {
            join(&self.fully_qualified(), private.trim_start_matches('/'))
        } else {
            join(&self.namespace, topic)
        }
    }

    /// The topic a node subscribes or publishes for `topic` after the remapping rules: the
    /// first rule for this node whose expanded left side equals the expanded topic gives
    /// its expanded right side (rcl `rcl_remap_topic_name`).
    pub fn remap(&self, topic: &str, rules: &[Rule]) -> String {
        let topic = self.expand(topic);
        rules
            .iter()
            .filter(|r| r.applies_to(&self.name))
            .find(|r| self.expand(&r.left) == topic)
            .map_or(topic, |r| self.expand(&r.right))
    }
}

fn join(base: &str, name: &str) -> String {
    format!("{}/{name}", base.trim_end_matches('/'))
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
            "-r",
            "__ns:=/front",
            "-p",
            "workers:=3",
            "-r",
            "rtseg:image:=image_raw",
        ]);
        let (own, ros) = split(line);
        assert_eq!(own, strings(&["rtseg", "node", "--params-file", "p.yaml"]));
        let parsed = RosArgs::parse(&ros).unwrap();
        assert_eq!(parsed.node_name.as_deref(), Some("front_seg"));
        assert_eq!(parsed.namespace.as_deref(), Some("/front"));
        assert_eq!(parsed.overrides[0].left, "workers");
        assert_eq!(parsed.remaps[0].node.as_deref(), Some("rtseg"));
        // Several blocks, `--` back to own arguments, parameters passed the ROS way.
        let (own, ros) = split(strings(&[
            "rtseg",
            "--ros-args",
            "--params-file",
            "a.yaml",
            "--",
            "node",
            "--ros-args",
            "--params-file",
            "b.yaml",
        ]));
        assert_eq!(own, strings(&["rtseg", "node"]));
        let parsed = RosArgs::parse(&ros).unwrap();
        assert_eq!(
            parsed.params_files,
            [PathBuf::from("a.yaml"), "b.yaml".into()]
        );
    }

    #[test]
    fn unsupported_ros_arguments_are_named() {
        for (args, named) in [
            (&["--log-level", "debug"][..], "--log-level"),
            (&["-r"], "needs a value"),
            (&["-p", "workers=2"], "[node:]name:=value"),
            (&["-r", ":=x"], "empty name"),
        ] {
            let err = RosArgs::parse(&strings(args)).unwrap_err();
            assert!(err.contains(named), "{err}");
        }
    }
}
