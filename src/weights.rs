//! Weight files: burnpack (`.bpk`, rtseg's own checkpoints) and safetensors (`.safetensors`,
//! for exchange). Both use the same tensor names: the module path with enum variants left
//! out, e.g. `encoder.blocks.3.se.fc1.weight` (see docs/weights.md). Files are written to a
//! temporary name and renamed, and loading checks every tensor before touching the model.

use std::path::{Path, PathBuf};

use burn::store::burn_pack::{Reader, Tensor as PackTensor, Writer};
use burn::store::{
    FloatCastAdapter, HalfPrecisionAdapter, ModuleAdapter, ModuleSnapshot, ModuleStore,
    SafetensorsStore,
};
use burn::tensor::DType;

use crate::io::write_atomic_with;
use crate::models::segmentors::Segmentor;

/// Metadata key holding the registered model name.
pub const META_MODEL: &str = "rtseg.model";

/// Metadata key holding the SHA-256 of the tensors ([`content_digest`]): a bit flipped or a
/// file cut short after it was written is refused instead of loaded.
pub const META_SHA256: &str = "rtseg.tensors_sha256";

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: unsupported weight format (use a .bpk or .safetensors file)")]
    UnknownFormat { path: PathBuf },
    #[error("{path}: cannot read weights: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: cannot write weights: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("{path} does not fit model {model}: {detail}")]
    Mismatch {
        path: PathBuf,
        model: String,
        detail: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    Burnpack,
    Safetensors,
}

impl WeightFormat {
    pub fn of(path: &Path) -> Result<Self, WeightsError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("bpk") => Ok(WeightFormat::Burnpack),
            Some("safetensors") => Ok(WeightFormat::Safetensors),
            _ => Err(WeightsError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// The model's tensors under their stable names, in module order.
pub fn tensors(model: &Segmentor) -> Vec<PackTensor> {
    model.collect(None, None, true)
}

/// SHA-256 over every tensor's name, dtype, shape and bytes, by name (a burnpack file lists
/// its tensors sorted by name, a module in module order).
///
/// # Errors
/// A tensor whose data cannot be read (a file cut short).
pub fn content_digest(tensors: &[PackTensor]) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&PackTensor> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hash = Sha256::new();
    for t in sorted {
        let bytes = t
            .to_bytes()
            .map_err(|e| format!("tensor {:?}: {e}", t.name))?;
        hash.update(format!(
            "{}\0{:?}\0{:?}\0",
            t.name,
            t.dtype,
            t.shape.as_slice()
        ));
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes[..]);
    }
    Ok(format!("{:x}", hash.finalize()))
}

/// How a weight file stores the float parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// float32 throughout, as the model holds them.
    F32,
    /// float16 for convolution and linear weights (burn-store's `HalfPrecisionAdapter`);
    /// BatchNorm stays float32, whose running variance underflows in float16. Halves the
    /// file; [`load`] widens the values back to float32.
    F16,
}

/// Saves `model` to `path` in float32 ([`save_as`]).
pub fn save(model: &Segmentor, model_name: &str, path: &Path) -> Result<(), WeightsError> {
    save_as(model, model_name, path, Precision::F32)
}

/// Saves `model` to `path` (format from the extension) with its float parameters stored at
/// `precision`, atomically; a burnpack file carries the SHA-256 of its stored tensors
/// ([`META_SHA256`]).
pub fn save_as(
    model: &Segmentor,
    model_name: &str,
    path: &Path,
    precision: Precision,
) -> Result<(), WeightsError> {
    let format = WeightFormat::of(path)?;
    let adapter = || (precision == Precision::F16).then(HalfPrecisionAdapter::new);
    write_atomic_with(path, |tmp| match format {
        WeightFormat::Burnpack => {
            let adapter = adapter().map(|a| Box::new(a) as Box<dyn ModuleAdapter>);
            let tensors = model.collect(None, adapter, true);
            let digest = content_digest(&tensors).map_err(anyhow::Error::msg)?;
            Writer::new(tensors)
                .with_metadata(META_MODEL, model_name)
                .with_metadata(META_SHA256, &digest)
                .auto_extension(false)
                .write_to_file(tmp)
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
        WeightFormat::Safetensors => {
            let mut store = SafetensorsStore::from_file(tmp.to_path_buf())
                .skip_enum_variants(true)
                .metadata(META_MODEL, model_name);
            if let Some(adapter) = adapter() {
                store = store.with_to_adapter(adapter);
            }
            store
                .collect_from(model)
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    })
    .map_err(|e| WeightsError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads the tensors of a weight file, checking a burnpack file's content against the
/// SHA-256 it carries (files written before rtseg stored one load unchecked).
///
/// # Errors
/// A missing or unreadable file, an unknown format, or content that does not match its
/// checksum (bit flips, truncation).
pub fn read(path: &Path) -> Result<Vec<PackTensor>, WeightsError> {
    read_stored(path).map(|(tensors, _)| tensors)
}

/// [`read`], with the model name stored beside the tensors ([`META_MODEL`]) when there is one.
fn read_stored(path: &Path) -> Result<(Vec<PackTensor>, Option<String>), WeightsError> {
    let read_err = |reason: String| WeightsError::Read {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(read_err("no such file".into()));
    }
    match WeightFormat::of(path)? {
        WeightFormat::Burnpack => {
            let reader = Reader::from_file(path).map_err(|e| read_err(e.to_string()))?;
            let stored = reader.metadata().get(META_SHA256).cloned();
            let model = reader.metadata().get(META_MODEL).cloned();
            let tensors = reader.into_tensors().map_err(|e| read_err(e.to_string()))?;
            if let Some(stored) = stored {
                let actual = content_digest(&tensors).map_err(read_err)?;
                if actual != stored {
                    return Err(read_err(format!(
                        "the tensors do not match the checksum stored with them ({META_SHA256} \
                         {stored}, content {actual}): the file is corrupted; restore it"
                    )));
                }
            }
            Ok((tensors, model))
        }
        WeightFormat::Safetensors => {
            // Read once: the safetensors crate (the one burn-store writes with) reads the
            // header's metadata, which burn-store writes but does not hand back, and the same
            // bytes then go to burn-store for the tensors.
            let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
            let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
                .map_err(|e| read_err(e.to_string()))?;
            let model = header
                .metadata()
                .as_ref()
                .and_then(|m| m.get(META_MODEL).cloned());
            let mut store = SafetensorsStore::from_bytes(Some(bytes)).skip_enum_variants(true);
            let tensors = store
                .get_all_tensors()
                .map(|all| all.values().cloned().collect())
                .map_err(|e| read_err(e.to_string()))?;
            Ok((tensors, model))
        }
    }
}

/// Compares file tensors with the model's, in module order, and describes the first
/// difference: a missing tensor, a shape or dtype mismatch, or a tensor the model lacks.
/// A float16 tensor where the model holds float32 fits ([`Precision::F16`]).
pub fn first_mismatch(expected: &[PackTensor], found: &[PackTensor]) -> Option<String> {
    let by_name: std::collections::HashMap<&str, &PackTensor> =
        found.iter().map(|t| (t.name.as_str(), t)).collect();
    for want in expected {
        match by_name.get(want.name.as_str()) {
            None => {
                return Some(format!(
                    "tensor {:?} (shape {:?}) is missing from the file",
                    want.name,
                    want.shape.as_slice()
                ));
            }
            Some(got) if got.shape != want.shape => {
                return Some(format!(
                    "tensor {:?} has shape {:?} in the file but the model expects {:?}",
                    want.name,
                    got.shape.as_slice(),
                    want.shape.as_slice()
                ));
            }
            Some(got)
                if got.dtype != want.dtype
                    && !(got.dtype == DType::F16 && want.dtype == DType::F32) =>
            {
                return Some(format!(
                    "tensor {:?} is {:?} in the file but the model expects {:?}",
                    want.name, got.dtype, want.dtype
                ));
            }
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|t| t.name.as_str()).collect();
    found
        .iter()
        .find(|t| !known.contains(t.name.as_str()))
        .map(|t| format!("the file has tensor {:?}, which the model does not", t.name))
}

/// Loads weights into `model`, refusing (and naming the first offending tensor) when the
/// file was made for another model or class count; float16 tensors are widened to float32.
/// A file whose stored model name ([`META_MODEL`]) is another model's is refused even when
/// the tensors fit (`aaffnet` and `aaffnet2` hold the same tensors, wired differently),
/// unless both take their weights from the same model (`mfaranet-pruned` → `mfaranet`).
pub fn load(
    mut model: Segmentor,
    model_name: &str,
    path: &Path,
) -> Result<Segmentor, WeightsError> {
    let (found, stored) = read_stored(path)?;
    let mismatch = |detail: String| WeightsError::Mismatch {
        path: path.to_path_buf(),
        model: model_name.to_string(),
        detail,
    };
    if let Some(detail) = first_mismatch(&tensors(&model), &found) {
        let holds = stored.map_or(String::new(), |m| {
            format!(" (the file holds {m}'s weights)")
        });
        return Err(mismatch(format!("{detail}{holds}")));
    }
    fn owner(name: &str) -> &str {
        crate::models::lookup(name, 1).map_or(name, |spec| spec.weights_of)
    }
    if let Some(other) = stored.filter(|m| owner(m) != owner(model_name)) {
        return Err(mismatch(format!(
            "the file holds {other}'s weights, not {model_name}'s"
        )));
    }
    let widen = Box::new(FloatCastAdapter::to(DType::F32));
    let result = model.apply(found, None, Some(widen), true);
    match result.errors.first() {
        Some(error) => Err(mismatch(error.to_string())),
        None => Ok(model),
    }
}
