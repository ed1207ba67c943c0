//! The checkpoint signing key: from the configuration, or from its file, created with
//! mode 0600 on first start.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::note::{NoteError, NoteSigner};
use crate::config::Config;
use crate::store::CheckpointOptions;

/// A signing key that cannot be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or create the checkpoint key {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the checkpoint key {origin}: {source}")]
    Key { origin: String, source: NoteError },
}

/// Reads the key in `path`, or creates one named `name` there (mode 0600).
pub fn load_or_create(path: &Path, name: &str) -> Result<NoteSigner, KeyError> {
    let io = |source| KeyError::Io { path: path.display().to_string(), source };
    let key = |source| KeyError::Key { origin: path.display().to_string(), source };
    match std::fs::read_to_string(path) {
        Ok(text) => NoteSigner::parse(&text).map_err(key),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signer = NoteSigner::generate(name).map_err(key)?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(path).map_err(io)?;
            f.write_all(format!("{}\n", signer.to_text()).as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok(signer)
        }
        Err(e) => Err(io(e)),
    }
}

/// The store's checkpoint options from `[checkpoints]` (`None` when disabled).
pub fn checkpoint_options(config: &Config) -> Result<Option<CheckpointOptions>, KeyError> {
    let c = &config.checkpoints;
    if !c.enabled {
        return Ok(None);
    }
    let signer = match &c.key {
        Some(secret) => NoteSigner::parse(secret.expose())
            .map_err(|source| KeyError::Key { origin: "checkpoints.key".into(), source })?,
        None => load_or_create(&config.checkpoint_key_path(), &c.origin)?,
    };
    Ok(Some(CheckpointOptions {
        signer,
        origin: c.origin.clone(),
        every_events: c.every_events,
        every: Duration::from_secs(c.every_secs),
        file: Some(config.checkpoint_file_path()),
        witness: None,
    }))
}
