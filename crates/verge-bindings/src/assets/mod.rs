//! The assets binding (`[assets] binding` → the server's assets, an `Outbound` → `env.ASSETS`):
//! a `Fetcher` whose `fetch()` answers from the worker's own static files.

use crate::{Capabilities, Kind};
use verge_config::WorkerConfig;
use verge_js::rquickjs::{self, Ctx, Object};

pub(crate) const KIND: Kind = Kind { api: None, bind };

fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    env: &Object<'js>,
) -> rquickjs::Result<()> {
    let binding = config.assets.as_ref().and_then(|a| a.binding.as_deref());
    if let (Some(binding), Some(assets)) = (binding, &capabilities.assets) {
        env.set(binding, verge_web::fetcher(ctx, assets.clone())?)?;
    }
    Ok(())
}
