//! `verge cache purge`: empties a running `verge serve`'s Cache API of some URLs, of every URL
//! under some prefixes, or of everything, through its admin API; in a cluster, at every PoP.

use crate::secret::call_admin;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    command: CacheCommand,
}

#[derive(Subcommand)]
enum CacheCommand {
    /// Purges by URL, by prefix (`example.com/blog` matches http and https), or everything.
    Purge {
        /// A URL to purge, exactly (repeatable).
        #[arg(long = "url", value_name = "URL", conflicts_with_all = ["prefixes", "everything"])]
        urls: Vec<String>,
        /// A prefix of the URLs to purge (repeatable).
        #[arg(long = "prefix", value_name = "PREFIX", conflicts_with = "everything")]
        prefixes: Vec<String>,
        /// Purge every cached response.
        #[arg(long)]
        everything: bool,
        /// The admin API of the server (any PoP's, in a cluster).
        #[arg(long)]
        server: String,
        /// The admin token (or set VERGE_TOKEN).
        #[arg(long, env = "VERGE_TOKEN", hide_env_values = true)]
        token: String,
    },
}

pub fn run(args: CacheArgs) -> anyhow::Result<()> {
    let CacheCommand::Purge {
        urls,
        prefixes,
        everything,
        server,
        token,
    } = args.command;
    let body = match (urls.is_empty(), prefixes.is_empty(), everything) {
        (false, true, false) => serde_json::json!({ "files": urls }),
        (true, false, false) => serde_json::json!({ "prefixes": prefixes }),
        (true, true, true) => serde_json::json!({ "purge_everything": true }),
        _ => anyhow::bail!("name what to purge: --url, --prefix or --everything"),
    };
    let url = format!("{}/cache/purge", server.trim_end_matches('/'));
    let reply = call_admin("POST", &url, &token, Some(body.to_string()))?;
    println!("Purged {} cached responses here", reply["purged"]);
    Ok(())
}
