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
    let body = body.map(String::into_bytes).unwrap_or_default();
    let (status, bytes) = admin_request(method, url, token, body)?;
    if status != 200 {
        anyhow::bail!("{}", refusal(status, &bytes));
    }
    Ok(serde_json::from_slice(&bytes).unwrap_or_default())
}

/// Calls the admin API; its status and body, whatever the status.
pub fn admin_request(
    method: &str,
    url: &str,
    token: &str,
    body: Vec<u8>,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body)?;
    let mut response = agent
        .run(request)
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .read_to_vec()
        .with_context(|| format!("the answer from {url} was cut off"))?;
    Ok((status, bytes))
}

/// What the server said refusing a call: its `error`, or its whole answer.
pub fn refusal(status: u16, answer: &[u8]) -> String {
    let reply: serde_json::Value = serde_json::from_slice(answer).unwrap_or_default();
    let text = String::from_utf8_lossy(answer);
    let message = reply["error"].as_str().unwrap_or(&text);
    format!("the server refused ({status}): {message}")
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
