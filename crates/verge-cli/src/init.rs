//! `verge init NAME`: a starter project, as `npm create cloudflare` makes one — a TypeScript
//! worker, its wrangler config, and a test that runs it under `verge dev` with Node's own test
//! runner (`npm test`).

use anyhow::Context as _;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct InitArgs {
    /// The project's directory (made; it must not exist or must be empty), and its name.
    name: PathBuf,
}

const WORKER: &str = r#"export interface Env {
  GREETING: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/api/time') {
      return Response.json({ now: new Date().toISOString() });
    }
    return new Response(`${env.GREETING} from ${url.pathname}`);
  },
} satisfies ExportedHandler<Env>;
"#;

const TEST: &str = r#"// Starts the worker under `verge dev` on a free port and checks what it answers.
// Run with `npm test`; set VERGE to the verge binary if it is not on PATH.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const project = fileURLToPath(new URL('..', import.meta.url));
const server = spawn(process.env.VERGE ?? 'verge', ['dev', project, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
after(() => server.kill());

const base = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (chunk) => {
    out += chunk;
    const ready = /Ready on (http:\/\/\S+)/.exec(out);
    if (ready) resolve(ready[1]);
  });
  server.on('exit', (code) => reject(new Error(`verge dev exited with ${code}`)));
});

test('greets', async () => {
  const response = await fetch(`${base}/world`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'Hello from /world');
});

test('tells the time as JSON', async () => {
  const { now } = await (await fetch(`${base}/api/time`)).json();
  assert.ok(!Number.isNaN(Date.parse(now)));
});
"#;

pub fn run(args: InitArgs) -> anyhow::Result<()> {
    let dir = &args.name;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .with_context(|| format!("{} does not end in a project name", dir.display()))?;
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        anyhow::bail!("{} exists and is not empty", dir.display());
    }
    let wrangler = format!(
        "name = \"{name}\"\nmain = \"src/index.ts\"\ncompatibility_date = \"2026-11-01\"\n\n\
         [vars]\nGREETING = \"Hello\"\n"
    );
    let package = format!(
        "{{\n  \"name\": \"{name}\",\n  \"private\": true,\n  \"type\": \"module\",\n  \
         \"scripts\": {{\n    \"dev\": \"verge dev\",\n    \"test\": \"node --test test/\"\n  }}\n}}\n"
    );
    let files: [(&str, &str); 5] = [
        ("wrangler.toml", &wrangler),
        ("package.json", &package),
        ("src/index.ts", WORKER),
        ("test/index.test.mjs", TEST),
        (".gitignore", ".verge/\nnode_modules/\n"),
    ];
    for (path, text) in files {
        write(&dir.join(path), text)?;
    }
    println!(
        "Created {}: `verge dev {}` serves it, `npm test` tests it.",
        name,
        dir.display()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
