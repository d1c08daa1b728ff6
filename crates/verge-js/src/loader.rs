//! Resolving and loading a worker's ES modules from its project directory, and caching their
//! bytecode.
//!
//! Module names are paths relative to the project root (`src/index.js`), so that stack traces
//! and errors name files as the developer sees them. Relative specifiers resolve against the
//! importing module, bare ones to the embedder's [`Builtins`] or else to npm packages in
//! `node_modules`; CommonJS files and builtins load through facades (see `commonjs`).
//!
//! A [`ModuleCache`] holds the compiled bytecode of one version of a project's modules, shared
//! by every isolate made from it on any thread: the first isolate parses and writes each module,
//! later ones (other threads, isolates re-created after eviction) read the bytecode instead.

use crate::commonjs::{self, Builtins};
use crate::rules::{ModuleRules, Treat};
use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::{Declared, WriteOptions};
use rquickjs::{Ctx, Error, Module, Result, Value};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
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
    root: Rc<PathBuf>,
    cache: Option<ModuleCache>,
    positions: PositionMaps,
    builtins: Option<Rc<dyn Builtins>>,
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
            root: Rc::new(root.into()),
            cache,
            positions,
            builtins,
            rules: Rc::new(rules),
        }
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

/// Joins `specifier` onto the directory of `importer`, lexically, refusing to climb above the
/// project root. Both are `/`-separated names relative to the root.
pub fn resolve_relative(importer: &str, specifier: &str) -> Option<String> {
    let base = Path::new(importer).parent().unwrap_or(Path::new(""));
    let mut parts: Vec<String> = base
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    for segment in specifier.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s.to_owned()),
        }
    }
    Some(parts.join("/"))
}

/// A file as the module JavaScript sees, by what a rule says of it (`treat`) or else its
/// name: Text as a string and Data as an ArrayBuffer (the default export); TypeScript with its
/// types stripped (its position map kept by `loader`); JSON as its value; anything else as
/// JavaScript.
fn as_module(
    loader: &ProjectLoader,
    name: &str,
    treat: Option<Treat>,
    source: Vec<u8>,
) -> std::result::Result<Vec<u8>, String> {
    let text =
        || String::from_utf8(source.clone()).map_err(|_| format!("{name} is not UTF-8 text"));
    Ok(match treat {
        Some(Treat::Text) => format!("export default {};\n", js_string(&text()?)).into_bytes(),
        Some(Treat::Data) => {
            let bytes: Vec<String> = source.iter().map(u8::to_string).collect();
            format!(
                "export default new Uint8Array([{}]).buffer;\n",
                bytes.join(",")
            )
            .into_bytes()
        }
        Some(Treat::Wasm) => {
            return Err(format!(
                "{name} is WebAssembly (CompiledWasm), which Verge cannot run: QuickJS has no WebAssembly"
            ))
        }
        _ if crate::is_typescript(name) => {
            let (code, positions) = crate::strip_types_mapped(name, &text()?)?;
            loader.remember_positions(name, positions);
            code.into_bytes()
        }
        _ if name.to_ascii_lowercase().ends_with(".json") => format!(
            "export default {};\n",
            text()?.trim_start_matches('\u{feff}')
        )
        .into_bytes(),
        _ => source,
    })
}

/// `text` as a JavaScript string literal.
fn js_string(text: &str) -> String {
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

/// What a specifier is resolved for: an `import`, or a CommonJS `require()`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Import,
    Require,
}

impl Want {
    /// The export conditions an npm package's `exports` is read with, most preferred first, as
    /// wrangler's bundler chooses for Workers.
    fn conditions(self) -> &'static [&'static str] {
        match self {
            Want::Import => &[
                "workerd", "worker", "browser", "import", "module", "default",
            ],
            Want::Require => &["workerd", "worker", "browser", "require", "default"],
        }
    }

    /// The package.json fields naming the entry, when there is no `exports`.
    fn entry_fields(self) -> &'static [&'static str] {
        match self {
            Want::Import => &["module", "main"],
            Want::Require => &["main"],
        }
    }
}

impl ProjectLoader {
    /// A bare specifier (`hono`, `hono/cors`, `@scope/pkg/sub`): the package in the nearest
    /// `node_modules` from the importer up to the project root, its file chosen by `exports`
    /// (with [`CONDITIONS`]), else `module`, else `main`, else `index.js`.
    fn resolve_package(
        &self,
        importer: &str,
        specifier: &str,
        want: Want,
    ) -> std::result::Result<String, String> {
        let mut parts = specifier.splitn(if specifier.starts_with('@') { 3 } else { 2 }, '/');
        let package: Vec<&str> = parts
            .by_ref()
            .take(if specifier.starts_with('@') { 2 } else { 1 })
            .collect();
        let package = package.join("/");
        let rest = parts.next();
        if package.is_empty()
            || package
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(format!("\"{specifier}\" is not a package name"));
        }
        let subpath = rest.map_or_else(|| ".".to_owned(), |rest| format!("./{rest}"));
        let mut dir = std::path::Path::new(importer)
            .parent()
            .map(std::path::Path::to_path_buf);
        while let Some(current) = dir {
            let candidate = current.join("node_modules").join(&package);
            let manifest = self.root.join(&candidate).join("package.json");
            if manifest.is_file() {
                let text = std::fs::read_to_string(&manifest)
                    .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
                let json: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| format!("{} is not JSON: {e}", manifest.display()))?;
                let file = package_entry(&json, &subpath, want).ok_or_else(|| {
                    format!(
                        "package {package} exports nothing for \"{subpath}\" under the conditions {:?}",
                        want.conditions()
                    )
                })?;
                let base = format!(
                    "{}/package.json",
                    candidate.to_string_lossy().replace('\\', "/")
                );
                let resolved = resolve_relative(&base, &file)
                    .ok_or("the package's file leads outside the project")?;
                return Ok(self.with_extension(resolved));
            }
            dir = current.parent().map(std::path::Path::to_path_buf);
        }
        Err(format!(
            "no package {package} in node_modules (run npm install?)"
        ))
    }
}

/// The file of a package for `subpath` (`.` or `./sub`), relative to its directory.
fn package_entry(manifest: &serde_json::Value, subpath: &str, want: Want) -> Option<String> {
    if let Some(exports) = manifest.get("exports") {
        return exports_target(exports, subpath, want);
    }
    if subpath != "." {
        return Some(subpath.to_owned());
    }
    want.entry_fields()
        .iter()
        .find_map(|field| manifest.get(*field)?.as_str().map(str::to_owned))
        .or_else(|| Some("./index.js".to_owned()))
}

/// `exports` read for `subpath`: a string or conditions for `.`, or a map of subpaths (with
/// `*` patterns).
fn exports_target(exports: &serde_json::Value, subpath: &str, want: Want) -> Option<String> {
    let map = exports.as_object();
    let by_subpath = map.is_some_and(|m| m.keys().any(|k| k.starts_with('.')));
    if !by_subpath {
        return (subpath == ".")
            .then(|| condition_target(exports, None, want))
            .flatten();
    }
    let map = map?;
    if let Some(target) = map.get(subpath) {
        return condition_target(target, None, want);
    }
    map.iter().find_map(|(key, target)| {
        let (prefix, suffix) = key.split_once('*')?;
        let star = subpath.strip_prefix(prefix)?.strip_suffix(suffix)?;
        condition_target(target, Some(star), want)
    })
}

/// A target of `exports`: a path (with `*` filled in), the first of a list that resolves, or
/// the first of our conditions it names; `null` excludes.
fn condition_target(target: &serde_json::Value, star: Option<&str>, want: Want) -> Option<String> {
    match target {
        serde_json::Value::String(path) => {
            Some(star.map_or_else(|| path.clone(), |s| path.replace('*', s)))
        }
        serde_json::Value::Array(items) => {
            items.iter().find_map(|t| condition_target(t, star, want))
        }
        serde_json::Value::Object(conditions) => want.conditions().iter().find_map(|c| {
            conditions
                .get(*c)
                .and_then(|t| condition_target(t, star, want))
        }),
        _ => None,
    }
}

/// What an import may leave out, tried in order when the name itself is no file: TypeScript
/// projects import `./util` for `util.ts`, and `./util.js` for `util.ts` too.
const IMPLIED: &[&str] = &[
    ".ts",
    ".tsx",
    ".mts",
    ".js",
    ".mjs",
    ".cjs",
    ".json",
    "/index.ts",
    "/index.js",
    "/index.json",
];

impl ProjectLoader {
    /// `name` if it is a file of the project, else the first file an import of it could mean.
    fn with_extension(&self, name: String) -> String {
        let exists = |candidate: &str| self.root.join(candidate).is_file();
        if exists(&name) {
            return name;
        }
        let stem = name.strip_suffix(".js").unwrap_or(&name);
        IMPLIED
            .iter()
            .map(|suffix| format!("{stem}{suffix}"))
            .find(|candidate| exists(candidate))
            .unwrap_or(name)
    }
}

impl ProjectLoader {
    /// What `specifier` means among the embedder's builtins; see [`Builtins::resolve`].
    pub(crate) fn resolve_builtin(
        &self,
        specifier: &str,
    ) -> Option<std::result::Result<String, String>> {
        self.builtins.as_ref()?.resolve(specifier)
    }

    /// The exports of the builtin `name`.
    pub(crate) fn builtin_exports<'js>(&self, ctx: &Ctx<'js>, name: &str) -> Result<Value<'js>> {
        match &self.builtins {
            Some(builtins) => builtins.exports(ctx, name),
            None => Err(Error::new_loading_message(name, "no such builtin module")),
        }
    }

    /// The project file `specifier` means from `importer`: relative to it, or in a package.
    pub(crate) fn resolve_file(
        &self,
        importer: &str,
        specifier: &str,
        want: Want,
    ) -> std::result::Result<String, String> {
        if !(specifier.starts_with("./") || specifier.starts_with("../")) {
            if specifier.starts_with('/') {
                return Err("absolute paths are not modules; import relative to the file".into());
            }
            return self.resolve_package(importer, specifier, want);
        }
        let resolved = resolve_relative(importer, specifier)
            .ok_or("the path leads outside the project directory")?;
        Ok(self.with_extension(resolved))
    }

    pub(crate) fn is_file(&self, name: &str) -> bool {
        self.root.join(name).is_file()
    }

    /// The project file `name` as text.
    pub(crate) fn read_text(&self, name: &str) -> Result<String> {
        let bytes = self.read(name)?;
        String::from_utf8(bytes)
            .map_err(|_| Error::new_loading_message(name, format!("{name} is not UTF-8 text")))
    }

    fn read(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.root.join(name);
        std::fs::read(&path).map_err(|e| {
            Error::new_loading_message(name, format!("cannot read {}: {e}", path.display()))
        })
    }

    /// The `type` of the nearest package.json above the file `name`, within the project.
    pub(crate) fn package_type(&self, name: &str) -> Option<String> {
        let mut dir = Path::new(name).parent();
        while let Some(current) = dir {
            let manifest = self.root.join(current).join("package.json");
            if let Ok(text) = std::fs::read_to_string(&manifest) {
                let json: serde_json::Value = serde_json::from_str(&text).ok()?;
                return json.get("type")?.as_str().map(str::to_owned);
            }
            dir = current.parent();
        }
        None
    }
}

impl Resolver for ProjectLoader {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<String> {
        if let Some(builtin) = self.resolve_builtin(name) {
            return builtin.map_err(|why| Error::new_resolving_message(base, name, why));
        }
        self.resolve_file(base, name, Want::Import)
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
        if self.resolve_builtin(name).is_some() {
            let module = self.declare(ctx, name, || {
                let exports = self.builtin_exports(ctx, name)?;
                Ok(commonjs::facade_source(&exports)?.into_bytes())
            })?;
            let (loader, name) = (self.clone(), name.to_owned());
            commonjs::attach_exports(ctx, &module, move |ctx| loader.builtin_exports(ctx, &name))?;
            return Ok(module);
        }
        let (module, facade) = self.declare_module(ctx, name, || {
            let source = self.read(name)?;
            let treat = self.rules.treat(name);
            let commonjs = match treat {
                Some(treat) => treat == Treat::CommonJs,
                None => std::str::from_utf8(&source)
                    .is_ok_and(|text| commonjs::is_commonjs(self, name, text)),
            };
            if commonjs {
                // Run now, to learn its exports' names.
                let exports = commonjs::require_file(ctx, self, name)?;
                return Ok((commonjs::facade_source(&exports)?.into_bytes(), true));
            }
            as_module(self, name, treat, source)
                .map(|module| (module, false))
                .map_err(|message| Error::new_loading_message(name, message))
        })?;
        if facade {
            let (loader, name) = (self.clone(), name.to_owned());
            commonjs::attach_exports(ctx, &module, move |ctx| {
                commonjs::require_file(ctx, &loader, &name)
            })?;
        }
        Ok(module)
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_relative;

    #[test]
    fn resolves_against_the_importing_module() {
        assert_eq!(
            resolve_relative("src/index.js", "./lib/a.js").as_deref(),
            Some("src/lib/a.js")
        );
        assert_eq!(
            resolve_relative("src/lib/a.js", "../b.js").as_deref(),
            Some("src/b.js")
        );
        assert_eq!(
            resolve_relative("index.js", "./x/./y.js").as_deref(),
            Some("x/y.js")
        );
    }

    #[test]
    fn refuses_to_climb_above_the_root() {
        assert_eq!(resolve_relative("index.js", "../secret.js"), None);
        assert_eq!(resolve_relative("src/a.js", "../../etc/passwd"), None);
    }
}
