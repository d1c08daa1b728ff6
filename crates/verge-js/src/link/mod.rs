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

    /// Where the places of module `id`'s source (as [`source`](Self::source) gave it) come
    /// from in its file, when they moved (TypeScript stripped); taken once.
    fn positions(&mut self, id: &str) -> Option<crate::PositionMap> {
        let _ = id;
        None
    }
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
/// were, so a line of the script is a line of one module (of its source as the linker read
/// it: a stripped TypeScript module's places are mapped back to its file).
#[derive(Debug, Clone, Default)]
pub struct ModuleLines {
    /// Each module's lines in the script (1-based, from `start` to before `end`), in order.
    modules: Vec<ModuleSpan>,
}

#[derive(Debug, Clone)]
struct ModuleSpan {
    start: usize,
    end: usize,
    id: String,
    positions: Option<crate::PositionMap>,
}

impl ModuleLines {
    /// The module, line and column (from 1) that a place of the script is, if it is a
    /// module's; the linker's own lines are none.
    pub fn position(&self, line: usize, column: usize) -> Option<(&str, usize, usize)> {
        let index = self.modules.partition_point(|span| span.start <= line);
        let span = self.modules.get(index.checked_sub(1)?)?;
        if line >= span.end {
            return None;
        }
        let line = line - span.start + 1;
        let Some(positions) = &span.positions else {
            return Some((span.id.as_str(), line, column));
        };
        let as_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let (line, column) = positions.original(as_u32(line), as_u32(column))?;
        Some((span.id.as_str(), line as usize, column as usize))
    }
}

/// Links the graph under `entry` into one script (see the module's doc).
pub fn link(entry: &str, modules: &mut dyn ModuleSource) -> Result<LinkedScript, LinkError> {
    let mut linked: HashMap<String, module::Linked> = HashMap::new();
    let mut maps: HashMap<String, crate::PositionMap> = HashMap::new();
    let mut order = Vec::new();
    let mut pending = vec![(entry.to_owned(), false)];
    while let Some((id, dynamic)) = pending.pop() {
        if linked.contains_key(&id) {
            continue;
        }
        let module = modules.source(&id).and_then(|source| {
            if let Some(positions) = modules.positions(&id) {
                maps.insert(id.clone(), positions);
            }
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
    let mut spans = Vec::with_capacity(order.len());
    // Lines counted as the script grows, each part once, as JavaScript counts them.
    let (mut line, mut counted) = (1, 0);
    for id in &order {
        if let (Some(module), Some(exports)) = (linked.get(id), exports.get(id)) {
            let body = module.write(id, exports, &mut script);
            line += module::line_breaks(&script[counted..body]);
            let body_lines = module::line_breaks(&script[body..body + module.len()]) + 1;
            spans.push(ModuleSpan {
                start: line,
                end: line + body_lines,
                id: id.clone(),
                positions: maps.remove(id),
            });
            line += module::line_breaks(&script[body..]);
            counted = script.len();
        }
    }
    script.push_str("return $verge_link.start(");
    script.push_str(&crate::loader::js_string(entry));
    script.push_str(");\n})()");
    Ok(LinkedScript {
        script,
        lines: ModuleLines { modules: spans },
    })
}
