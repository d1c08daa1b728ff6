//! wrangler's module rules: which files load as text, bytes, CommonJS or ES modules. A project's
//! own `[[rules]]` come first, matched against the file's path from the entry module's
//! directory; then wrangler's defaults (`.txt`/`.html`/`.sql` as Text, `.bin` as Data, `.wasm` as
//! CompiledWasm, `.cjs` as CommonJS), less those of any kind a project rule names without
//! `fallthrough`.

use globset::{GlobBuilder, GlobMatcher};

/// How a file loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treat {
    EsModule,
    CommonJs,
    /// Its text as the default export.
    Text,
    /// Its bytes, as an ArrayBuffer, as the default export.
    Data,
    /// WebAssembly: a `WebAssembly.Module` as the default export, compiled by the host.
    Wasm,
}

const DEFAULTS: &[(Treat, &str)] = &[
    (Treat::Text, "txt"),
    (Treat::Text, "html"),
    (Treat::Text, "sql"),
    (Treat::Data, "bin"),
    (Treat::Wasm, "wasm"),
    (Treat::CommonJs, "cjs"),
];

/// A project's rules and the defaults that still apply.
#[derive(Debug, Default)]
pub struct ModuleRules {
    /// The entry's directory (`src/`), which globs are relative to; empty for the root.
    base: String,
    rules: Vec<(Treat, GlobMatcher)>,
    /// Default rules no longer applied: a project rule of their kind without `fallthrough`.
    dropped: Vec<Treat>,
}

impl ModuleRules {
    /// The rules of a project whose entry module is `main`: each its kind, globs and
    /// `fallthrough`.
    pub fn new(
        main: &str,
        rules: impl IntoIterator<Item = (Treat, Vec<String>, bool)>,
    ) -> Result<Self, String> {
        let base = main
            .rsplit_once('/')
            .map_or_else(String::new, |(dir, _)| format!("{dir}/"));
        let mut compiled = Vec::new();
        let mut dropped = Vec::new();
        for (treat, globs, fallthrough) in rules {
            if !fallthrough {
                dropped.push(treat);
            }
            for glob in globs {
                let matcher = GlobBuilder::new(&glob)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| format!("rules: \"{glob}\" is not a glob: {}", e.kind()))?
                    .compile_matcher();
                compiled.push((treat, matcher));
            }
        }
        Ok(Self {
            base,
            rules: compiled,
            dropped,
        })
    }

    /// How the project file `name` loads, if a rule says.
    pub(crate) fn treat(&self, name: &str) -> Option<Treat> {
        let relative = name.strip_prefix(&self.base).unwrap_or(name);
        if let Some((treat, _)) = self
            .rules
            .iter()
            .find(|(_, glob)| glob.is_match(relative) || glob.is_match(name))
        {
            return Some(*treat);
        }
        let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
        DEFAULTS
            .iter()
            .find(|(treat, ext)| *ext == extension && !self.dropped.contains(treat))
            .map(|(treat, _)| *treat)
    }
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn project_rules_come_first_and_replace_defaults_of_their_kind() {
        let rules = ModuleRules::new(
            "src/index.js",
            [
                (Treat::Text, vec!["**/*.md".into()], false),
                (Treat::Data, vec!["assets/*.png".into()], true),
            ],
        )
        .unwrap();
        assert_eq!(rules.treat("src/docs/a.md"), Some(Treat::Text));
        assert_eq!(rules.treat("src/assets/logo.png"), Some(Treat::Data));
        assert_eq!(rules.treat("src/assets/deep/logo.png"), None);
        // A Text rule without fallthrough: .txt is no longer Text by default.
        assert_eq!(rules.treat("src/notes.txt"), None);
        // Data had fallthrough: .bin still is.
        assert_eq!(rules.treat("src/blob.bin"), Some(Treat::Data));
        assert_eq!(rules.treat("src/a.cjs"), Some(Treat::CommonJs));
        assert_eq!(rules.treat("src/a.js"), None);
        assert!(ModuleRules::new("index.js", [(Treat::Text, vec!["a[".into()], false)]).is_err());
    }
}
