//! The modules a worker imports by name rather than by path: Workers' `cloudflare:workers`,
//! `cloudflare:sockets` and `cloudflare:node`, and the Node.js modules of `nodejs_compat` (verge-web's [`NodeModules`]).

use verge_js::rquickjs::{self, Ctx, Value};
use verge_js::Builtins;
use verge_web::NodeModules;

/// `cloudflare:workers`, then the Node.js modules.
pub(crate) struct WorkerBuiltins {
    pub(crate) node: NodeModules,
}

/// The `cloudflare:` modules, whose exports sit on `internals` under their names.
const CLOUDFLARE: &[&str] = &[
    "cloudflare:workers",
    "cloudflare:sockets",
    "cloudflare:node",
];

impl Builtins for WorkerBuiltins {
    fn resolve(&self, specifier: &str) -> Option<Result<String, String>> {
        if CLOUDFLARE.contains(&specifier) {
            return Some(Ok(specifier.to_owned()));
        }
        if specifier.starts_with("cloudflare:") {
            return Some(Err(format!(
                "Verge has no module {specifier}; it provides {}",
                CLOUDFLARE.join(", ")
            )));
        }
        self.node.resolve(specifier)
    }

    fn exports<'js>(&self, ctx: &Ctx<'js>, name: &str) -> rquickjs::Result<Value<'js>> {
        if CLOUDFLARE.contains(&name) {
            return verge_web::internals(ctx)?.get(name);
        }
        self.node.exports(ctx, name)
    }

    fn wasm_module<'js>(
        &self,
        ctx: &Ctx<'js>,
        name: &str,
        bytes: Vec<u8>,
    ) -> rquickjs::Result<Value<'js>> {
        verge_wasm::module_value(ctx, name, &bytes)
    }
}
