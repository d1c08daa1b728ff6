//! Resolving and loading a worker's ES modules from its project directory, and caching their
//! bytecode.
//!
//! Module names are paths relative to the project root (`src/index.js`), so that stack traces
//! and errors name files as the developer sees them. What a specifier names is `project`'s
//! to say; CommonJS files and builtins load through facades (see `commonjs`).
//!
//! A [`ModuleCache`] holds the compiled bytecode of one version of a project's modules, shared
//! by every isolate made from it on any thread: the first isolate parses and writes each module,
//! later ones (other threads, isolates re-created after eviction) read the bytecode instead.

use crate::commonjs;
use crate::project::{Builtins, ProjectFiles, Want};
use crate::rules::{ModuleRules, Treat};
use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::{Declared, WriteOptions};
use rquickjs::{Ctx, Error, Module, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};

/// Compiled modules of one project version by name, and the position maps of those that were
/// TypeScript; cheap to clone, shared across threads. Only for files that do not change: a new
/// version gets a new cache.
#[derive(Clone, Default)]
pub struct ModuleCache {
    modules: Arc<Mutex<HashMap<String, Compiled>>>,
    positions: PositionMaps,
}

/// Position maps of TypeScript modules by name (see [`crate::PositionMap`]).
pub(crate) type PositionMaps = Arc<Mutex<HashMap<String, Arc<crate::PositionMap>>>>;

/// The position maps of the isolate's modules, for mapping stack traces (see `error`).
pub(crate) struct IsolatePositions(pub(crate) PositionMaps);

/// One module's bytecode, and whether it is a facade (whose `import.meta` needs its exports).
#[derive(Clone)]
struct Compiled {
    bytecode: Arc<[u8]>,
    facade: bool,
}

impl ModuleCache {
    /// The modules; a panic elsewhere cannot leave a half-written entry, so a poisoned lock is
    /// still good.
    fn modules(&self) -> MutexGuard<'_, HashMap<String, Compiled>> {
        self.modules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, name: &str) -> Option<Compiled> {
        self.modules().get(name).cloned()
    }

    fn insert(&self, name: &str, bytecode: Vec<u8>, facade: bool) {
        let bytecode = bytecode.into();
        self.modules()
            .insert(name.to_owned(), Compiled { bytecode, facade });
    }

    /// How many modules are cached.
    pub fn len(&self) -> usize {
        self.modules().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone)]
pub struct ProjectLoader {
    files: ProjectFiles,
    cache: Option<ModuleCache>,
    positions: PositionMaps,
    rules: Rc<ModuleRules>,
}

impl ProjectLoader {
    pub(crate) fn new(
        root: impl Into<PathBuf>,
        cache: Option<ModuleCache>,
        builtins: Option<Rc<dyn Builtins>>,
        rules: ModuleRules,
    ) -> Self {
        let positions = cache
            .as_ref()
            .map(|cache| cache.positions.clone())
            .unwrap_or_default();
        Self {
            files: ProjectFiles::new(root, builtins),
            cache,
            positions,
            rules: Rc::new(rules),
        }
    }

    /// The project's files, as its modules find them.
    pub(crate) fn files(&self) -> ProjectFiles {
        self.files.clone()
    }

    /// The position maps the isolate's stack traces are mapped with.
    pub(crate) fn positions(&self) -> PositionMaps {
        self.positions.clone()
    }

    /// Declares the entry module `name`, whose text the runtime read as `source`, as any
    /// other module (TypeScript stripped, its positions kept) unless its bytecode is cached.
    pub fn declare_entry<'js>(
        &self,
        ctx: &Ctx<'js>,
        name: &str,
        source: String,
    ) -> Result<Module<'js, Declared>> {
        self.declare(ctx, name, || {
            as_module(self, name, None, source.into_bytes())
                .map_err(|message| Error::new_loading_message(name, message))
        })
    }

    /// Keeps where the code of module `name` came from, for its stack traces.
    fn remember_positions(&self, name: &str, map: crate::PositionMap) {
        self.positions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_owned(), Arc::new(map));
    }

    /// Declares the module `name` from its cached bytecode, or else from `source`, writing
    /// its bytecode to the cache for the next isolate.
    fn declare<'js>(
        &self,
        ctx: &Ctx<'js>,
        name: &str,
        source: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Module<'js, Declared>> {
        self.declare_module(ctx, name, || Ok((source()?, false)))
            .map(|(module, _)| module)
    }

    /// Like [`declare`](Self::declare), for `source` that also says whether it is a facade;
    /// whether the module is one.
    fn declare_module<'js>(
        &self,
        ctx: &Ctx<'js>,
        name: &str,
        source: impl FnOnce() -> Result<(Vec<u8>, bool)>,
    ) -> Result<(Module<'js, Declared>, bool)> {
        let Some(cache) = &self.cache else {
            let (source, facade) = source()?;
            return Ok((Module::declare(ctx.clone(), name, source)?, facade));
        };
        if let Some(compiled) = cache.get(name) {
            return Ok((self.load_bytecode(ctx, compiled.bytecode)?, compiled.facade));
        }
        let (source, facade) = source()?;
        let module = Module::declare(ctx.clone(), name, source)?;
        cache.insert(name, module.write(WriteOptions::default())?, facade);
        Ok((module, facade))
    }

    #[allow(unsafe_code)]
    fn load_bytecode<'js>(
        &self,
        ctx: &Ctx<'js>,
        bytecode: Arc<[u8]>,
    ) -> Result<Module<'js, Declared>> {
        // SAFETY: the bytes were written by `Module::write` in this process, by the same QuickJS
        // build, and are never changed (an `Arc<[u8]>`). QuickJS copies what it reads.
        unsafe { Module::load(ctx.clone(), &bytecode) }
    }
}

/// A file as the module JavaScript sees, by what a rule says of it (`treat`) or else its
/// name: a value module (see [`value_module`]); TypeScript with its types stripped (its
/// position map kept by `loader`); anything else as JavaScript.
fn as_module(
    loader: &ProjectLoader,
    name: &str,
    treat: Option<Treat>,
    source: Vec<u8>,
) -> std::result::Result<Vec<u8>, String> {
    if let Some(module) = value_module(name, treat, &source)? {
        return Ok(module.into_bytes());
    }
    Ok(match treat {
        // The module itself is the host's (`Builtins::wasm_module`), attached by `load`.
        Some(Treat::Wasm) => b"export default import.meta.exports();\n".to_vec(),
        _ if crate::is_typescript(name) => {
            let text = String::from_utf8(source).map_err(|_| not_utf8(name))?;
            let (code, positions) = crate::strip_types_mapped(name, &text)?;
            loader.remember_positions(name, positions);
            code.into_bytes()
        }
        _ => source,
    })
}

/// The module a file that is a value, not code, stands for, by what a rule says of it
/// (`treat`) or else its name: Text as a string and Data as an ArrayBuffer (the default
/// export), JSON as its value; `None` for code. Every engine's loader makes them alike.
pub(crate) fn value_module(
    name: &str,
    treat: Option<Treat>,
    source: &[u8],
) -> std::result::Result<Option<String>, String> {
    let text = || std::str::from_utf8(source).map_err(|_| not_utf8(name));
    Ok(match treat {
        Some(Treat::Text) => Some(format!("export default {};\n", js_string(text()?))),
        Some(Treat::Data) => {
            let bytes: Vec<String> = source.iter().map(u8::to_string).collect();
            Some(format!(
                "export default new Uint8Array([{}]).buffer;\n",
                bytes.join(",")
            ))
        }
        Some(Treat::Wasm) => None,
        _ if name.to_ascii_lowercase().ends_with(".json") => Some(format!(
            "export default {};\n",
            text()?.trim_start_matches('\u{feff}')
        )),
        _ => None,
    })
}

fn not_utf8(name: &str) -> String {
    format!("{name} is not UTF-8 text")
}

/// `text` as a JavaScript string literal.
pub(crate) fn js_string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('"');
    for c in text.chars() {
        match c {
            '"' => literal.push_str("\\\""),
            '\\' => literal.push_str("\\\\"),
            '\n' => literal.push_str("\\n"),
            '\r' => literal.push_str("\\r"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                literal.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => literal.push(c),
        }
    }
    literal.push('"');
    literal
}

impl Resolver for ProjectLoader {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<String> {
        if let Some(builtin) = self.files.resolve_builtin(name) {
            return builtin.map_err(|why| Error::new_resolving_message(base, name, why));
        }
        self.files
            .resolve_file(base, name, Want::Import)
            .map_err(|why| Error::new_resolving_message(base, name, why))
    }
}

impl Loader for ProjectLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<Module<'js, Declared>> {
        if self.files.resolve_builtin(name).is_some() {
            let module = self.declare(ctx, name, || {
                let exports = self.files.builtin_exports(ctx, name)?;
                Ok(commonjs::facade_source(&exports)?.into_bytes())
            })?;
            let (files, name) = (self.files.clone(), name.to_owned());
            commonjs::attach_exports(ctx, &module, move |ctx| files.builtin_exports(ctx, &name))?;
            return Ok(module);
        }
        let (module, facade) = self.declare_module(ctx, name, || {
            let source = self.files.read(name)?;
            let treat = self.rules.treat(name);
            let commonjs = match treat {
                Some(treat) => treat == Treat::CommonJs,
                None => std::str::from_utf8(&source)
                    .is_ok_and(|text| commonjs::is_commonjs(&self.files, name, text)),
            };
            if commonjs {
                // Run now, to learn its exports' names.
                let exports = commonjs::require_file(ctx, &self.files, name)?;
                return Ok((commonjs::facade_source(&exports)?.into_bytes(), true));
            }
            as_module(self, name, treat, source)
                .map(|module| (module, false))
                .map_err(|message| Error::new_loading_message(name, message))
        })?;
        let (files, name) = (self.files.clone(), name.to_owned());
        if facade {
            commonjs::attach_exports(ctx, &module, move |ctx| {
                commonjs::require_file(ctx, &files, &name)
            })?;
        } else if self.rules.treat(&name) == Some(Treat::Wasm) {
            commonjs::attach_exports(ctx, &module, move |ctx| files.wasm_module(ctx, &name))?;
        }
        Ok(module)
    }
}
