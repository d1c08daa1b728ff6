//! `verge tail NAME`: follow a worker's console output and exceptions on a running
//! `verge serve`, live, through its admin API; at a PoP, at every PoP, each line led by the
//! PoP's name. A request's lines come when it has ended, after a line that says what it was
//! and how it ended.

use anyhow::Context as _;
use clap::Args;
use std::io::{BufRead, BufReader, Write as _};

#[derive(Args)]
pub struct TailArgs {
    /// The worker to follow.
    name: String,
    /// The admin API of the server, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    server: String,
    /// The admin token (or set VERGE_TOKEN).
    #[arg(long, env = "VERGE_TOKEN", hide_env_values = true)]
    token: String,
}

pub fn run(args: TailArgs) -> anyhow::Result<()> {
    let url = format!(
        "{}/workers/{}/tail",
        args.server.trim_end_matches('/'),
        args.name
    );
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent
        .get(&url)
        .header("authorization", format!("Bearer {}", args.token))
        .call()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        let text = response.body_mut().read_to_string().unwrap_or_default();
        anyhow::bail!(
            "the server refused to tail {} ({status}): {text}",
            args.name
        );
    }
    let reader = BufReader::new(response.into_body().into_reader());
    let mut stdout = std::io::stdout();
    for line in reader.lines() {
        let line = line.context("the server closed the tail")?;
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let lead = event["pop"]
            .as_str()
            .map_or_else(String::new, |pop| format!("{pop} "));
        let level = event["level"].as_str().unwrap_or("log");
        let message = event["message"].as_str().unwrap_or(&line);
        writeln!(stdout, "{lead}[{level}] {message}")?;
        // A traced event's lines and exceptions follow its summary.
        let trace = &event["trace"];
        for logged in trace["logs"].as_array().into_iter().flatten() {
            let level = logged["level"].as_str().unwrap_or("log");
            let message = logged["message"].as_str().unwrap_or_default();
            writeln!(stdout, "{lead}[{level}] {message}")?;
        }
        if let Some(dropped) = trace["dropped"].as_u64().filter(|dropped| *dropped > 0) {
            writeln!(stdout, "{lead}[warn] {dropped} more lines were left out")?;
        }
        for exception in trace["exceptions"].as_array().into_iter().flatten() {
            let name = exception["name"].as_str().unwrap_or("Error");
            let message = exception["message"].as_str().unwrap_or_default();
            writeln!(stdout, "{lead}[exception] {name}: {message}")?;
        }
        stdout.flush()?;
    }
    Ok(())
}
