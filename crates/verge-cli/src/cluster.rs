//! `verge cluster status`: the points of presence of the cluster a running `verge serve`
//! belongs to, from its admin API — each PoP, how long ago it was last heard from, and the
//! version of each worker it serves.

use crate::secret::call_admin;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Lists the cluster's PoPs.
    Status {
        /// The admin API of any PoP, e.g. http://127.0.0.2:9000.
        #[arg(long)]
        server: String,
        /// The admin token (or set VERGE_TOKEN).
        #[arg(long, env = "VERGE_TOKEN", hide_env_values = true)]
        token: String,
    },
}

pub fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let ClusterCommand::Status { server, token } = args.command;
    let url = format!("{}/cluster", server.trim_end_matches('/'));
    let status = call_admin("GET", &url, &token, None)?;
    let here = status["pop"].as_str().unwrap_or_default();
    println!("{:<12} {:>10}  workers (name@version)", "PoP", "heard");
    for pop in status["pops"].as_array().into_iter().flatten() {
        let name = pop["pop"].as_str().unwrap_or_default();
        let age = pop["age_ms"].as_u64().unwrap_or_default();
        let workers: Vec<String> = pop["workers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(worker, version)| format!("{worker}@{version}"))
            .collect();
        let marker = if name == here { "*" } else { " " };
        println!("{marker}{name:<11} {:>8}ms  {}", age, workers.join(" "));
    }
    Ok(())
}
