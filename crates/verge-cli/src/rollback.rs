//! `verge rollback [VERSION]`: a worker on a running `verge serve` goes back to an earlier
//! version's code (the one before the current, by default) as a new version, keeping the
//! secrets it has now; in a cluster, at every PoP.

use crate::secret::{call_admin, Target};
use clap::Args;

#[derive(Args)]
pub struct RollbackArgs {
    /// The version to go back to (by default, the one before the current).
    version: Option<u64>,
    #[command(flatten)]
    target: Target,
}

pub fn run(args: RollbackArgs) -> anyhow::Result<()> {
    let (url, name) = args.target.worker_url("rollback")?;
    let body = args
        .version
        .map(|version| serde_json::json!({ "version": version }).to_string());
    let reply = call_admin("POST", &url, args.target.token(), body)?;
    println!("Rolled {name} back: it serves version {}", reply["version"]);
    Ok(())
}
