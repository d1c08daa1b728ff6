//! The process's one wasmtime engine, the clock that lets the CPU limit reach into Wasm, and the
//! compiled modules, shared by every isolate whose worker deployed the same bytes.
//!
//! Cranelift compiles a module once, when the first isolate loads it; every later isolate (other
//! threads, other workers with the same file, a new version that kept the file, isolates made
//! again after eviction) instantiates the same machine code. Where the server keeps its data
//! ([`keep_compiled_in`]), the machine code is kept on disk too, so that a restart compiles
//! nothing it compiled before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wasmtime::{Config, Engine, Module};

/// How often the engine's epoch advances: each advance makes running Wasm check its isolate's
/// CPU deadline (see `store`), so this is how far past the deadline Wasm may run.
const TICK: Duration = Duration::from_millis(5);

/// Native stack one entry into Wasm may use: deeper recursion traps (a RangeError-like
/// `RuntimeError`), well before the thread's stack ends.
const MAX_WASM_STACK: usize = 512 * 1024;

/// The engine, made on first use with its ticker thread; the reason if it cannot be.
pub(crate) fn engine() -> Result<&'static Engine, String> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config
                .epoch_interruption(true)
                .max_wasm_stack(MAX_WASM_STACK)
                // An `ArrayBuffer` over a memory points at its bytes; they must stay put.
                .memory_may_move(false);
            let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
            let ticking = engine.clone();
            std::thread::Builder::new()
                .name("verge-wasm-epoch".into())
                .spawn(move || loop {
                    std::thread::sleep(TICK);
                    ticking.increment_epoch();
                })
                .map_err(|e| format!("starting the Wasm clock: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A compiled module and what the JavaScript API reads from its bytes that wasmtime does not
/// keep: its custom sections.
pub(crate) struct Compiled {
    pub(crate) module: Module,
    pub(crate) custom_sections: Vec<(String, Arc<[u8]>)>,
}

/// Modules no isolate holds that stay compiled, the most recently used: enough for a worker's
/// isolates to be replaced (a reload, an eviction) without compiling again.
const IDLE_MODULES: usize = 32;

/// One module's place in the cache: empty until compiled, by whichever isolate asks first;
/// others asking meanwhile wait on its lock rather than compile it again. Empty after a failed
/// compile, so that the next asker gets the error under its own file's name.
type Entry = Arc<Mutex<Option<Arc<Compiled>>>>;

/// Compiled modules by the SHA-256 of their bytes, each with when it was last asked for: those
/// isolates hold, and the [`IDLE_MODULES`] most recently used of the rest.
#[derive(Default)]
struct Cache {
    modules: HashMap<[u8; 32], (Entry, u64)>,
    uses: u64,
}

impl Cache {
    /// The entry for `key`, made empty if there is none, marked as just used.
    fn entry(&mut self, key: [u8; 32]) -> Entry {
        self.uses += 1;
        let (entry, used) = self.modules.entry(key).or_default();
        *used = self.uses;
        entry.clone()
    }

    /// Drops the entries no one uses, compiled or not, past the most recent [`IDLE_MODULES`]
    /// compiled ones.
    fn trim(&mut self) {
        let mut idle: Vec<([u8; 32], u64)> = Vec::new();
        self.modules.retain(|key, (entry, used)| {
            if Arc::strong_count(entry) > 1 {
                return true; // someone is compiling it, or waiting for it
            }
            match entry.try_lock().as_deref() {
                Ok(Some(compiled)) if Arc::strong_count(compiled) == 1 => {
                    idle.push((*key, *used));
                    true
                }
                Ok(Some(_)) | Err(_) => true,
                Ok(None) => false,
            }
        });
        if idle.len() > IDLE_MODULES {
            idle.sort_by_key(|(_, used)| *used);
            for (key, _) in &idle[..idle.len() - IDLE_MODULES] {
                self.modules.remove(key);
            }
        }
    }
}

/// Compiles `bytes`, the deployed file `name`, or finds them compiled; an error naming the
/// file and, for a malformed module, the byte offset where it goes wrong.
pub(crate) fn compile(name: &str, bytes: &[u8]) -> Result<Arc<Compiled>, String> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    let cache = CACHE.get_or_init(Mutex::default);
    let entry = lock(cache).entry(key);
    // Compiled outside the cache's lock, under the entry's: other modules need not wait, and
    // isolates loading this one at once compile it once.
    let mut slot = lock(&entry);
    if let Some(compiled) = &*slot {
        return Ok(compiled.clone());
    }
    let engine = engine()?;
    let kept = DISK
        .get()
        .map(|dir| dir.join(format!("{}.cwasm", hex(&key))));
    let module = match kept.as_deref().and_then(|path| read_kept(engine, path)) {
        Some(module) => module,
        None => {
            let module = Module::new(engine, bytes)
                .map_err(|e| format!("{name} is not a WebAssembly module Verge can run: {e:#}"))?;
            if let Some(path) = &kept {
                keep(&module, path);
            }
            module
        }
    };
    let compiled = Arc::new(Compiled {
        module,
        custom_sections: custom_sections(bytes),
    });
    *slot = Some(compiled.clone());
    drop(slot);
    drop(entry);
    lock(cache).trim();
    Ok(compiled)
}
/// Where compiled modules are kept on disk, if anywhere; see [`keep_compiled_in`].
static DISK: OnceLock<PathBuf> = OnceLock::new();

/// Keeps compiled modules in `dir` (the server's data directory's), by the SHA-256 of their
/// bytes, and reads them from there before compiling. Set once, at start; later calls change
/// nothing.
pub fn keep_compiled_in(dir: PathBuf) {
    let _ = DISK.set(dir);
}

/// The module kept at `path`, if there is one this engine can run.
#[allow(unsafe_code)]
fn read_kept(engine: &Engine, path: &Path) -> Option<Module> {
    if !path.is_file() {
        return None;
    }
    // SAFETY: the files in this directory are written only by `keep`, whole (written aside,
    // then renamed), from modules this engine compiled; wasmtime refuses a file compiled by
    // another version or configuration. The directory is the server's own data directory,
    // trusted as its configuration is.
    match unsafe { Module::deserialize_file(engine, path) } {
        Ok(module) => Some(module),
        Err(error) => {
            tracing::warn!(target: "verge::wasm", "compiling again: {}: {error:#}", path.display());
            None
        }
    }
}

/// Writes `module`'s machine code to `path` for the next start; a failure costs only that.
fn keep(module: &Module, path: &Path) {
    let written = module
        .serialize()
        .map_err(|e| format!("{e:#}"))
        .and_then(|code| {
            // Aside under a name of its own: two threads may keep the same module at once.
            static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let aside = path.with_extension(format!("{}.{write}.part", std::process::id()));
            std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
                .and_then(|()| std::fs::write(&aside, code))
                .and_then(|()| std::fs::rename(&aside, path))
                .map_err(|e| e.to_string())
        });
    if let Err(error) = written {
        tracing::warn!(target: "verge::wasm", "keeping {}: {error}", path.display());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `bytes` are a valid module, by the engine's features.
pub(crate) fn validate(bytes: &[u8]) -> Result<bool, String> {
    Ok(Module::validate(engine()?, bytes).is_ok())
}

/// A lock of the cache or of an entry; a panic elsewhere cannot leave a half-written one, so a
/// poisoned lock is still good.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The custom sections of a module already validated, in order: each its name and contents.
fn custom_sections(bytes: &[u8]) -> Vec<(String, Arc<[u8]>)> {
    wasmparser::Parser::new(0)
        .parse_all(bytes)
        .filter_map(|payload| match payload {
            Ok(wasmparser::Payload::CustomSection(section)) => {
                Some((section.name().to_owned(), Arc::from(section.data())))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The empty module with one custom section named `name` holding `payload`.
    fn with_custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        let mut body = vec![name.len() as u8];
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(payload);
        bytes.push(0);
        bytes.push(body.len() as u8);
        bytes.extend(body);
        bytes
    }

    #[test]
    fn a_module_is_compiled_once() {
        let bytes = with_custom_section("once", b"held");
        let first = compile("a.wasm", &bytes).unwrap();
        let second = compile("b.wasm", &bytes).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.custom_sections.len(), 1);
        assert_eq!(first.custom_sections[0].0, "once");
        assert_eq!(&*first.custom_sections[0].1, b"held");
    }

    #[test]
    fn isolates_loading_a_new_module_at_once_compile_it_once() {
        let bytes = Arc::new(with_custom_section("at once", b"racing"));
        let start = Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (bytes, start) = (bytes.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    compile("race.wasm", &bytes).unwrap()
                })
            })
            .collect();
        let compiled: Vec<Arc<Compiled>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(compiled.iter().all(|c| Arc::ptr_eq(c, &compiled[0])));
    }

    #[test]
    fn compiled_modules_are_kept_on_disk_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        keep_compiled_in(dir.path().to_owned());
        let kept_in = DISK.get().unwrap();
        let bytes = with_custom_section("kept", b"on disk");
        let compiled = compile("kept.wasm", &bytes).unwrap();
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let path = kept_in.join(format!("{}.cwasm", hex(digest.as_ref())));
        // Another test may have set the directory first: the file is in whichever it is.
        assert!(path.is_file(), "{} was not kept", path.display());
        let engine = engine().unwrap();
        let read = read_kept(engine, &path).unwrap();
        assert_eq!(read.exports().count(), compiled.module.exports().count());
        // A file that is not this engine's code is refused, and the module compiled again.
        let garbage = dir.path().join("garbage.cwasm");
        std::fs::write(&garbage, b"\x7fELF not a module").unwrap();
        assert!(read_kept(engine, &garbage).is_none());
    }

    #[test]
    fn a_malformed_module_is_refused_naming_the_file_and_the_offset() {
        let mut bytes = with_custom_section("x", b"");
        bytes.extend_from_slice(&[1, 0x7f]); // a type section longer than the file
        let error = compile("broken.wasm", &bytes).err().unwrap();
        assert!(error.contains("broken.wasm"), "{error}");
        assert!(error.contains("offset"), "{error}");
        assert!(!validate(&bytes).unwrap());
    }
}
