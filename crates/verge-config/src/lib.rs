//! `verge-config` reads a Workers project the way wrangler does: `wrangler.json`,
//! `wrangler.jsonc` (comments and trailing commas allowed) or `wrangler.toml`, in that order of
//! precedence, or a bare script file. It is pure data: parsing and validation, no I/O beyond
//! reading the config and checking that the entry point exists, and every error names the file
//! (and, where the parser knows it, the line) that is wrong.

mod durable_objects;
mod queues;

pub use durable_objects::{
    class_identity, class_with_identity, location_hint, migration_identities,
    replay as replay_migrations, DurableObjectBinding, DurableObjects, Identities, Migration,
    RenamedClass, LOCATION_HINTS,
};

pub use queues::{
    check_one_consumer_each, check_queue_name, limits as queue_limits, QueueConsumer,
    QueueProducer, Queues,
};

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The config file names wrangler looks for, in its order of precedence.
pub const CONFIG_FILES: [&str; 3] = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{} does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("no wrangler.json, wrangler.jsonc or wrangler.toml in {}", .0.display())]
    NoConfig(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: no `main` entry point (nor `[assets]`); add for example `main = \"src/index.js\"`", .0.display())]
    NoMain(PathBuf),
    #[error("{}: `main` names {}, which does not exist", config.display(), main.display())]
    MainMissing { config: PathBuf, main: PathBuf },
    #[error("invalid --var '{0}': expected NAME:VALUE")]
    BadVar(String),
    #[error("{}:{line}: expected NAME=value", .path.display())]
    BadDevVar { path: PathBuf, line: usize },
    #[error("{}: [assets] directory {} is not a directory", .config.display(), .directory.display())]
    NoAssets { config: PathBuf, directory: PathBuf },
    #[error("{}: rules: \"{glob}\" is not a glob: {message}", .path.display())]
    BadGlob {
        path: PathBuf,
        glob: String,
        message: String,
    },
    #[error("{}: [triggers] crons: \"{cron}\" is not a cron expression: {message}", .path.display())]
    BadCron {
        path: PathBuf,
        cron: String,
        message: String,
    },
    #[error("{}: {message}", .path.display())]
    DurableObjects { path: PathBuf, message: String },
}

/// A worker project, resolved: where its files are and what its config says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerConfig {
    pub name: String,
    /// The project directory; module names are relative to it.
    pub root: PathBuf,
    /// The entry module, relative to `root`, with `/` separators; `None` for a project of
    /// `[assets]` alone.
    pub main: Option<String>,
    /// The config file read, if any (a bare script has none).
    pub config_file: Option<PathBuf>,
    pub compatibility_date: Option<String>,
    pub compatibility_flags: Vec<String>,
    /// `[vars]`: strings, or any JSON value, exposed on `env`.
    pub vars: BTreeMap<String, serde_json::Value>,
    /// `[limits]`: what this worker asks for; unset values take the server's defaults.
    pub limits: Limits,
    /// `route` / `routes`: where `verge serve` sends requests to this worker.
    pub routes: Vec<Route>,
    /// `kv_namespaces`: KV bindings on `env`.
    pub kv_namespaces: Vec<KvNamespace>,
    /// `services`: other workers of the same server, reached with `env.BINDING.fetch()`.
    pub services: Vec<ServiceBinding>,
    /// `d1_databases`: SQL databases on `env`.
    pub d1_databases: Vec<D1Database>,
    /// `r2_buckets`: object buckets on `env`.
    pub r2_buckets: Vec<R2Bucket>,
    /// `[queues]`: queues sent to from `env`, and consumed by the `queue` handler.
    pub queues: Queues,
    /// `[triggers] crons`: when the `scheduled` handler runs under `verge serve` (UTC, five
    /// fields, with Workers' `L`, `W` and `#`).
    pub crons: Vec<String>,
    /// `[assets]`: static files served in front of the worker.
    pub assets: Option<Assets>,
    /// `[[rules]]`: how imported files load, before wrangler's default rules.
    pub rules: Vec<ModuleRule>,
    /// `[[durable_objects.bindings]]`: Durable Object namespaces on `env`.
    pub durable_objects: Vec<DurableObjectBinding>,
    /// `[[migrations]]`: the history of the Durable Object classes this worker exports.
    pub migrations: Vec<Migration>,
    /// The JavaScript engine it runs on: not wrangler's, but `verge.toml`'s `[[workers]]
    /// engine` or `verge dev --engine`.
    pub engine: Engine,
}

/// A JavaScript engine a worker can run on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// QuickJS, the default: every API, every limit.
    #[default]
    QuickJs,
    /// JavaScriptCore, opt-in for trusted code: compiles hot JavaScript, but has the Web APIs
    /// alone so far and cannot stop a storm of short microtasks (see docs/DESIGN.md).
    Jsc,
}

impl std::str::FromStr for Engine {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "quickjs" => Ok(Engine::QuickJs),
            "jsc" => Ok(Engine::Jsc),
            other => Err(format!(
                "unknown engine {other:?}: expected \"quickjs\" or \"jsc\""
            )),
        }
    }
}

/// One of wrangler's `[[rules]]`: files matching `globs` load as `kind`; unless `fallthrough`,
/// wrangler's default rules of the same kind no longer apply.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModuleRule {
    #[serde(rename = "type")]
    pub kind: ModuleKind,
    pub globs: Vec<String>,
    #[serde(default)]
    pub fallthrough: bool,
}

/// What a file matched by a rule loads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ModuleKind {
    /// JavaScript with `import`/`export`.
    ESModule,
    /// JavaScript with `require`/`module.exports`.
    CommonJS,
    /// A string, the file's text.
    Text,
    /// An ArrayBuffer, the file's bytes.
    Data,
    /// A WebAssembly module; refused at load, as QuickJS runs no WebAssembly.
    CompiledWasm,
}

/// wrangler's `[assets]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assets {
    /// The directory, resolved against the project.
    pub directory: PathBuf,
    /// The name on `env` of a Fetcher that serves them, if any.
    pub binding: Option<String>,
    pub not_found_handling: NotFoundHandling,
    pub html_handling: HtmlHandling,
    pub run_worker_first: RunWorkerFirst,
}

/// What a request that matches no asset gets (when the worker does not answer it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotFoundHandling {
    /// The nearest `404.html` up the path, with status 404.
    #[serde(rename = "404-page")]
    NotFoundPage,
    /// `/index.html`, with status 200.
    SinglePageApplication,
    /// A plain 404.
    #[default]
    None,
}

/// How paths map to HTML files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HtmlHandling {
    /// `/about` serves `about.html`, `/blog/` serves `blog/index.html`, and the other spellings
    /// redirect to those.
    #[default]
    AutoTrailingSlash,
    ForceTrailingSlash,
    DropTrailingSlash,
    /// Paths name files exactly.
    None,
}

/// Which requests reach the worker before the assets are looked at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RunWorkerFirst {
    All(bool),
    /// Paths matching these patterns (`*` matches any run of characters); `!` excludes.
    Paths(Vec<String>),
}

impl Default for RunWorkerFirst {
    fn default() -> Self {
        RunWorkerFirst::All(false)
    }
}

impl RunWorkerFirst {
    /// Whether the worker sees a request for `path` before the assets.
    pub fn applies_to(&self, path: &str) -> bool {
        match self {
            RunWorkerFirst::All(all) => *all,
            RunWorkerFirst::Paths(patterns) => {
                let excluded = patterns
                    .iter()
                    .filter_map(|p| p.strip_prefix('!'))
                    .any(|p| glob_matches(p, path));
                !excluded
                    && patterns
                        .iter()
                        .filter(|p| !p.starts_with('!'))
                        .any(|p| glob_matches(p, path))
            }
        }
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
fn glob_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(after) = text.strip_prefix(head) else {
                return false;
            };
            (0..=after.len())
                .filter(|&at| after.is_char_boundary(at))
                .any(|at| glob_matches(rest, &after[at..]))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssets {
    directory: PathBuf,
    binding: Option<String>,
    #[serde(default)]
    not_found_handling: NotFoundHandling,
    #[serde(default)]
    html_handling: HtmlHandling,
    #[serde(default)]
    run_worker_first: RunWorkerFirst,
}

/// One of wrangler's `services`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceBinding {
    /// The name on `env`.
    pub binding: String,
    /// The worker it calls, by name.
    pub service: String,
    /// The named `WorkerEntrypoint` class it calls; `None`: the default export.
    pub entrypoint: Option<String>,
}

/// One of wrangler's `kv_namespaces`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KvNamespace {
    /// The name on `env`.
    pub binding: String,
    /// The namespace's id: workers naming the same id share its keys.
    pub id: Option<String>,
    pub preview_id: Option<String>,
}

impl KvNamespace {
    /// Which namespace the binding's keys live in: its id, or else the binding's name (as
    /// wrangler's local mode does).
    pub fn namespace(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.binding)
    }
}

/// The prefix of the KV namespaces Verge keeps for itself (the lists of what Cloudflare's API
/// makes), which no binding, and no API call from outside, may reach.
pub const RESERVED_KV_PREFIX: &str = "verge:";

/// Whether `namespace` is one of Verge's own (see [`RESERVED_KV_PREFIX`]).
pub fn is_reserved_kv_namespace(namespace: &str) -> bool {
    namespace.starts_with(RESERVED_KV_PREFIX)
}

/// One of wrangler's `r2_buckets`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct R2Bucket {
    /// The name on `env`.
    pub binding: String,
    /// The bucket: workers naming the same bucket share its objects.
    pub bucket_name: Option<String>,
    pub preview_bucket_name: Option<String>,
    pub jurisdiction: Option<String>,
}

impl R2Bucket {
    /// Which bucket the binding reaches: its name, else the binding's name.
    pub fn bucket(&self) -> &str {
        self.bucket_name.as_deref().unwrap_or(&self.binding)
    }
}

/// One of wrangler's `d1_databases`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct D1Database {
    /// The name on `env`.
    pub binding: String,
    pub database_name: Option<String>,
    /// The database's id: workers naming the same id share its tables.
    pub database_id: Option<String>,
    pub preview_database_id: Option<String>,
    /// Where `verge d1 migrations` finds migration files, relative to the project.
    pub migrations_dir: Option<String>,
    /// The table that records which migrations ran.
    pub migrations_table: Option<String>,
}

impl D1Database {
    /// Which database the binding reaches: its id, else its name, else the binding's name.
    pub fn database(&self) -> &str {
        self.database_id
            .as_deref()
            .or(self.database_name.as_deref())
            .unwrap_or(&self.binding)
    }

    /// Whether `name` (as `verge d1` commands take it) means this database: its name or its
    /// binding.
    pub fn is_named(&self, name: &str) -> bool {
        self.database_name.as_deref() == Some(name) || self.binding == name
    }

    pub fn migrations_dir(&self) -> &str {
        self.migrations_dir.as_deref().unwrap_or("migrations")
    }

    pub fn migrations_table(&self) -> &str {
        self.migrations_table.as_deref().unwrap_or("d1_migrations")
    }
}

/// One of a worker's routes, as wrangler writes them (and as a release set apart from its
/// code keeps them: serialized).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Route {
    /// `host/path` with `*` wildcards (`example.com/api/*`, `*.example.com/*`), or a bare host
    /// for a custom domain.
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
    /// The worker is the whole of `pattern`'s host (every path).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom_domain: bool,
}

/// `routes` entries: a pattern string or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Pattern(String),
    Table {
        pattern: String,
        zone_name: Option<String>,
        #[serde(default)]
        custom_domain: bool,
    },
}

impl From<RawRoute> for Route {
    fn from(raw: RawRoute) -> Self {
        match raw {
            RawRoute::Pattern(pattern) => Route {
                pattern,
                zone_name: None,
                custom_domain: false,
            },
            RawRoute::Table {
                pattern,
                zone_name,
                custom_domain,
            } => Route {
                pattern,
                zone_name,
                custom_domain,
            },
        }
    }
}

/// wrangler's `[limits]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU milliseconds one request may use.
    pub cpu_ms: Option<u64>,
    /// `fetch()` calls one request may make.
    pub subrequests: Option<u32>,
}

/// The subset of wrangler's schema that Verge reads; other keys are accepted and ignored, so a
/// user's existing config loads as it is.
#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    name: Option<String>,
    main: Option<String>,
    compatibility_date: Option<String>,
    #[serde(default)]
    compatibility_flags: Vec<String>,
    #[serde(default)]
    vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    limits: Limits,
    route: Option<RawRoute>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    #[serde(default)]
    kv_namespaces: Vec<KvNamespace>,
    #[serde(default)]
    services: Vec<ServiceBinding>,
    #[serde(default)]
    d1_databases: Vec<D1Database>,
    #[serde(default)]
    r2_buckets: Vec<R2Bucket>,
    #[serde(default)]
    queues: Queues,
    #[serde(default)]
    triggers: RawTriggers,
    assets: Option<RawAssets>,
    #[serde(default)]
    rules: Vec<ModuleRule>,
    #[serde(default)]
    durable_objects: DurableObjects,
    #[serde(default)]
    migrations: Vec<Migration>,
}

#[derive(Debug, Default, Deserialize)]
struct RawTriggers {
    #[serde(default)]
    crons: Vec<String>,
}

impl WorkerConfig {
    /// Resolves `path` as `verge dev PATH` takes it: a project directory holding a wrangler
    /// config, a wrangler config file, or a script file.
    pub fn locate(path: &Path) -> Result<Self, ConfigError> {
        if !path.exists() {
            return Err(ConfigError::NotFound(path.to_owned()));
        }
        if path.is_dir() {
            let config = CONFIG_FILES
                .iter()
                .map(|name| path.join(name))
                .find(|candidate| candidate.is_file())
                .ok_or_else(|| ConfigError::NoConfig(path.to_owned()))?;
            return Self::from_config_file(&config);
        }
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if CONFIG_FILES.contains(&file_name) {
            return Self::from_config_file(path);
        }
        Ok(Self::from_script(path))
    }

    fn from_script(script: &Path) -> Self {
        let root = parent_dir(script);
        let main = script
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = script
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "worker".into());
        Self {
            name,
            root,
            main: Some(main),
            ..Self::default()
        }
    }

    /// Reads and validates one wrangler config file.
    pub fn from_config_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let raw = parse(path, &text)?;
        let root = parent_dir(path);
        if raw.main.is_none() && raw.assets.is_none() {
            return Err(ConfigError::NoMain(path.to_owned()));
        }
        let main = raw
            .main
            .map(|main| main.trim_start_matches("./").replace('\\', "/"));
        if let Some(main) = main.as_ref().filter(|main| !root.join(main).is_file()) {
            return Err(ConfigError::MainMissing {
                config: path.to_owned(),
                main: root.join(main),
            });
        }
        for glob in raw.rules.iter().flat_map(|rule| &rule.globs) {
            if let Err(error) = globset::Glob::new(glob) {
                return Err(ConfigError::BadGlob {
                    path: path.to_owned(),
                    glob: glob.clone(),
                    message: error.kind().to_string(),
                });
            }
        }
        durable_objects::check(&raw.durable_objects.bindings, &raw.migrations).map_err(
            |message| ConfigError::DurableObjects {
                path: path.to_owned(),
                message,
            },
        )?;
        if let Some(namespace) = raw
            .kv_namespaces
            .iter()
            .map(KvNamespace::namespace)
            .find(|namespace| is_reserved_kv_namespace(namespace))
        {
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                message: format!(
                    "kv_namespaces: the namespace {namespace:?} is reserved: namespaces starting \
                     with \"{RESERVED_KV_PREFIX}\" are Verge's own"
                ),
            });
        }
        raw.queues.check().map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        for cron in &raw.triggers.crons {
            if let Err(error) = cron.parse::<croner::Cron>() {
                return Err(ConfigError::BadCron {
                    path: path.to_owned(),
                    cron: cron.clone(),
                    message: error.to_string(),
                });
            }
        }
        let assets = match raw.assets {
            None => None,
            Some(assets) => {
                let directory = root.join(&assets.directory);
                if !directory.is_dir() {
                    return Err(ConfigError::NoAssets {
                        config: path.to_owned(),
                        directory,
                    });
                }
                Some(Assets {
                    directory,
                    binding: assets.binding,
                    not_found_handling: assets.not_found_handling,
                    html_handling: assets.html_handling,
                    run_worker_first: assets.run_worker_first,
                })
            }
        };
        let name = raw.name.unwrap_or_else(|| {
            root.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "worker".into())
        });
        Ok(Self {
            name,
            root,
            main,
            config_file: Some(path.to_owned()),
            compatibility_date: raw.compatibility_date,
            compatibility_flags: raw.compatibility_flags,
            vars: raw.vars,
            limits: raw.limits,
            routes: raw
                .route
                .into_iter()
                .chain(raw.routes)
                .map(Route::from)
                .collect(),
            kv_namespaces: raw.kv_namespaces,
            services: raw.services,
            d1_databases: raw.d1_databases,
            r2_buckets: raw.r2_buckets,
            queues: raw.queues,
            crons: raw.triggers.crons,
            assets,
            rules: raw.rules,
            engine: Engine::default(),
            durable_objects: raw.durable_objects.bindings,
            migrations: raw.migrations,
        })
    }

    /// Adds the secrets of `.dev.vars` in the project directory, as `wrangler dev` does: one
    /// `NAME=value` per line (the value may be quoted), `#` comments; they override `[vars]`.
    /// No file, no change.
    pub fn apply_dev_vars(&mut self) -> Result<(), ConfigError> {
        let path = self.root.join(".dev.vars");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (name, value) = line
                .split_once('=')
                .map(|(name, value)| (name.trim(), value.trim()))
                .filter(|(name, _)| !name.is_empty())
                .ok_or_else(|| ConfigError::BadDevVar {
                    path: path.clone(),
                    line: index + 1,
                })?;
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
                .unwrap_or(value);
            self.vars.insert(
                name.to_owned(),
                serde_json::Value::String(unquoted.to_owned()),
            );
        }
        Ok(())
    }

    /// Applies `--var NAME:VALUE` overrides, as wrangler's flag does: the value is a string.
    pub fn apply_var_overrides<S: AsRef<str>>(
        &mut self,
        overrides: &[S],
    ) -> Result<(), ConfigError> {
        for spec in overrides {
            let spec = spec.as_ref();
            let (name, value) = spec
                .split_once(':')
                .filter(|(name, _)| !name.is_empty())
                .ok_or_else(|| ConfigError::BadVar(spec.to_owned()))?;
            self.vars
                .insert(name.to_owned(), serde_json::Value::String(value.to_owned()));
        }
        Ok(())
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn parse(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    let error = |message: String| ConfigError::Parse {
        path: path.to_owned(),
        message,
    };
    if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(text).map_err(|e| error(e.to_string().trim_end().to_owned()))
    } else {
        // JSON5 is a superset of JSONC: comments and trailing commas parse as wrangler allows.
        json5::from_str(text).map_err(|e| error(e.to_string()))
    }
}

mod server;

pub use server::{
    AcmeConfig, AdminConfig, CertificateConfig, ClusterConfig, DnsConfig, Location, ObjectsConfig,
    ServerConfig, ServerLimits, TlsConfig, Zone,
};

#[cfg(test)]
mod tests;
