//! What the fuzz targets share: outside bytes decoded the way the node's subscriptions decode
//! them, and written to the file that a path-taking reader opens.

use std::path::PathBuf;

use rustdds::no_key::DeserializerAdapter;
use rustdds::{CDRDeserializerAdapter, RepresentationIdentifier};

/// A DDS serialized payload as ros2-client hands it to RustDDS's CDR adapter: a 2-byte
/// representation identifier and 2 option bytes (RTPS 2.5 §10.2), then the CDR body in the
/// byte order the identifier names. `None` for anything the subscription would drop.
pub fn cdr<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Option<T> {
    let (head, body) = payload.split_at_checked(4)?;
    let representation = RepresentationIdentifier::from_bytes(&head[..2]).ok()?;
    CDRDeserializerAdapter::<T>::from_bytes(body, representation).ok()
}

/// Writes `bytes` to `name` in this process's scratch folder and returns the path: rtseg's
/// file readers take paths (and check extensions, sizes and neighbours), so fuzzing them
/// through a real file keeps those checks in the loop.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rtseg-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("scratch file");
    path
}
