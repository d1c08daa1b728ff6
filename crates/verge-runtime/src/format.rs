//! Telling an ES module from a service-worker script, and how a worker's other files load
//! (its module rules).
//!
//! Wrangler asks its bundler whether the entry has ES module syntax; without a bundler, the
//! same question is answered by looking for a top-level `import`/`export` statement. A script
//! that merely mentions these words inside strings or comments on a line of its own is the rare
//! case this misjudges; it then loads as a module, which a service worker tolerates unless it
//! relies on sloppy-mode globals.

/// Whether `source` uses ES module syntax (a line that begins an `import` or `export`
/// statement; `import(` and `import.meta` are expressions, allowed in scripts too).
pub fn is_module(source: &str) -> bool {
    source.lines().any(|line| {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("export") {
            return rest.starts_with([' ', '{', '*', '\t']);
        }
        if let Some(rest) = line.strip_prefix("import") {
            return rest.starts_with([' ', '{', '*', '\t', '"', '\''])
                && !rest.trim_start().starts_with('(');
        }
        false
    })
}

/// The loader's rules from wrangler's `[[rules]]` of a worker whose entry is `main`.
pub(crate) fn module_rules(
    main: &str,
    rules: &[verge_config::ModuleRule],
) -> Result<verge_js::ModuleRules, String> {
    use verge_config::ModuleKind;
    use verge_js::Treat;
    verge_js::ModuleRules::new(
        main,
        rules.iter().map(|rule| {
            let treat = match rule.kind {
                ModuleKind::ESModule => Treat::EsModule,
                ModuleKind::CommonJS => Treat::CommonJs,
                ModuleKind::Text => Treat::Text,
                ModuleKind::Data => Treat::Data,
                ModuleKind::CompiledWasm => Treat::Wasm,
            };
            (treat, rule.globs.clone(), rule.fallthrough)
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::is_module;

    #[test]
    fn detects_module_syntax() {
        assert!(is_module("export default { fetch() {} }"));
        assert!(is_module(
            "import { a } from './a.js';\naddEventListener('fetch', () => {})"
        ));
        assert!(is_module("  export async function x() {}"));
        assert!(is_module("import './side-effect.js'"));
        assert!(!is_module(
            "addEventListener('fetch', (e) => e.respondWith(new Response('x')))"
        ));
        assert!(!is_module(
            "const exported = 1; const m = import('./x.js');"
        ));
        assert!(!is_module("importScripts('x')"));
    }
}
