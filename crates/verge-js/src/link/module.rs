//! One module rewritten for the linked script: imports become reads of dependencies'
//! namespaces, `export` keywords go, and the export table is made from the module record.
//! Text is edited in place by spans, so that everything else keeps its line.

use crate::loader::js_string;
use crate::typescript::describe;
use oxc::allocator::Allocator;
use oxc::ast::ast::{
    ExportDefaultDeclarationKind, Expression, ImportDeclarationSpecifier, ModuleDeclaration,
};
use oxc::ast::AstKind;
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::{GetSpan, SourceType, Span};
use oxc::syntax::module_record::{ExportExportName, ExportImportName, ExportLocalName};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The parameters of each module's function: its dependencies' namespaces, the hand-over of its
/// own bindings' getters, `import.meta` and `import()`. Named so as not to meet a module's own.
const DEPS: &str = "$verge_deps";
const LOCALS: &str = "$verge_locals";
const META: &str = "$verge_meta";
const IMPORT: &str = "$verge_import";
/// The binding of an `export default` expression.
const DEFAULT: &str = "$verge_default";

/// What one export name of a module reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Export {
    /// A binding of the module's own.
    Local(String),
    /// Export `name` of module `module`.
    Reexport { module: String, name: String },
    /// The namespace of module `module`.
    Namespace(String),
}

/// A module, rewritten.
pub(super) struct Linked {
    body: String,
    /// The ids of its static dependencies, in order; an import from the k-th reads `DEPS[k]`.
    deps: Vec<String>,
    /// What each specifier it imports (statically, or by `import()` of a string) names.
    imports: BTreeMap<String, String>,
    exports: BTreeMap<String, Export>,
    /// Modules whose exports it re-exports by `export * from`.
    stars: Vec<String>,
    is_async: bool,
}

impl Linked {
    /// The modules it needs in the graph, each with whether only `import()` asks for it (one
    /// that cannot be loaded then rejects that promise rather than failing the graph).
    pub(super) fn requested(&self) -> impl Iterator<Item = (&str, bool)> {
        // What it imports but not statically, `import()` alone asks for.
        self.imports
            .values()
            .map(|id| (id.as_str(), !self.deps.contains(id)))
    }

    /// A module that could not be loaded, reached only by `import()`: evaluating it throws
    /// what went wrong.
    pub(super) fn failed(message: &str) -> Self {
        let class = if message.starts_with("SyntaxError: ") {
            "SyntaxError"
        } else {
            "TypeError"
        };
        let message = message.strip_prefix("SyntaxError: ").unwrap_or(message);
        Self {
            body: format!("throw new {class}({});", js_string(message)),
            deps: Vec::new(),
            imports: BTreeMap::new(),
            exports: BTreeMap::new(),
            stars: Vec::new(),
            is_async: false,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.body.len()
    }

    /// Appends the module's `define(…)` call, with `exports` (its own and those `export *`
    /// brings) as its table; gives the offset in `out` where the module's own code starts.
    pub(super) fn write(
        &self,
        id: &str,
        exports: &BTreeMap<String, Export>,
        out: &mut String,
    ) -> usize {
        out.push_str("$verge_link.define(");
        out.push_str(&js_string(id));
        out.push_str(", [");
        out.push_str(&list(self.deps.iter().map(|dep| js_string(dep))));
        // Pairs in arrays, not object literals, where `"__proto__": …` would set a prototype.
        out.push_str("], [");
        out.push_str(&list(self.imports.iter().map(|(specifier, id)| {
            format!("[{}, {}]", js_string(specifier), js_string(id))
        })));
        out.push_str("], [");
        out.push_str(&list(exports.iter().map(|(name, export)| {
            let name = js_string(name);
            match export {
                Export::Local(local) => format!("[{name}, 0, {}]", js_string(local)),
                Export::Reexport { module, name: from } => {
                    format!("[{name}, 1, {}, {}]", js_string(module), js_string(from))
                }
                Export::Namespace(module) => format!("[{name}, 2, {}]", js_string(module)),
            }
        })));
        out.push_str("], ");
        out.push_str(if self.is_async {
            "true, async "
        } else {
            "false, "
        });
        out.push_str(&format!(
            "function* ({DEPS}, {LOCALS}, {META}, {IMPORT}) {{\"use strict\"; {LOCALS}({{"
        ));
        let locals: BTreeSet<&str> = self
            .exports
            .values()
            .filter_map(|export| match export {
                Export::Local(local) => Some(local.as_str()),
                _ => None,
            })
            .collect();
        out.push_str(&list(
            locals
                .iter()
                .map(|local| format!("[{}]: () => {local}", js_string(local))),
        ));
        out.push_str("}); yield;\n");
        let start = out.len();
        out.push_str(&self.body);
        out.push_str("\n});\n");
        start
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// One text edit: `span` of the source replaced by `with`.
struct Edit {
    span: Span,
    with: String,
}

/// Rewrites module `id` (see the module's doc); `resolve` gives the id a specifier names.
pub(super) fn rewrite(
    id: &str,
    source: &str,
    resolve: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<Linked, String> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::mjs()).parse();
    if let Some(error) = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == oxc::diagnostics::Severity::Error)
    {
        return Err(format!("SyntaxError: {}", describe(id, source, error)));
    }
    let program = &parsed.program;
    let record = &parsed.module_record;
    let semantic = SemanticBuilder::new()
        .with_build_nodes(true)
        .build(program)
        .semantic;
    let scoping = semantic.scoping();
    let nodes = semantic.nodes();

    let mut deps: Vec<String> = Vec::new();
    let mut imports = BTreeMap::new();
    let mut dep_index = |specifier: &str,
                         deps: &mut Vec<String>,
                         imports: &mut BTreeMap<String, String>|
     -> Result<usize, String> {
        let target = match imports.get(specifier) {
            Some(target) => String::clone(target),
            None => {
                resolve(specifier).map_err(|why| format!("cannot import '{specifier}': {why}"))?
            }
        };
        imports.insert(specifier.to_owned(), target.clone());
        Ok(match deps.iter().position(|dep| *dep == target) {
            Some(index) => index,
            None => {
                deps.push(target);
                deps.len() - 1
            }
        })
    };

    let mut edits = Vec::new();
    // A `#!` line is only allowed first in a file, which a module's code here is not.
    if let Some(hashbang) = &program.hashbang {
        edits.push(Edit {
            span: hashbang.span,
            with: String::new(),
        });
    }
    // Imported bindings: local name -> what reads it.
    let mut imported: HashMap<String, (usize, Option<String>)> = HashMap::new();
    let mut default_local = None;
    let mut blanked: Vec<Span> = Vec::new();
    for statement in &program.body {
        let Some(declaration) = statement.as_module_declaration() else {
            continue;
        };
        match declaration {
            ModuleDeclaration::ImportDeclaration(import) => {
                let index = dep_index(import.source.value.as_str(), &mut deps, &mut imports)?;
                for specifier in import.specifiers.iter().flatten() {
                    let (local, name) = match specifier {
                        ImportDeclarationSpecifier::ImportSpecifier(named) => (
                            named.local.name.as_str(),
                            Some(named.imported.name().as_str().to_owned()),
                        ),
                        ImportDeclarationSpecifier::ImportDefaultSpecifier(default) => {
                            (default.local.name.as_str(), Some("default".to_owned()))
                        }
                        ImportDeclarationSpecifier::ImportNamespaceSpecifier(namespace) => {
                            (namespace.local.name.as_str(), None)
                        }
                    };
                    imported.insert(local.to_owned(), (index, name));
                }
                blanked.push(import.span);
            }
            ModuleDeclaration::ExportDeclaration(export) => {
                edits.push(Edit {
                    span: Span::new(export.span.start, export.declaration.span().start),
                    with: String::new(),
                });
            }
            ModuleDeclaration::ExportDefaultDeclaration(export) => {
                let start = export.declaration.span().start;
                let named = match &export.declaration {
                    ExportDefaultDeclarationKind::FunctionDeclaration(function) => {
                        function.id.as_ref().map(|id| id.name.as_str().to_owned())
                    }
                    ExportDefaultDeclarationKind::ClassDeclaration(class) => {
                        class.id.as_ref().map(|id| id.name.as_str().to_owned())
                    }
                    _ => None,
                };
                match named {
                    Some(name) => {
                        edits.push(Edit {
                            span: Span::new(export.span.start, start),
                            with: String::new(),
                        });
                        default_local = Some(name);
                    }
                    None => {
                        edits.push(Edit {
                            span: Span::new(export.span.start, start),
                            with: format!("const {DEFAULT} = "),
                        });
                        let end = export.declaration.span().end;
                        edits.push(Edit {
                            span: Span::new(end, end),
                            with: ";".to_owned(),
                        });
                        default_local = Some(DEFAULT.to_owned());
                    }
                }
            }
            ModuleDeclaration::ExportNamedDeclaration(export) => blanked.push(export.span),
            ModuleDeclaration::ExportFromDeclaration(export) => {
                dep_index(export.source.value.as_str(), &mut deps, &mut imports)?;
                blanked.push(export.span);
            }
            ModuleDeclaration::ExportAllDeclaration(export) => {
                dep_index(export.source.value.as_str(), &mut deps, &mut imports)?;
                blanked.push(export.span);
            }
            _ => {}
        }
    }

    // Each read of an imported binding becomes a read of the dependency's namespace, called
    // with `this` undefined as a binding would be (`(0, ns.f)()`).
    for (local, (index, name)) in &imported {
        let Some(symbol) = scoping.get_root_binding(local.as_str().into()) else {
            continue;
        };
        // A write (which strict mode refuses, the namespace having no setters) must stay an
        // assignment target: the member itself, not `(0, member)`.
        let member = match name {
            Some(name) => format!("{DEPS}[{index}][{}]", js_string(name)),
            None => format!("{DEPS}[{index}]"),
        };
        let read = match name {
            Some(_) => format!("(0, {member})"),
            None => member.clone(),
        };
        for &reference in scoping.get_resolved_reference_ids(symbol) {
            let reference = scoping.get_reference(reference);
            let node = reference.node_id();
            let span = nodes.kind(node).span();
            if blanked
                .iter()
                .any(|outer| outer.start <= span.start && span.end <= outer.end)
            {
                continue;
            }
            let edit = match nodes.parent_kind(node) {
                AstKind::ObjectProperty(property) if property.shorthand => Edit {
                    span: property.span,
                    with: format!("{local}: {read}"),
                },
                AstKind::AssignmentTargetPropertyIdentifier(_) => Edit {
                    span,
                    with: format!("{local}: {member}"),
                },
                _ if reference.is_write() => Edit {
                    span,
                    with: member.clone(),
                },
                _ => Edit {
                    span,
                    with: read.clone(),
                },
            };
            edits.push(edit);
        }
    }
    for span in &blanked {
        edits.push(Edit {
            span: *span,
            with: newlines_in(&source[span.start as usize..span.end as usize]),
        });
    }
    for meta in &record.import_metas {
        edits.push(Edit {
            span: *meta,
            with: META.to_owned(),
        });
    }
    for node in nodes.iter() {
        let AstKind::ImportExpression(import) = node.kind() else {
            continue;
        };
        edits.push(Edit {
            span: Span::new(import.span.start, import.span.start + "import".len() as u32),
            with: IMPORT.to_owned(),
        });
        // A specifier written as a string (its escapes decoded) is resolved now, so that its
        // module joins the graph; any other is looked up among those when the script runs.
        let specifier = match &import.source {
            Expression::StringLiteral(literal) => Some(literal.value.as_str().to_owned()),
            Expression::TemplateLiteral(template) if template.expressions.is_empty() => template
                .quasis
                .first()
                .and_then(|quasi| quasi.value.cooked.as_ref())
                .map(|cooked| cooked.as_str().to_owned()),
            _ => None,
        };
        if let Some(specifier) = specifier {
            if let Ok(target) = resolve(&specifier) {
                imports.insert(specifier, target);
            }
        }
    }

    let mut exports = BTreeMap::new();
    let mut stars = Vec::new();
    for entry in &record.local_export_entries {
        let name = match &entry.export_name {
            ExportExportName::Name(name) => name.name.as_str().to_owned(),
            ExportExportName::Default(_) => "default".to_owned(),
            ExportExportName::Null => continue,
        };
        let local = match &entry.local_name {
            ExportLocalName::Name(local) => local.name.as_str().to_owned(),
            ExportLocalName::Default(_) | ExportLocalName::Null => match &default_local {
                Some(local) => local.clone(),
                None => continue,
            },
        };
        let export = match imported.get(&local) {
            Some((index, Some(imported_name))) => Export::Reexport {
                module: deps[*index].clone(),
                name: imported_name.clone(),
            },
            Some((index, None)) => Export::Namespace(deps[*index].clone()),
            None => Export::Local(local),
        };
        exports.insert(name, export);
    }
    for entry in &record.indirect_export_entries {
        let (Some(request), ExportExportName::Name(name)) =
            (&entry.module_request, &entry.export_name)
        else {
            continue;
        };
        let module = imports
            .get(request.name.as_str())
            .cloned()
            .ok_or_else(|| format!("cannot import '{}'", request.name))?;
        let export = match &entry.import_name {
            ExportImportName::Name(imported_name) => Export::Reexport {
                module,
                name: imported_name.name.as_str().to_owned(),
            },
            _ => Export::Namespace(module),
        };
        exports.insert(name.name.as_str().to_owned(), export);
    }
    for entry in &record.star_export_entries {
        if let Some(request) = &entry.module_request {
            if let Some(module) = imports.get(request.name.as_str()) {
                stars.push(module.clone());
            }
        }
    }

    let is_async = nodes.iter().any(|node| {
        matches!(node.kind(), AstKind::AwaitExpression(_))
            || matches!(node.kind(), AstKind::ForOfStatement(each) if each.r#await)
    } && !nodes.ancestor_kinds(node.id()).any(|kind| {
        matches!(kind, AstKind::Function(_) | AstKind::ArrowFunctionExpression(_))
    }));

    Ok(Linked {
        body: apply(source, edits),
        deps,
        imports,
        exports,
        stars,
        is_async,
    })
}

/// `source` with `edits` made: an insertion (an empty span) before an edit starting where it
/// is; where edits would overlap, the first wins.
fn apply(source: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|edit| {
        let span = edit.span;
        (
            span.start,
            span.end != span.start,
            std::cmp::Reverse(span.end),
        )
    });
    let mut out = String::with_capacity(source.len() + edits.len() * 16);
    let mut at = 0usize;
    for edit in edits {
        let (start, end) = (edit.span.start as usize, edit.span.end as usize);
        if start < at {
            continue;
        }
        out.push_str(&source[at..start]);
        out.push_str(&edit.with);
        at = end;
    }
    out.push_str(&source[at..]);
    out
}

/// As many line breaks as `text` has line terminators (`\r\n` one, and `\r`, `\n`, U+2028
/// and U+2029), so that what follows keeps its line.
fn newlines_in(text: &str) -> String {
    "\n".repeat(line_breaks(text))
}

/// How many line terminators `text` has, as JavaScript counts them (`\r\n` one, and `\r`,
/// `\n`, U+2028 and U+2029).
pub(super) fn line_breaks(text: &str) -> usize {
    let mut chars = text.chars().peekable();
    let mut count = 0;
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => count += 1,
            _ => {}
        }
    }
    count
}

/// Each module's export table with what its `export * from` brings: every name of the modules
/// named (theirs, recursively) but `default`, unless the module exports that name itself.
/// Each module's table is made once, so that chains of `export *` cost what they hold.
pub(super) fn resolve_star_exports(
    linked: &HashMap<String, Linked>,
) -> HashMap<String, BTreeMap<String, Export>> {
    fn names(
        id: &str,
        linked: &HashMap<String, Linked>,
        visiting: &mut HashSet<String>,
        done: &mut HashMap<String, BTreeMap<String, Export>>,
    ) -> BTreeMap<String, Export> {
        if let Some(exports) = done.get(id) {
            return exports.clone();
        }
        let Some(module) = linked.get(id) else {
            return BTreeMap::new();
        };
        let mut exports = module.exports.clone();
        // A cycle of `export *` stops where it began.
        if !visiting.insert(id.to_owned()) {
            return exports;
        }
        for star in &module.stars {
            for name in names(star, linked, visiting, done).into_keys() {
                if name != "default" && !exports.contains_key(&name) {
                    exports.insert(
                        name.clone(),
                        Export::Reexport {
                            module: star.clone(),
                            name,
                        },
                    );
                }
            }
        }
        visiting.remove(id);
        done.insert(id.to_owned(), exports.clone());
        exports
    }
    let mut done = HashMap::new();
    for id in linked.keys() {
        names(id, linked, &mut HashSet::new(), &mut done);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::line_breaks;

    /// Lines as JavaScript counts them, so that a module's lines in the linked script are
    /// counted as the engine numbers them.
    #[test]
    fn line_breaks_are_counted_as_javascript_counts_them() {
        assert_eq!(line_breaks("a\r\nb\rc\nd\u{2028}e\u{2029}f"), 5);
        assert_eq!(line_breaks("no break"), 0);
        assert_eq!(line_breaks("\r\n\r\n"), 2);
        assert_eq!(line_breaks("\n\r"), 2);
    }
}
