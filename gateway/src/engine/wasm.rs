//! The wasmtime side: one compiled component and `InstancePre` per policy, instances
//! pooled and reused, each call bounded by an epoch deadline and a memory cap, and no WASI
//! capability granted (no files, no sockets, no environment, no inherited stdio).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::host::{HostCallRefused, HostContext};
use super::module_cache::{ModuleCache, ModuleHash};
use super::patch::Patch;

wasmtime::component::bindgen!({
    path: "../sdk/wit",
    world: "policy",
    // Every host import may trap: a call over a cap is refused by trapping the guest.
    imports: { default: trappable },
});

use self::auditgate::policy::types as wit;

/// The least time instantiation plus `init` of one policy instance may take.
const INIT_TIMEOUT_MS: u64 = 5_000;

/// How many epoch ticks a budget of `ms` milliseconds is (rounded up, plus the tick in
/// progress).
fn ticks_for(ms: u64) -> u64 {
    ms.div_ceil(EPOCH_TICK.as_millis() as u64) + 1
}

/// How often the epoch ticks; a call's deadline is `timeout_ms` rounded up to ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);
/// Caps on one event's decision.
pub const MAX_PATCHES_PER_EVENT: usize = 1024;
pub const MAX_ALERTS_PER_EVENT: usize = 64;
pub const MAX_TAGS_PER_EVENT: usize = 64;

/// An alert as the host stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertOut {
    pub rule: String,
    pub severity: &'static str,
    pub summary: String,
    pub labels: Vec<(String, String)>,
}

/// A policy's decision for one event, in host form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecisionOut {
    pub patches: Vec<Patch>,
    pub alerts: Vec<AlertOut>,
    pub tags: Vec<String>,
}

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("timed out after {0} ms")]
    Timeout(u64),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("{0}")]
    Policy(String),
}

/// The per-store data: WASI context (empty), resource table, limits, host context.
pub struct StoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    host: HostContext,
    /// Lines the policy logs while `init` runs, kept instead of written: the pool reports
    /// the first instance's (its warnings are the config's, `engine::warnings`) and writes
    /// only new ones for later instances, so a config warning is said once, not once per
    /// instance.
    init_log: Option<Vec<(u8, String)>>,
}

/// The most lines kept from one `init`.
const MAX_INIT_LINES: usize = 32;

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wit::Host for StoreData {}

impl self::auditgate::policy::host::Host for StoreData {
    fn counter_add(&mut self, key: String, delta: i64, window_secs: u32) -> wasmtime::Result<i64> {
        Ok(self.host.counter_add(&key, delta, window_secs)?)
    }
    fn state_get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.host.state_get(&key)?)
    }
    fn state_set(&mut self, key: String, value: Vec<u8>, ttl_secs: u32) -> wasmtime::Result<()> {
        Ok(self.host.state_set(&key, value, ttl_secs)?)
    }
    fn lookup(&mut self, table: String, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.host.lookup(&table, &key))
    }
    fn log(&mut self, level: u8, message: String) -> wasmtime::Result<()> {
        match &mut self.init_log {
            Some(lines) => {
                if lines.len() < MAX_INIT_LINES {
                    lines.push((level, message));
                }
            }
            None => self.host.log(level, &message),
        }
        Ok(())
    }
}

/// The wasmtime engine shared by every policy, with its epoch ticker, and the
/// compiled-component cache when there is one.
#[derive(Clone)]
pub struct WasmRuntime {
    engine: Engine,
    linker: Arc<Linker<StoreData>>,
    cache: Option<ModuleCache>,
}

/// Where a policy's native code came from when it was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSource {
    /// Deserialized from the compiled-component cache.
    Cache,
    /// Compiled with Cranelift now (and, with a cache, stored for the next start).
    Compiled,
}

impl CodeSource {
    /// The word the logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeSource::Cache => "cache",
            CodeSource::Compiled => "compiled",
        }
    }
}

/// The wasmtime configuration of every engine: component model and epoch interruption.
/// The compiled-component cache's key covers it, so a change here misses the cache.
pub(crate) fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config
}

impl WasmRuntime {
    /// Builds the engine (epoch interruption on) and the linker (our host interface plus
    /// WASI with no capabilities), and starts the ticker thread. No compile cache.
    pub fn new() -> wasmtime::Result<Self> {
        let engine = Engine::new(&engine_config())?;
        let mut linker = Linker::<StoreData>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Policy::add_to_linker::<_, HasSelf<_>>(&mut linker, |d| d)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("auditgate-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| wasmtime::Error::msg(format!("cannot start the epoch thread: {e}")))?;
        Ok(Self { engine, linker: Arc::new(linker), cache: None })
    }

    /// [`WasmRuntime::new`] with compiled components cached in `dir`. A directory that
    /// cannot be created is logged and the runtime compiles without a cache: the cache
    /// saves time, it never stops the gateway from starting.
    pub fn with_cache(dir: &Path) -> wasmtime::Result<Self> {
        let mut runtime = Self::new()?;
        match ModuleCache::open(dir, &runtime.engine) {
            Ok(cache) => runtime.cache = Some(cache),
            Err(e) => tracing::warn!(error = %e, "compiled-component cache unusable; compiling every policy"),
        }
        Ok(runtime)
    }

    /// The compiled-component cache, if this runtime has one.
    pub fn cache(&self) -> Option<&ModuleCache> {
        self.cache.as_ref()
    }

    /// Compiles a component and links it against the host (no cache).
    pub fn load(&self, bytes: &[u8]) -> wasmtime::Result<PolicyPre<StoreData>> {
        let component = Component::new(&self.engine, bytes)?;
        let pre = self.linker.instantiate_pre(&component)?;
        PolicyPre::new(pre)
    }

    /// Links the component `bytes` (whose SHA-256 is `hash`) against the host, taking its
    /// compiled code from the cache when an entry is there and usable; otherwise compiles
    /// it and, once it links, stores it (a component the host refuses is never cached). A
    /// cache entry that cannot be used is logged and replaced.
    pub fn load_cached(
        &self,
        bytes: &[u8],
        hash: &ModuleHash,
    ) -> wasmtime::Result<(PolicyPre<StoreData>, CodeSource)> {
        let cached = self.cache.as_ref().and_then(|cache| match cache.load(&self.engine, hash) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "compiled-component cache entry unusable; compiling again");
                None
            }
        });
        let (component, source) = match cached {
            Some(component) => (component, CodeSource::Cache),
            None => (Component::new(&self.engine, bytes)?, CodeSource::Compiled),
        };
        let pre = PolicyPre::new(self.linker.instantiate_pre(&component)?)?;
        if let (Some(cache), CodeSource::Compiled) = (&self.cache, source)
            && let Err(e) = cache.store(hash, &component)
        {
            tracing::warn!(error = %e, "cannot write the compiled-component cache entry");
        }
        Ok((pre, source))
    }
}

/// What a policy instance needs to be created.
pub struct InstanceSpec {
    pub name: Arc<str>,
    pub config_json: Vec<u8>,
    pub timeout_ms: u64,
    pub memory_bytes: usize,
    /// The policy's handle on the host services (cloned into each instance).
    pub host: HostContext,
}

/// One live instance of a policy, initialised with its config.
pub struct PolicyInstance {
    store: Store<StoreData>,
    bindings: Policy,
}

/// A pool of initialised instances of one policy: an instance is taken for a call and
/// returned after it, or dropped if the call trapped.
pub struct InstancePool {
    pre: PolicyPre<StoreData>,
    engine: Engine,
    spec: InstanceSpec,
    idle: Mutex<Vec<PolicyInstance>>,
    /// What the first instance logged during `init` (level, line).
    init_lines: Vec<(u8, String)>,
}

impl InstancePool {
    /// A pool for `spec`, built from `pre`. Creates one instance right away so that a
    /// broken module or a failing `init` is reported at load time.
    pub fn new(
        runtime: &WasmRuntime,
        pre: PolicyPre<StoreData>,
        spec: InstanceSpec,
    ) -> Result<Self, CallError> {
        let mut pool = Self {
            pre,
            engine: runtime.engine.clone(),
            spec,
            idle: Mutex::new(Vec::new()),
            init_lines: Vec::new(),
        };
        let (first, lines) = pool.instantiate_logged()?;
        pool.init_lines = lines;
        pool.put(first);
        Ok(pool)
    }

    /// What the first instance logged during `init`, for the engine to report once.
    pub fn init_lines(&self) -> &[(u8, String)] {
        &self.init_lines
    }

    fn ticks(&self) -> u64 {
        ticks_for(self.spec.timeout_ms)
    }

    /// Instantiation and `init` get their own, larger budget: they run once per instance
    /// (parsing config, building tables), often while the machine is busy starting up, and
    /// must not fail for taking longer than one event's evaluation may.
    fn init_ticks(&self) -> u64 {
        ticks_for(self.spec.timeout_ms.max(INIT_TIMEOUT_MS))
    }

    /// A new instance for the pool; its `init` lines not already said by the first
    /// instance go to the log.
    fn instantiate(&self) -> Result<PolicyInstance, CallError> {
        let (instance, lines) = self.instantiate_logged()?;
        for (level, line) in lines {
            if !self.init_lines.iter().any(|(l, said)| *l == level && *said == line) {
                self.spec.host.log(level, &line);
            }
        }
        Ok(instance)
    }

    /// A new instance and the lines it logged during `init`.
    fn instantiate_logged(&self) -> Result<(PolicyInstance, Vec<(u8, String)>), CallError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.spec.memory_bytes)
            .instances(16)
            .tables(16)
            .memories(4)
            .build();
        let data = StoreData {
            // No preopened directories, no environment, no args, stdio not inherited, no
            // network (the builder's defaults): a policy sees only our host interface.
            wasi: WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
            limits,
            host: self.spec.host.clone(),
            init_log: Some(Vec::new()),
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limits);
        store.set_epoch_deadline(self.init_ticks());
        let bindings = self.pre.instantiate(&mut store).map_err(|e| self.init_error(e))?;
        store.set_epoch_deadline(self.init_ticks());
        bindings
            .call_init(&mut store, &self.spec.config_json)
            .map_err(|e| self.init_error(e))?
            .map_err(|message| CallError::Policy(format!("init failed: {message}")))?;
        let lines = store.data_mut().init_log.take().unwrap_or_default();
        Ok((PolicyInstance { store, bindings }, lines))
    }

    fn take(&self) -> Result<PolicyInstance, CallError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(i) => Ok(i),
            None => self.instantiate(),
        }
    }

    fn put(&self, instance: PolicyInstance) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(instance);
        }
    }

    fn init_error(&self, e: wasmtime::Error) -> CallError {
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Trap(format!(
                "instantiation or init took longer than {} ms",
                self.spec.timeout_ms.max(INIT_TIMEOUT_MS)
            )),
            _ => self.call_error(e),
        }
    }

    fn call_error(&self, e: wasmtime::Error) -> CallError {
        if let Some(refused) = e.downcast_ref::<HostCallRefused>() {
            return CallError::Trap(refused.to_string());
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Timeout(self.spec.timeout_ms),
            Some(trap) => CallError::Trap(trap.to_string()),
            None => CallError::Trap(format!("{e:#}")),
        }
    }

    /// Evaluates a batch. A trap or timeout fails the whole call: `Err`. Per-event errors
    /// the policy itself reports, and decisions over the output caps, are per-event `Err`s.
    pub fn evaluate(&self, events: &[Vec<u8>]) -> Result<Vec<Result<DecisionOut, String>>, CallError> {
        let mut instance = self.take()?;
        instance.store.set_epoch_deadline(self.ticks());
        let result = instance.bindings.call_evaluate(&mut instance.store, events);
        match result {
            Ok(results) => {
                self.put(instance);
                if results.len() != events.len() {
                    return Err(CallError::Policy(format!(
                        "returned {} results for {} events",
                        results.len(),
                        events.len()
                    )));
                }
                Ok(results.into_iter().map(|r| r.and_then(convert_decision)).collect())
            }
            // The instance is dropped here: its state after a trap is not trusted.
            Err(e) => Err(self.call_error(e)),
        }
    }
}

fn convert_decision(d: wit::Decision) -> Result<DecisionOut, String> {
    if d.patches.len() > MAX_PATCHES_PER_EVENT {
        return Err(format!("{} patches for one event (cap {MAX_PATCHES_PER_EVENT})", d.patches.len()));
    }
    if d.alerts.len() > MAX_ALERTS_PER_EVENT {
        return Err(format!("{} alerts for one event (cap {MAX_ALERTS_PER_EVENT})", d.alerts.len()));
    }
    if d.tags.len() > MAX_TAGS_PER_EVENT {
        return Err(format!("{} tags for one event (cap {MAX_TAGS_PER_EVENT})", d.tags.len()));
    }
    let patches = d
        .patches
        .into_iter()
        .map(|p| match p {
            wit::PatchOp::Remove(path) => Patch::Remove(path),
            wit::PatchOp::Mask((path, text)) => Patch::Mask(path, text),
            wit::PatchOp::Pseudonymize(path) => Patch::Pseudonymize(path),
            wit::PatchOp::Set((path, json)) => Patch::Set(path, json),
        })
        .collect();
    let alerts = d
        .alerts
        .into_iter()
        .map(|a| AlertOut {
            rule: a.rule,
            severity: match a.severity {
                wit::Severity::Info => "info",
                wit::Severity::Low => "low",
                wit::Severity::Medium => "medium",
                wit::Severity::High => "high",
                wit::Severity::Critical => "critical",
            },
            summary: a.summary,
            labels: a.labels,
        })
        .collect();
    Ok(DecisionOut { patches, alerts, tags: d.tags })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn module() -> (&'static [u8], ModuleHash) {
        let bytes = crate::builtin::module("alert-bruteforce").expect("bundled");
        (bytes, Sha256::digest(bytes).into())
    }

    #[test]
    fn the_second_load_comes_from_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (bytes, hash) = module();
        let first = WasmRuntime::with_cache(dir.path()).expect("runtime");
        assert_eq!(first.load_cached(bytes, &hash).expect("loads").1, CodeSource::Compiled);
        assert!(first.cache().expect("a cache").path_for(&hash).is_file());
        // A new runtime, as after a restart.
        let second = WasmRuntime::with_cache(dir.path()).expect("runtime");
        assert_eq!(second.load_cached(bytes, &hash).expect("loads").1, CodeSource::Cache);
    }

    #[test]
    fn a_damaged_entry_is_compiled_again_and_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (bytes, hash) = module();
        let runtime = WasmRuntime::with_cache(dir.path()).expect("runtime");
        runtime.load_cached(bytes, &hash).expect("loads");
        let path = runtime.cache().expect("a cache").path_for(&hash);
        let good = std::fs::read(&path).expect("read");
        let mut damaged = good.clone();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0x40;
        std::fs::write(&path, &damaged).expect("write");
        assert_eq!(runtime.load_cached(bytes, &hash).expect("loads").1, CodeSource::Compiled);
        assert_eq!(std::fs::read(&path).expect("read"), good, "the entry is written again");
        assert_eq!(runtime.load_cached(bytes, &hash).expect("loads").1, CodeSource::Cache);
    }

    #[test]
    fn without_a_usable_directory_it_compiles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"not a directory").expect("write");
        let runtime = WasmRuntime::with_cache(&file.join("cache")).expect("runtime");
        assert!(runtime.cache().is_none());
        let (bytes, hash) = module();
        assert_eq!(runtime.load_cached(bytes, &hash).expect("loads").1, CodeSource::Compiled);
    }
}
