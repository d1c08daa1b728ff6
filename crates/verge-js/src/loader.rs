//! Resolving and loading a worker's ES modules from its project directory.
//!
//! Module names are paths relative to the project root (`src/index.js`), so that stack traces
//! and errors name files as the developer sees them. Relative specifiers resolve against the
//! importing module; bare specifiers (npm packages) are not resolved yet and fail with a message
//! that names both the specifier and the importer.

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Error, Module, Result};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

#[derive(Clone)]
pub struct ProjectLoader {
    root: Rc<PathBuf>,
}

impl ProjectLoader {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: Rc::new(root.into()),
        }
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

impl Resolver for ProjectLoader {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<String> {
        if !(name.starts_with("./") || name.starts_with("../")) {
            return Err(Error::new_resolving_message(
                base,
                name,
                "only relative imports (./ or ../) are supported; npm packages are not yet",
            ));
        }
        resolve_relative(base, name).ok_or_else(|| {
            Error::new_resolving_message(base, name, "the path leads outside the project directory")
        })
    }
}

impl Loader for ProjectLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<Module<'js, Declared>> {
        let path = self.root.join(name);
        let source = std::fs::read(&path).map_err(|e| {
            Error::new_loading_message(name, format!("cannot read {}: {e}", path.display()))
        })?;
        Module::declare(ctx.clone(), name, source)
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
