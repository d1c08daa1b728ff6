//! `verge secret put|list|delete`: a worker's secrets on a running `verge serve`, through its
//! admin API. A secret's value is read from stdin (never a flag, so it stays out of shell
//! history) and reaches the worker's `env`; each change is a new version of the worker.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Read as _;
use std::path::PathBuf;
use verge_config::WorkerConfig;

#[derive(Args)]
pub struct SecretArgs {
    #[command(subcommand)]
    command: SecretCommand,
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Sets a secret to the value read from stdin.
    Put {
        key: String,
        #[command(flatten)]
        target: Target,
    },
    /// Lists a worker's secret names.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Removes a secret.
    Delete {
        key: String,
        #[command(flatten)]
        target: Target,
    },
}

/// A worker on a running `verge serve`, for the commands that change it through the admin API.
#[derive(Args)]
pub struct Target {
    /// The worker (by default the name in the project's wrangler config).
    #[arg(long)]
    name: Option<String>,
    /// The project directory or its wrangler config, for the worker's name.
    #[arg(long, default_value = ".")]
    config: PathBuf,
    /// The admin API of the server, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    server: String,
    /// The admin token (or set VERGE_TOKEN).
    #[arg(long, env = "VERGE_TOKEN", hide_env_values = true)]
    token: String,
}

impl Target {
    /// The admin API's URL of `path` under the worker, and the worker's name.
    pub fn worker_url(&self, path: &str) -> anyhow::Result<(String, String)> {
        let name = match &self.name {
            Some(name) => name.clone(),
            None => {
                WorkerConfig::locate(&self.config)
                    .context("name the worker with --name, or run in its project")?
                    .name
            }
        };
        let base = self.server.trim_end_matches('/');
        Ok((format!("{base}/workers/{name}/{path}"), name))
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    fn url(&self, key: &str) -> anyhow::Result<(String, String)> {
        self.worker_url(&format!("secrets/{key}"))
    }
}

/// Calls the admin API; the JSON reply of a success, or an error with the server's message.
pub fn call_admin(
    method: &str,
    url: &str,
    token: &str,
    body: Option<String>,
) -> anyhow::Result<serde_json::Value> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.unwrap_or_default())?;
    let mut response = agent
        .run(request)
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let reply: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if status != 200 {
        let message = reply["error"].as_str().unwrap_or(text.as_str());
        anyhow::bail!("the server refused ({status}): {message}");
    }
    Ok(reply)
}

pub fn run(args: SecretArgs) -> anyhow::Result<()> {
    match args.command {
        SecretCommand::Put { key, target } => {
            let mut value = String::new();
            std::io::stdin()
                .read_to_string(&mut value)
                .context("cannot read the secret's value from stdin")?;
            let value = value.strip_suffix('\n').unwrap_or(&value);
            let value = value.strip_suffix('\r').unwrap_or(value).to_owned();
            let (url, name) = target.url(&key)?;
            let reply = call_admin("PUT", &url, &target.token, Some(value))?;
            println!("Set secret {key} of {name} (version {})", reply["version"]);
        }
        SecretCommand::List { target } => {
            let (url, _) = target.url("")?;
            let reply = call_admin("GET", url.trim_end_matches('/'), &target.token, None)?;
            println!("{}", serde_json::to_string_pretty(&reply)?);
        }
        SecretCommand::Delete { key, target } => {
            let (url, name) = target.url(&key)?;
            let reply = call_admin("DELETE", &url, &target.token, None)?;
            println!(
                "Deleted secret {key} of {name} (version {})",
                reply["version"]
            );
        }
    }
    Ok(())
}
