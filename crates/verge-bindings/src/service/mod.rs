//! Service bindings (`services` → the server's [`ServiceResolver`](crate::ServiceResolver) →
//! `env.OTHER`): a `Fetcher` whose `fetch()` runs another worker of the same server.

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
    for service in &config.services {
        let fetcher = verge_web::fetcher(ctx, (capabilities.services)(&service.service))?;
        env.set(service.binding.as_str(), fetcher)?;
    }
    Ok(())
}
