//! Static transforms as `/tf_static` publishes them (tf2: each transform places a child frame
//! in its parent; the frames form a tree), and the chain between any two frames of one tree.

use std::collections::HashMap;

use nalgebra::Isometry3;

/// The static frame tree.
#[derive(Clone, Debug, Default)]
pub struct StaticTransforms {
    /// child → (parent, maps child points into the parent).
    parents: HashMap<String, (String, Isometry3<f64>)>,
}

/// tf2 frame names carry no leading slash (REP 105); accept one as tf2 does.
fn frame(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

/// The most frames a chain may climb: deeper means a cycle in what was published.
const MAX_DEPTH: usize = 64;

impl StaticTransforms {
    /// Records `child`'s pose in `parent`; a later transform of the same child replaces it
    /// (as a republished static transform does).
    pub fn insert(&mut self, parent: &str, child: &str, child_to_parent: Isometry3<f64>) {
        self.parents.insert(
            frame(child).to_string(),
            (frame(parent).to_string(), child_to_parent),
        );
    }

    /// The frames from `name` up to its tree's root, each with the transform mapping `name`'s
    /// points into it.
    fn chain(&self, name: &str) -> Vec<(String, Isometry3<f64>)> {
        let mut out = vec![(frame(name).to_string(), Isometry3::identity())];
        while out.len() <= MAX_DEPTH {
            let (current, pose) = out.last().expect("starts non-empty");
            match self.parents.get(current) {
                Some((parent, to_parent)) => {
                    let pose = to_parent * pose;
                    out.push((parent.clone(), pose));
                }
                None => break,
            }
        }
        out
    }

    /// The transform mapping points of `source` into `target`, through their nearest common
    /// ancestor; `None` while the two are not connected.
    pub fn lookup(&self, target: &str, source: &str) -> Option<Isometry3<f64>> {
        let up_from_source = self.chain(source);
        let up_from_target = self.chain(target);
        up_from_target
            .iter()
            .find_map(|(ancestor, target_to_ancestor)| {
                up_from_source
                    .iter()
                    .find(|(name, _)| name == ancestor)
                    .map(|(_, source_to_ancestor)| {
                        target_to_ancestor.inverse() * source_to_ancestor
                    })
            })
    }
}
