//! The compiled-component cache: what Cranelift made of a policy component, kept on disk
//! so the next start (and a reload of the same module) loads it instead of compiling
//! again. Compiling the default chain takes seconds; loading it from here, milliseconds.
//!
//! One file per (module, engine): `<sha256 of the component bytes>-<engine tag>.cwasm`.
//! The engine tag hashes wasmtime's [`Engine::precompile_compatibility_hash`] (target,
//! Cranelift flags, tunables, wasm features, wasmtime version), so an upgraded or
//! differently configured engine never picks up another engine's artifact: it misses and
//! compiles. A file holds [`MAGIC`], the SHA-256 of the artifact, then the artifact
//! (`Component::serialize`). Files are written to a temporary name and renamed, so a
//! reader sees a whole file or none; the digest catches what happens to a file afterwards
//! (truncation, bit rot) before wasmtime ever maps it as code.

use std::fs::{self, File, OpenOptions};
use std::hash::Hasher;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of every cache file; a new layout gets a new magic.
const MAGIC: &[u8; 8] = b"agcwasm1";
/// The file name extension of cache entries; only such files are ever removed by
/// [`ModuleCache::retain`].
const EXTENSION: &str = "cwasm";
const HEADER_LEN: usize = MAGIC.len() + 32;

/// The SHA-256 of a component's bytes: the cache key, and the module hash the engine
/// already records in the policy set.
pub type ModuleHash = [u8; 32];

/// Why a cache entry could not be used or written. Never fatal: the caller compiles.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a cache file of this gateway (bad header)")]
    BadHeader { path: PathBuf },
    #[error("{path}: contents do not match their digest (truncated or damaged)")]
    BadDigest { path: PathBuf },
    #[error("{path}: wasmtime refused the artifact: {message}")]
    Incompatible { path: PathBuf, message: String },
    #[error("cannot serialize the compiled component: {0}")]
    Serialize(String),
}

/// A directory of compiled components for one wasmtime engine configuration.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: PathBuf,
    engine_tag: String,
}

/// Feeds `Hash` output into SHA-256, so the engine tag does not depend on std's
/// `DefaultHasher` (whose algorithm may change between Rust releases).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
}

/// A short hex tag naming everything about `engine` that decides whether a compiled
/// artifact can be loaded into it.
fn engine_tag(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    hasher.write(MAGIC);
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hex::encode(&hasher.0.finalize()[..16])
}

impl ModuleCache {
    /// The cache in `dir` for artifacts of `engine`; creates `dir` (mode 0700: whoever can
    /// write here can make the gateway run native code).
    pub fn open(dir: &Path, engine: &Engine) -> Result<Self, CacheError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|source| CacheError::Io { path: dir.to_path_buf(), source })?;
        Ok(Self { dir: dir.to_path_buf(), engine_tag: engine_tag(engine) })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact of the module with hash `module` lives (for this engine).
    pub fn path_for(&self, module: &ModuleHash) -> PathBuf {
        self.dir.join(format!("{}-{}.{EXTENSION}", hex::encode(module), self.engine_tag))
    }

    /// The compiled component for `module`: `Ok(None)` when there is no entry, an error
    /// when there is one that cannot be used (the caller compiles and [`ModuleCache::store`]
    /// replaces it).
    pub fn load(&self, engine: &Engine, module: &ModuleHash) -> Result<Option<Component>, CacheError> {
        let path = self.path_for(module);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CacheError::Io { path, source }),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|source| CacheError::Io { path: path.clone(), source })?;
        if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return Err(CacheError::BadHeader { path });
        }
        let artifact = &bytes[HEADER_LEN..];
        if Sha256::digest(artifact)[..] != bytes[MAGIC.len()..HEADER_LEN] {
            return Err(CacheError::BadDigest { path });
        }
        // SAFETY: `Component::deserialize` maps the bytes as native code, so they must be
        // what `Component::serialize` of a compatible engine produced. They are:
        // - the file is ours: it sits in the cache directory we created (0700) under a
        //   name only `store` writes, and it was written whole, to a temporary name, then
        //   renamed, so no reader sees a partial file;
        // - it is keyed by content: the name carries the SHA-256 of the component bytes
        //   it was compiled from and the compatibility hash of the engine that compiled
        //   it, so it is the artifact of this very module for an engine like this one;
        // - the artifact's SHA-256, written with it, was checked just above, so what
        //   `store` wrote is what we load (no truncation or damage since);
        // - wasmtime itself checks the artifact's header (version, target, flags) and
        //   refuses a mismatch with an error, which sends us back to compiling.
        // What remains is someone who may write the gateway's data (or the configured
        // cache) directory deliberately planting code; that directory must be guarded
        // like the binary, or the cache turned off (`engine.module_cache = false`).
        let component = unsafe { Component::deserialize(engine, artifact) }
            .map_err(|e| CacheError::Incompatible { path, message: format!("{e:#}") })?;
        Ok(Some(component))
    }

    /// Writes the artifact of `component` (compiled from the module with hash `module`),
    /// replacing any entry of the same name; atomically (temporary file, fsync, rename).
    pub fn store(&self, module: &ModuleHash, component: &Component) -> Result<(), CacheError> {
        let artifact = component.serialize().map_err(|e| CacheError::Serialize(format!("{e:#}")))?;
        let path = self.path_for(module);
        let temp = self.temp_path();
        let write = || -> std::io::Result<()> {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temp)?;
            file.write_all(MAGIC)?;
            file.write_all(&Sha256::digest(&artifact))?;
            file.write_all(&artifact)?;
            file.sync_all()?;
            fs::rename(&temp, &path)
        };
        write().map_err(|source| {
            let _ = fs::remove_file(&temp);
            CacheError::Io { path: path.clone(), source }
        })
    }

    /// Removes the entries (of any engine) whose module is not in `keep`, and temporary
    /// files left by an interrupted [`ModuleCache::store`]; answers how many it removed.
    /// Only our own file names are touched, whatever else the directory holds.
    pub fn retain(&self, keep: &[ModuleHash]) -> usize {
        let kept: Vec<PathBuf> = keep.iter().map(|m| self.path_for(m)).collect();
        let Ok(entries) = fs::read_dir(&self.dir) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = is_entry_name(&name) || name.starts_with(TEMP_PREFIX);
            if ours && !kept.contains(&path) && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    fn temp_path(&self) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()))
    }
}

/// Temporary files of [`ModuleCache::store`] before their rename.
const TEMP_PREFIX: &str = ".tmp-";

/// `<64 hex>-<32 hex>.cwasm`: the name of a cache entry.
fn is_entry_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(EXTENSION).and_then(|s| s.strip_suffix('.')) else {
        return false;
    };
    let Some((module, tag)) = stem.split_once('-') else { return false };
    module.len() == 64
        && tag.len() == 32
        && module.bytes().chain(tag.bytes()).all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(&crate::engine::wasm::engine_config()).expect("engine")
    }

    fn module() -> (&'static [u8], ModuleHash) {
        let bytes = crate::builtin::module("alert-bruteforce").expect("bundled");
        (bytes, Sha256::digest(bytes).into())
    }

    #[test]
    fn a_stored_component_loads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine();
        let cache = ModuleCache::open(&dir.path().join("c"), &engine).expect("open");
        let (bytes, hash) = module();
        assert!(cache.load(&engine, &hash).expect("no entry yet").is_none());
        let compiled = Component::new(&engine, bytes).expect("compile");
        cache.store(&hash, &compiled).expect("store");
        let loaded = cache.load(&engine, &hash).expect("readable").expect("an entry");
        assert_eq!(loaded.serialize().expect("ser"), compiled.serialize().expect("ser"));
    }

    #[test]
    fn different_bytes_or_engines_have_different_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine();
        let cache = ModuleCache::open(dir.path(), &engine).expect("open");
        let (_, a) = module();
        let b: ModuleHash = Sha256::digest(crate::builtin::module("redact-secrets").expect("bundled")).into();
        assert_ne!(cache.path_for(&a), cache.path_for(&b));
        let mut other = wasmtime::Config::new();
        other.wasm_component_model(true);
        other.epoch_interruption(false);
        let other = ModuleCache::open(dir.path(), &Engine::new(&other).expect("engine")).expect("open");
        assert_ne!(cache.path_for(&a), other.path_for(&a));
        assert!(is_entry_name(&cache.path_for(&a).file_name().expect("name").to_string_lossy()));
    }

    #[test]
    fn damaged_or_foreign_entries_are_refused_not_loaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine();
        let cache = ModuleCache::open(dir.path(), &engine).expect("open");
        let (bytes, hash) = module();
        cache.store(&hash, &Component::new(&engine, bytes).expect("compile")).expect("store");
        let path = cache.path_for(&hash);
        let good = fs::read(&path).expect("read");

        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        fs::write(&path, &flipped).expect("write");
        assert!(matches!(cache.load(&engine, &hash), Err(CacheError::BadDigest { .. })));

        fs::write(&path, &good[..good.len() / 2]).expect("write");
        assert!(matches!(cache.load(&engine, &hash), Err(CacheError::BadDigest { .. })));

        fs::write(&path, b"not a cache file").expect("write");
        assert!(matches!(cache.load(&engine, &hash), Err(CacheError::BadHeader { .. })));

        // A well-formed file whose artifact wasmtime refuses (here: not an artifact).
        let junk = b"\x7fELF but not really";
        let mut forged = MAGIC.to_vec();
        forged.extend_from_slice(&Sha256::digest(junk));
        forged.extend_from_slice(junk);
        fs::write(&path, &forged).expect("write");
        assert!(matches!(cache.load(&engine, &hash), Err(CacheError::Incompatible { .. })));
    }

    #[test]
    fn retain_removes_only_unused_entries_of_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine();
        let cache = ModuleCache::open(dir.path(), &engine).expect("open");
        let keep = [7u8; 32];
        let drop = [9u8; 32];
        for p in [cache.path_for(&keep), cache.path_for(&drop), dir.path().join(".tmp-1-0")] {
            fs::write(p, b"x").expect("write");
        }
        fs::write(dir.path().join("notes.txt"), b"someone else's").expect("write");
        assert_eq!(cache.retain(&[keep]), 2);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let kept_name = cache.path_for(&keep).file_name().expect("name").to_string_lossy().into_owned();
        assert_eq!(left, vec![kept_name, "notes.txt".to_string()]);
    }
}
