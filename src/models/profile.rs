//! Model statistics computed from the module tree: trainable parameter counts and
//! multiply-accumulate counts measured by running a forward pass with the MAC hook on.

use std::cell::Cell;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

thread_local! {
    static MACS: Cell<Option<u64>> = const { Cell::new(None) };
}

pub(crate) fn is_active() -> bool {
    MACS.with(|m| m.get().is_some())
}

pub(crate) fn add_macs(n: u64) {
    MACS.with(|m| {
        if let Some(total) = m.get() {
            m.set(Some(total + n));
        }
    });
}

/// Runs `f` with MAC counting on and returns its result with the MACs it performed.
/// Counted: convolutions and the matrix products of attention blocks (the convention of
/// fvcore/mmcv counters); element-wise ops, resizes and grid sampling are not counted.
pub fn count_macs<T>(f: impl FnOnce() -> T) -> (T, u64) {
    MACS.with(|m| m.set(Some(0)));
    let out = f();
    let total = MACS.with(|m| m.replace(None)).unwrap_or(0);
    (out, total)
}

/// Counts trainable parameters the way PyTorch reports them: weights, biases and the two
/// affine BatchNorm parameters, but not BatchNorm running statistics (which burn's own
/// `num_params` includes).
pub fn trainable_params<M: Module>(module: &M) -> usize {
    struct Counter {
        path: Vec<String>,
        total: usize,
    }
    impl ModuleVisitor for Counter {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let is_running_stat = matches!(
                self.path.last().map(String::as_str),
                Some("running_mean" | "running_var")
            );
            if !is_running_stat {
                self.total += param.lazy_shape().num_elements();
            }
        }
    }
    let mut counter = Counter {
        path: Vec::new(),
        total: 0,
    };
    module.visit(&mut counter);
    counter.total
}
