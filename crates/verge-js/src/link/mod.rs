//! Linking a worker's ES module graph into one classic script, for an engine that runs scripts
//! only (JavaScriptCore's C API). Each module becomes a function registered under its id, its
//! imports rewritten to reads of its dependencies' namespace objects — so bindings stay live —
//! and its exports a table the namespace's getters read through. The script's completion value
//! is a promise of the entry module's namespace, settled once the graph has been instantiated
//! (each module's function is a generator run up to its bindings) and evaluated in
//! the specification's order (dependencies first, depth first; a cycle's back edge skipped;
//! modules with top-level `await` awaited before their dependents).
//!
//! What differs from real modules: a namespace's properties are accessors rather than data
//! properties; an anonymous default function or class is an expression, not a hoisted
//! declaration, and its `name` is `$verge_default`; importing a name a module does not export
//! gives `undefined` rather than a SyntaxError at link time; a name two `export *` bring is
//! the first's rather than left out; and module code sees its function's `arguments`.

mod module;
mod project;
mod runtime;

pub use project::ProjectModules;

use std::collections::HashMap;

/// Where the linker finds a worker's modules.
pub trait ModuleSource {
    /// The id of the module that `specifier` names when imported from module `importer`.
    fn resolve(&mut self, importer: &str, specifier: &str) -> Result<String, String>;
    /// The JavaScript source of module `id` (TypeScript already stripped).
    fn source(&mut self, id: &str) -> Result<String, String>;
}

/// Why a graph could not be linked: the module and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{module}: {message}")]
pub struct LinkError {
    pub module: String,
    pub message: String,
}

/// A linked graph: the script, and where each module's code lies in it.
#[derive(Debug, Clone)]
pub struct LinkedScript {
    pub script: String,
    pub lines: ModuleLines,
}

/// Where each module's code lies in a linked script: each module keeps its lines as they
/// were, so a line of the script is a line of one module.
#[derive(Debug, Clone, Default)]
pub struct ModuleLines {
    /// The line of the script (1-based) where each module's code starts, and its id, in order.
    starts: Vec<(usize, String)>,
}

impl ModuleLines {
    /// The module and line (1-based) that line `line` of the script is, if it is a module's.
    pub fn position(&self, line: usize) -> Option<(&str, usize)> {
        let index = self.starts.partition_point(|(start, _)| *start <= line);
        let (start, id) = self.starts.get(index.checked_sub(1)?)?;
        Some((id.as_str(), line - start + 1))
    }
}

/// Links the graph under `entry` into one script (see the module's doc).
pub fn link(entry: &str, modules: &mut dyn ModuleSource) -> Result<LinkedScript, LinkError> {
    let mut linked: HashMap<String, module::Linked> = HashMap::new();
    let mut order = Vec::new();
    let mut pending = vec![(entry.to_owned(), false)];
    while let Some((id, dynamic)) = pending.pop() {
        if linked.contains_key(&id) {
            continue;
        }
        let module = modules.source(&id).and_then(|source| {
            module::rewrite(&id, &source, &mut |specifier| {
                modules.resolve(&id, specifier)
            })
        });
        let module = match module {
            Ok(module) => module,
            // A module only `import()` asks for fails when it is asked for.
            Err(message) if dynamic => module::Linked::failed(&message),
            Err(message) => {
                return Err(LinkError {
                    module: id,
                    message,
                })
            }
        };
        pending.extend(
            module
                .requested()
                .map(|(id, dynamic)| (id.to_owned(), dynamic)),
        );
        order.push(id.clone());
        linked.insert(id, module);
    }
    let exports = module::resolve_star_exports(&linked);
    let mut script = String::with_capacity(
        runtime::RUNTIME.len() + linked.values().map(module::Linked::len).sum::<usize>(),
    );
    // The runtime's own names are out of the modules' sight: they see `$verge_link` alone.
    script.push_str("(() => {\nconst $verge_link = (() => {\n");
    script.push_str(runtime::RUNTIME);
    script.push_str("return { define, start };\n})();\n");
    let mut starts = Vec::with_capacity(order.len());
    // Lines counted as the script grows, each part once.
    let (mut lines, mut counted) = (1, 0);
    for id in &order {
        if let (Some(module), Some(exports)) = (linked.get(id), exports.get(id)) {
            let start = module.write(id, exports, &mut script);
            lines += script[counted..start].matches('\n').count();
            starts.push((lines, id.clone()));
            lines += script[start..].matches('\n').count();
            counted = script.len();
        }
    }
    script.push_str("return $verge_link.start(");
    script.push_str(&crate::loader::js_string(entry));
    script.push_str(");\n})()");
    Ok(LinkedScript {
        script,
        lines: ModuleLines { starts },
    })
}
