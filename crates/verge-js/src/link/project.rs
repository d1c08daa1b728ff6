//! A worker project's files as the linker reads them: found by the rules the QuickJS loader
//! follows (`project.rs`: relative paths, extensionless imports, npm packages by their
//! `exports`), TypeScript stripped as it is read, text, data and JSON files as the modules the
//! QuickJS loader makes of them (by the project's module rules). What the QuickJS loader takes
//! through facades — CommonJS files, the embedder's builtins and WebAssembly modules — is
//! refused by name here until the engine interface brings those facades to every engine.

use super::ModuleSource;
use crate::commonjs;
use crate::project::{ProjectFiles, Want};
use crate::{ModuleRules, PositionMap, Treat};
use std::collections::HashMap;
use std::path::PathBuf;

/// The modules of the project under one root directory.
pub struct ProjectModules {
    files: ProjectFiles,
    rules: ModuleRules,
    /// Where the places of stripped TypeScript modules come from, until the linker takes them.
    positions: HashMap<String, PositionMap>,
}

impl ProjectModules {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            files: ProjectFiles::new(root, None),
            rules: ModuleRules::default(),
            positions: HashMap::new(),
        }
    }

    /// The project's modules loaded by `rules` (wrangler's defaults alone otherwise).
    pub fn with_rules(self, rules: ModuleRules) -> Self {
        Self { rules, ..self }
    }
}

impl ModuleSource for ProjectModules {
    fn resolve(&mut self, importer: &str, specifier: &str) -> Result<String, String> {
        self.files.resolve_file(importer, specifier, Want::Import)
    }

    fn source(&mut self, id: &str) -> Result<String, String> {
        let treat = self.rules.treat(id);
        match treat {
            Some(Treat::Wasm) => {
                return Err(format!(
                    "{id} is WebAssembly, which only the QuickJS engine loads yet"
                ))
            }
            Some(Treat::CommonJs) => {
                return Err(format!(
                    "{id} is CommonJS, which only the QuickJS engine loads yet"
                ))
            }
            _ => {}
        }
        let bytes = self.files.read(id).map_err(|error| error.to_string())?;
        if let Some(module) = crate::loader::value_module(id, treat, &bytes)? {
            return Ok(module);
        }
        let lower = id.to_ascii_lowercase();
        let javascript = [".js", ".mjs", ".cjs"]
            .iter()
            .any(|end| lower.ends_with(end));
        if !javascript && !crate::is_typescript(id) {
            return Err(format!(
                "{id} is not JavaScript or TypeScript, which only the QuickJS engine loads yet"
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| format!("{id} is not UTF-8 text"))?;
        if crate::is_typescript(id) {
            let (code, positions) = crate::strip_types_mapped(id, &text)?;
            self.positions.insert(id.to_owned(), positions);
            return Ok(code);
        }
        if commonjs::is_commonjs(&self.files, id, &text) {
            return Err(format!(
                "{id} is CommonJS, which only the QuickJS engine loads yet"
            ));
        }
        Ok(text)
    }

    fn positions(&mut self, id: &str) -> Option<PositionMap> {
        self.positions.remove(id)
    }
}
