//! A worker project's files as its modules see them: what a specifier names (a relative path,
//! a package in `node_modules` by its `exports` conditions, or one of the embedder's
//! [`Builtins`]) and reading those files. Both the ES module loader (`loader`) and CommonJS's
//! synchronous `require` (`commonjs`) resolve through here, by the same rules.

use rquickjs::{Ctx, Error, Result, Value};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

/// Modules the embedder provides (`node:buffer`, …), that imports and `require` find before
/// any file.
pub trait Builtins {
    /// What `specifier` names among them: `Some(Ok(name))` to load as `name`, `Some(Err(why))`
    /// for one that exists but cannot be used here, `None` for none of them.
    fn resolve(&self, specifier: &str) -> Option<std::result::Result<String, String>>;

    /// The exports of the builtin `name` (an object or function whose own enumerable keys are
    /// its named exports).
    fn exports<'js>(&self, ctx: &Ctx<'js>, name: &str) -> Result<Value<'js>>;

    /// The default export of the project's WebAssembly file `name` (a `WebAssembly.Module`),
    /// made from its `bytes`; an error naming the file if they are not a module this host
    /// runs.
    fn wasm_module<'js>(&self, _ctx: &Ctx<'js>, name: &str, _bytes: Vec<u8>) -> Result<Value<'js>> {
        Err(Error::new_loading_message(
            name,
            format!("{name} is WebAssembly (CompiledWasm), which this host cannot run"),
        ))
    }
}

/// The files of one project, under its root directory, and the builtins found before them.
#[derive(Clone)]
pub(crate) struct ProjectFiles {
    root: Rc<PathBuf>,
    builtins: Option<Rc<dyn Builtins>>,
}

impl ProjectFiles {
    pub(crate) fn new(root: impl Into<PathBuf>, builtins: Option<Rc<dyn Builtins>>) -> Self {
        Self {
            root: Rc::new(root.into()),
            builtins,
        }
    }
}

/// Joins `specifier` onto the directory of `importer`, lexically, refusing to climb above the
/// project root. Both are `/`-separated names relative to the root.
pub(crate) fn resolve_relative(importer: &str, specifier: &str) -> Option<String> {
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

impl ProjectFiles {
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

impl ProjectFiles {
    /// `name` if it is a file of the project, else the first file an import of it could mean.
    fn with_extension(&self, name: String) -> String {
        if self.is_file(&name) {
            return name;
        }
        // A directory with a package.json naming its `main` means that file, as in Node.
        if let Some(main) = self.directory_main(&name) {
            return main;
        }
        let stem = name.strip_suffix(".js").unwrap_or(&name);
        IMPLIED
            .iter()
            // The project root's own index is `index.js`, not `/index.js`.
            .map(|suffix| format!("{stem}{suffix}").trim_start_matches('/').to_owned())
            .find(|candidate| self.is_file(candidate))
            .unwrap_or(name)
    }

    /// The file the `main` of directory `name`'s package.json names, if it is one.
    fn directory_main(&self, name: &str) -> Option<String> {
        let manifest = std::fs::read_to_string(self.root.join(name).join("package.json")).ok()?;
        let json: serde_json::Value = serde_json::from_str(&manifest).ok()?;
        let main = json.get("main")?.as_str()?;
        let target = resolve_relative(&format!("{name}/package.json"), &format!("./{main}"))?;
        IMPLIED
            .iter()
            .map(|suffix| format!("{target}{suffix}"))
            .chain(std::iter::once(target.clone()))
            .find(|candidate| self.is_file(candidate))
    }
}

impl ProjectFiles {
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

    /// The `WebAssembly.Module` of the project's Wasm file `name`; see [`Builtins::wasm_module`].
    pub(crate) fn wasm_module<'js>(&self, ctx: &Ctx<'js>, name: &str) -> Result<Value<'js>> {
        let bytes = self.read(name)?;
        match &self.builtins {
            Some(builtins) => builtins.wasm_module(ctx, name, bytes),
            None => Err(Error::new_loading_message(
                name,
                "no host to compile WebAssembly",
            )),
        }
    }

    /// The project file `specifier` means from `importer`: relative to it, or in a package.
    pub(crate) fn resolve_file(
        &self,
        importer: &str,
        specifier: &str,
        want: Want,
    ) -> std::result::Result<String, String> {
        let relative = matches!(specifier, "." | "..")
            || specifier.starts_with("./")
            || specifier.starts_with("../");
        if !relative {
            if specifier.starts_with('/') {
                return Err("absolute paths are not modules; import relative to the file".into());
            }
            return self.resolve_package(importer, specifier, want);
        }
        let resolved = resolve_relative(importer, specifier)
            .ok_or("the path leads outside the project directory")?;
        Ok(self.with_extension(resolved))
    }

    /// The project's root directory.
    pub(crate) fn root(&self) -> PathBuf {
        self.root.as_ref().clone()
    }

    /// Whether `name` is a file of the project.
    pub(crate) fn is_file(&self, name: &str) -> bool {
        self.root.join(name).is_file()
    }

    /// The project file `name` as text.
    pub(crate) fn read_text(&self, name: &str) -> Result<String> {
        let bytes = self.read(name)?;
        String::from_utf8(bytes)
            .map_err(|_| Error::new_loading_message(name, format!("{name} is not UTF-8 text")))
    }

    pub(crate) fn read(&self, name: &str) -> Result<Vec<u8>> {
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

    /// `require('.')` and `require('..')` name directories, as in Node: a package.json's
    /// `main` there, else its index; the project root's index is a project file.
    #[test]
    fn dot_and_dot_dot_are_directories() -> std::io::Result<()> {
        use super::{ProjectFiles, Want};
        let dir = tempfile::tempdir()?;
        let write = |name: &str, text: &str| -> std::io::Result<()> {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)
        };
        write("index.js", "")?;
        write("lib/index.js", "")?;
        write("lib/deep/a.js", "")?;
        write("pkg/package.json", r#"{ "main": "dist/main" }"#)?;
        write("pkg/dist/main.js", "")?;
        write("pkg/sub/b.js", "")?;
        let files = ProjectFiles::new(dir.path(), None);
        let resolve = |importer: &str, specifier: &str| {
            files.resolve_file(importer, specifier, Want::Require).ok()
        };
        assert_eq!(
            resolve("lib/deep/a.js", "..").as_deref(),
            Some("lib/index.js")
        );
        assert_eq!(resolve("lib/a.js", ".").as_deref(), Some("lib/index.js"));
        assert_eq!(
            resolve("pkg/sub/b.js", "..").as_deref(),
            Some("pkg/dist/main.js")
        );
        assert_eq!(resolve("lib/a.js", "..").as_deref(), Some("index.js"));
        Ok(())
    }
}
