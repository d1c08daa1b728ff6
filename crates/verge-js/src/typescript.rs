//! TypeScript at load: a module named `*.ts`, `*.mts`, `*.cts` or `*.tsx` has its types
//! stripped by oxc (parse, transform, print) before QuickJS sees it, as wrangler's esbuild
//! does; no type checking. A syntax error names the file, line and column; the printed code
//! comes with a [`PositionMap`] back to the TypeScript, by which stack traces name `.ts` lines.

use oxc::allocator::Allocator;
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::diagnostics::OxcDiagnostic;
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};
use std::path::Path;

/// Whether the module `name` is TypeScript (a declaration file is not a module to run).
pub fn is_typescript(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !name.ends_with(".d.ts")
        && [".ts", ".mts", ".cts", ".tsx"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// `source`, the TypeScript module `name`, as JavaScript.
pub fn strip_types(name: &str, source: &str) -> Result<String, String> {
    strip_types_mapped(name, source).map(|(code, _)| code)
}

/// Like [`strip_types`], with where each place of the JavaScript came from.
pub fn strip_types_mapped(name: &str, source: &str) -> Result<(String, PositionMap), String> {
    // The source is a tenant's: should the transformer panic on some input, that fails this
    // load, not the thread.
    std::panic::catch_unwind(|| transform(name, source)).unwrap_or_else(|_| {
        Err(format!(
            "{name}: the TypeScript transformer failed on this file"
        ))
    })
}

/// Places in generated code mapped to places in its source: the source map of one module,
/// kept as a sorted list of (generated line, column, source line, column), all from 0.
#[derive(Debug, Default, Clone)]
pub struct PositionMap(Vec<[u32; 4]>);

impl PositionMap {
    /// The source place (line and column from 1) of the generated one, from the nearest mapped
    /// place at or before it on its line.
    pub fn original(&self, line: u32, column: u32) -> Option<(u32, u32)> {
        let at = [line.checked_sub(1)?, column.saturating_sub(1)];
        let after = self.0.partition_point(|t| [t[0], t[1]] <= at);
        let token = self.0[..after].last().filter(|t| t[0] == at[0])?;
        Some((token[2] + 1, token[3] + 1))
    }
}

fn transform(name: &str, source: &str) -> Result<(String, PositionMap), String> {
    let allocator = Allocator::default();
    let source_type = SourceType::from_path(name).unwrap_or_else(|_| SourceType::ts());
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(error) = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == oxc::diagnostics::Severity::Error)
    {
        return Err(describe(name, source, error));
    }
    let mut program = parsed.program;
    let scoping = SemanticBuilder::new()
        .with_enum_eval(true)
        .build(&program)
        .semantic
        .into_scoping();
    let options = TransformOptions::default();
    let transformed = Transformer::new(&allocator, Path::new(name), &options)
        .build_with_scoping(scoping, &mut program);
    if let Some(error) = transformed.diagnostics.first() {
        return Err(describe(name, source, error));
    }
    let options = CodegenOptions {
        source_map_path: Some(Path::new(name).to_path_buf()),
        ..CodegenOptions::default()
    };
    let printed = Codegen::new().with_options(options).build(&program);
    let mut tokens: Vec<[u32; 4]> = printed
        .map
        .iter()
        .flat_map(|map| map.get_tokens())
        .map(|t| {
            [
                t.get_dst_line(),
                t.get_dst_col(),
                t.get_src_line(),
                t.get_src_col(),
            ]
        })
        .collect();
    tokens.sort_unstable();
    Ok((printed.code, PositionMap(tokens)))
}

/// `name:line:column: message`, from the error's first labelled place.
pub(crate) fn describe(name: &str, source: &str, error: &OxcDiagnostic) -> String {
    let Some(offset) = error.labels.first().map(|label| label.offset() as usize) else {
        return format!("{name}: {}", error.message);
    };
    let before = &source[..source.floor_char_boundary(offset.min(source.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{name}:{line}:{column}: {}", error.message)
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn types_go_and_code_stays() {
        let js = strip_types(
            "src/index.ts",
            "interface User { name: string }\n\
             enum Color { Red, Green }\n\
             import type { Thing } from './thing';\n\
             export const greet = (user: User): string => `hi ${user.name as string}`;\n\
             export const green: number = Color.Green;\n",
        )
        .unwrap();
        assert!(
            !js.contains("interface") && !js.contains(": string") && !js.contains("import type"),
            "{js}"
        );
        assert!(
            js.contains("export const greet") && js.contains("Color"),
            "{js}"
        );
        assert!(
            is_typescript("a/b.ts")
                && is_typescript("c.TSX")
                && !is_typescript("d.d.ts")
                && !is_typescript("e.js")
        );
    }

    #[test]
    fn generated_places_map_back_to_the_typescript() {
        let (js, map) = strip_types_mapped(
            "src/index.ts",
            "interface A {\n  a: string;\n}\n\nexport function f(x: A): string {\n  throw new Error(x.a);\n}\n",
        )
        .unwrap();
        let line = js.lines().position(|l| l.contains("throw")).unwrap();
        let column = js.lines().nth(line).unwrap().find("throw").unwrap();
        let line = u32::try_from(line + 1).unwrap();
        let column = u32::try_from(column + 1).unwrap();
        assert_eq!(map.original(line, column), Some((6, 3)), "{js}");
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let error = strip_types("src/bad.ts", "const a = 1;\nconst b: = 2;\n").unwrap_err();
        assert!(error.starts_with("src/bad.ts:2:"), "{error}");
    }
}
