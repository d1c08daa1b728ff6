//! CommonJS modules and the modules the runtime provides, as ES modules see them.
//!
//! npm is full of CommonJS (`module.exports = …`, `require('x')`). A CommonJS file runs as
//! Node runs it: wrapped in `function (exports, require, module, __filename, __dirname)`, once
//! per isolate, its `require` synchronous and resolved by the same rules as imports (with the
//! `require` condition), JSON files parsed. An `import` of one gets a *facade*: an ES module
//! whose default export is `module.exports` (or its `default` when it says `__esModule`, as
//! esbuild has it) and whose named exports are the keys `module.exports` had when the facade
//! was made — found by running the file, since no lexical guess reads every bundler's output.
//! Builtins (`node:buffer`, provided through [`crate::Builtins`]) get the same facade over their
//! exports object.
//!
//! A facade reaches the value it re-exports through its own `import.meta.exports()`, which
//! nothing else can see.

use crate::project::{ProjectFiles, Want};
use crate::with_host_state;
use rquickjs::context::EvalOptions;
use rquickjs::module::Declared;
use rquickjs::{Ctx, Exception, Function, Module, Object, Persistent, Result, Value};

/// The CommonJS modules an isolate has run, by name: `{ exports, id, filename, loaded }`.
struct Required(Persistent<Object<'static>>);

fn required<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    if let Some(table) = with_host_state(ctx, |table: &Required| table.0.clone()) {
        return table.restore(ctx);
    }
    let table = Object::new(ctx.clone())?;
    crate::store_host_state(ctx, Required(Persistent::save(ctx, table.clone())))?;
    Ok(table)
}

/// Whether the project file `name` (its text `source`) is CommonJS: `.cjs`; or `.js` with no
/// ES module syntax, outside a package of `"type": "module"`, using `require`, `module` or
/// `exports`.
pub(crate) fn is_commonjs(files: &ProjectFiles, name: &str, source: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".cjs") {
        return true;
    }
    if !lower.ends_with(".js") || files.package_type(name).as_deref() == Some("module") {
        return false;
    }
    let mentions_commonjs = ["require(", "module.exports", "exports.", "exports["]
        .iter()
        .any(|marker| source.contains(marker));
    mentions_commonjs && !has_module_syntax(source)
}

fn has_module_syntax(source: &str) -> bool {
    let allocator = oxc::allocator::Allocator::default();
    let parsed = oxc::parser::Parser::new(&allocator, source, oxc::span::SourceType::mjs()).parse();
    parsed.module_record.has_module_syntax
}

/// Runs the CommonJS file `name` unless this isolate already has; its `module.exports`.
pub(crate) fn require_file<'js>(
    ctx: &Ctx<'js>,
    files: &ProjectFiles,
    name: &str,
) -> Result<Value<'js>> {
    let table = required(ctx)?;
    if let Some(module) = table.get::<_, Option<Object>>(name)? {
        return module.get("exports");
    }
    let source = files.read_text(name)?;
    let module = Object::new(ctx.clone())?;
    let filename = format!("/{name}");
    let dirname = filename
        .rsplit_once('/')
        .map_or("/", |(dir, _)| if dir.is_empty() { "/" } else { dir })
        .to_owned();
    module.set("id", filename.as_str())?;
    module.set("filename", filename.as_str())?;
    module.set("path", dirname.as_str())?;
    module.set("loaded", false)?;
    if name.to_ascii_lowercase().ends_with(".json") {
        let value = ctx
            .json_parse(source.trim_start_matches('\u{feff}'))
            .map_err(|_| Exception::throw_syntax(ctx, &format!("{name} is not valid JSON")))?;
        module.set("exports", value)?;
        module.set("loaded", true)?;
        table.set(name, module.clone())?;
        return module.get("exports");
    }
    let exports = Object::new(ctx.clone())?;
    module.set("exports", exports.clone())?;
    // In the cache before it runs, so that a cycle of requires sees the exports so far.
    table.set(name, module.clone())?;
    let run = || -> Result<()> {
        let body = source.strip_prefix("#!").map_or(source.as_str(), |rest| {
            rest.find('\n').map_or("", |end| &rest[end..])
        });
        let mut options = EvalOptions::default();
        options.global = true;
        options.strict = false;
        options.filename = Some(name.to_owned());
        // One line, so that line numbers in stack traces are the file's.
        let wrapper: Function = ctx.eval_with_options(
            format!("(function (exports, require, module, __filename, __dirname) {{{body}\n}})"),
            options,
        )?;
        let require = require_function(ctx, files, name)?;
        module.set("require", require.clone())?;
        wrapper.call::<_, ()>((
            rquickjs::function::This(exports.clone()),
            exports,
            require,
            module.clone(),
            filename.as_str(),
            dirname.as_str(),
        ))
    };
    if let Err(error) = run() {
        table.remove(name)?;
        return Err(error);
    }
    module.set("loaded", true)?;
    module.get("exports")
}

/// The files of the project an isolate loads, for `require`s made after loading.
pub(crate) struct IsolateFiles(pub(crate) ProjectFiles);

/// A `require` that resolves as one in the project file `filename` would (an absolute path in
/// the project, or its `file://` URL, as `import.meta.url` gives it): Node's
/// `module.createRequire`. A name ending in `/` is a directory of the project.
pub fn create_require<'js>(ctx: &Ctx<'js>, filename: &str) -> Result<Function<'js>> {
    let Some(files) = with_host_state(ctx, |files: &IsolateFiles| files.0.clone()) else {
        return Err(Exception::throw_message(
            ctx,
            "createRequire: this isolate loads no project",
        ));
    };
    let path = filename.strip_prefix("file://").unwrap_or(filename);
    if !path.starts_with('/') {
        return Err(Exception::throw_type(
            ctx,
            &format!("createRequire: {filename} is not an absolute path or file URL"),
        ));
    }
    // The path within the project, `..` taken lexically and never above its root.
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    // A directory stands for a file in it, which is what resolution starts from.
    if path.ends_with('/') || parts.is_empty() {
        parts.push("index.js");
    }
    require_function(ctx, &files, &parts.join("/"))
}

/// What `node:fs` sees of the project's file `relative` (a path under its root without `..`):
/// `None` if there is nothing there (or the isolate has no project).
pub enum BundleEntry {
    File { size: u64, modified_ms: f64 },
    Directory { modified_ms: f64 },
}

/// The project path `relative` (its parts joined by `/`), under the root. Hidden names (a
/// leading `.`: `..`, and `.verge`, where the project's local data lives) are not part of it.
fn bundle_path(ctx: &Ctx<'_>, relative: &str) -> Option<std::path::PathBuf> {
    let root = with_host_state(ctx, |files: &IsolateFiles| files.0.root())?;
    let parts: Vec<&str> = relative
        .split('/')
        .filter(|part| !part.is_empty())
        .collect();
    if parts.iter().any(|part| part.starts_with('.')) {
        return None;
    }
    Some(parts.iter().fold(root, |path, part| path.join(part)))
}

/// What is at the project path `relative` (see [`BundleEntry`]).
pub fn bundle_entry(ctx: &Ctx<'_>, relative: &str) -> Option<BundleEntry> {
    let metadata = std::fs::metadata(bundle_path(ctx, relative)?).ok()?;
    #[allow(clippy::cast_precision_loss)]
    let modified_ms = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |since| since.as_millis() as f64);
    if metadata.is_dir() {
        return Some(BundleEntry::Directory { modified_ms });
    }
    Some(BundleEntry::File {
        size: metadata.len(),
        modified_ms,
    })
}

/// The most bytes one read of a project file gives: files a worker reads are its own
/// templates and data, and this bounds what the host allocates for one.
pub const BUNDLE_READ_LIMIT: u64 = 128 * 1024 * 1024;

/// The bytes of the project file `relative`, unless it is larger than [`BUNDLE_READ_LIMIT`].
pub fn bundle_read(ctx: &Ctx<'_>, relative: &str) -> Option<Vec<u8>> {
    let path = bundle_path(ctx, relative)?;
    if std::fs::metadata(&path).ok()?.len() > BUNDLE_READ_LIMIT {
        return None;
    }
    std::fs::read(path).ok()
}

/// The names in the project directory `relative`, each with whether it is a directory.
pub fn bundle_list(ctx: &Ctx<'_>, relative: &str) -> Option<Vec<(String, bool)>> {
    let mut names: Vec<(String, bool)> = std::fs::read_dir(bundle_path(ctx, relative)?)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let is_dir = entry.path().is_dir();
            let name = entry.file_name().into_string().ok()?;
            (!name.starts_with('.')).then_some((name, is_dir))
        })
        .collect();
    names.sort();
    Some(names)
}

/// The `require` of the CommonJS module `importer`, with `require.resolve`.
fn require_function<'js>(
    ctx: &Ctx<'js>,
    files: &ProjectFiles,
    importer: &str,
) -> Result<Function<'js>> {
    let (for_require, for_resolve) = (files.clone(), files.clone());
    let (importer, importer_too) = (importer.to_owned(), importer.to_owned());
    let require =
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, specifier: String| match resolve_required(
                &ctx,
                &for_require,
                &importer,
                &specifier,
            )? {
                Resolved::Builtin(name) => for_require.builtin_exports(&ctx, &name),
                Resolved::File(name) => require_file(&ctx, &for_require, &name),
            },
        )?;
    let resolve = Function::new(ctx.clone(), move |ctx: Ctx<'js>, specifier: String| {
        resolve_required(&ctx, &for_resolve, &importer_too, &specifier).map(|r| match r {
            Resolved::Builtin(name) => name,
            Resolved::File(name) => format!("/{name}"),
        })
    })?;
    require.set("resolve", resolve)?;
    Ok(require)
}

enum Resolved {
    Builtin(String),
    File(String),
}

fn resolve_required(
    ctx: &Ctx<'_>,
    files: &ProjectFiles,
    importer: &str,
    specifier: &str,
) -> Result<Resolved> {
    let fail = |why: String| {
        Exception::throw_message(
            ctx,
            &format!("Cannot find module '{specifier}' required by {importer}: {why}"),
        )
    };
    if let Some(builtin) = files.resolve_builtin(specifier) {
        return builtin.map(Resolved::Builtin).map_err(fail);
    }
    let name = files
        .resolve_file(importer, specifier, Want::Require)
        .map_err(fail)?;
    if !files.is_file(&name) {
        return Err(fail("no such file".into()));
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".mjs") || crate::is_typescript(&name) {
        return Err(fail(format!(
            "{name} is an ES module; import it instead of require()"
        )));
    }
    Ok(Resolved::File(name))
}

/// The source of a facade re-exporting `value` (its keys that are names as named exports).
pub(crate) fn facade_source(value: &Value<'_>) -> Result<String> {
    let mut source = String::from("const exports = import.meta.exports();\n");
    source.push_str(
        "export default exports !== null && typeof exports === 'object' && exports.__esModule && 'default' in exports ? exports.default : exports;\n",
    );
    let keys: Vec<String> = match value.as_object() {
        Some(object) => object.keys::<String>().collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let names: Vec<&String> = keys
        .iter()
        .filter(|key| key.as_str() != "default" && is_identifier_name(key))
        .collect();
    for (index, name) in names.iter().enumerate() {
        source.push_str(&format!("const e{index} = exports.{name};\n"));
    }
    if !names.is_empty() {
        let list: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(index, name)| format!("e{index} as {name}"))
            .collect();
        source.push_str(&format!("export {{ {} }};\n", list.join(", ")));
    }
    Ok(source)
}

fn is_identifier_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Gives the facade `module` its `import.meta.exports()`: `exports` called once, when the facade
/// runs.
pub(crate) fn attach_exports<'js>(
    ctx: &Ctx<'js>,
    module: &Module<'js, Declared>,
    exports: impl Fn(&Ctx<'js>) -> Result<Value<'js>> + 'js,
) -> Result<()> {
    let function = Function::new(ctx.clone(), move |ctx: Ctx<'js>| exports(&ctx))?;
    module.meta()?.set("exports", function)
}
