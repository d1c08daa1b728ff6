//! Service bindings (`services` → the server's [`ServiceResolver`](crate::ServiceResolver) →
//! `env.OTHER`): a `Fetcher` whose `fetch()` runs another worker of the same server, and whose
//! other methods are JS RPC to the worker's `WorkerEntrypoint` (its default export, or the
//! class the binding's `entrypoint` names).

use crate::{Capabilities, Kind, Service};
use std::rc::Rc;
use verge_config::WorkerConfig;
use verge_js::rquickjs::{self, Ctx, Function, Object, Value};
use verge_js::Ops;
use verge_web::WebHost;

pub(crate) const KIND: Kind = Kind {
    api: Some(verge_web::api!("src/service/service.js", quickjs register;
        globals [];
        internals ["makeServiceBinding"])),
    bind,
};

fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    env: &Object<'js>,
) -> rquickjs::Result<()> {
    for binding in &config.services {
        let service = (capabilities.services)(binding);
        let fetcher = verge_web::fetcher(ctx, service.clone())?;
        let id: usize = verge_web::keep(ctx, service)?;
        let make: Function = verge_web::internals(ctx)?.get("makeServiceBinding")?;
        env.set(
            binding.binding.as_str(),
            make.call::<_, Value>((id, fetcher))?,
        )?;
    }
    Ok(())
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add(
        "serviceCall",
        |ctx: Ctx<'js>, id: usize, method: String, args: String| {
            let service: Rc<dyn Service> = verge_web::bound(&ctx, id)?;
            let depth = verge_web::next_depth(&ctx)?;
            verge_js::spawn_promise(&ctx, service.call(method, args, depth), |ctx, reply| {
                rquickjs::String::from_str(ctx.clone(), &reply).map(|s| s.into_value())
            })
        },
    )
}
