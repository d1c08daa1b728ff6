//! Workers deployed through the admin API and their versions — their releases: deploying,
//! changing secrets, rolling back and deleting, each checked before the site switches to it,
//! each kept on disk so that a restart serves what was served before it.
//!
//! On one machine, versions count the server's changes. At a point of presence of a cluster,
//! a change is first published to the hub (`verge-cluster`'s deploys), which numbers it, and
//! [`Releases::follow`] installs the changes made at every other PoP; a PoP cut off from the hub
//! keeps serving what it has, and catches up when it is back.
//!
//! On disk, under `<data_dir>/workers/<name>/`: each upload unpacked in a directory named by
//! its digest, and `releases.json`, the worker's last [`RECORDS_KEPT`] releases and withdrawals
//! here (the last is what this server serves). Secrets are kept apart, by [`crate::secrets`].
//!
//! Lifecycle: [`Records::open`] reads the records at start, before the server listens; then
//! one [`Releases`] lives on the control thread, which makes every change, one at a time.

use crate::edge::{check_workers_here, Deployed, EdgeOptions, Mode, Site, SiteHandle};
use crate::routes::RouteTable;
use crate::secrets;
use base64::Engine as _;
use futures_util::StreamExt as _;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use verge_cluster::{Change, Cluster, ClusterError, Made, Release, FOLLOW_AGAIN_AFTER};
use verge_config::WorkerConfig;

/// How often a quiet follower of the hub's deploys checks that it is not behind.
const QUIET_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// How many of a worker's releases its record keeps: the versions one machine can roll back to.
const RECORDS_KEPT: usize = 64;

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The change itself is wrong: a bad upload, a worker that does not load, routes that
    /// collide.
    #[error("{0}")]
    Invalid(String),
    #[error("no worker is named {0:?}")]
    NoSuchWorker(String),
    #[error("{worker} has no secret {key:?}")]
    NoSuchSecret { worker: String, key: String },
    #[error("{worker} has no version {version} to roll back to{kept}")]
    NoSuchVersion {
        worker: String,
        version: u64,
        kept: String,
    },
    /// The hub is needed and did not do its part.
    #[error("{0}")]
    Hub(#[from] ClusterError),
    #[error("this PoP has not reached the cluster's hub at {0}, which changes need")]
    NotJoined(String),
    /// This server failed, as a disk that cannot be written.
    #[error("{0}")]
    Internal(String),
}

/// The routes and crons `release` keeps apart from its code, for the release that follows it.
fn triggers(release: Option<&Release>) -> (Option<Vec<verge_config::Route>>, Option<Vec<String>>) {
    release.map_or((None, None), |release| {
        (release.routes.clone(), release.crons.clone())
    })
}

/// Who uploaded a deploy.
pub enum Uploader {
    /// `verge deploy`, through the admin API: the project's config is the whole truth.
    Verge,
    /// wrangler, through Cloudflare's API, with the message given to `wrangler deploy`.
    Wrangler { message: Option<String> },
}

/// A deploy's upload: `{"config_file": "wrangler.toml", "files": {"path": "<base64>", …}}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    /// The wrangler config among `files`.
    config_file: String,
    /// Path (relative to the project) to base64 contents.
    files: BTreeMap<String, String>,
}

/// One entry of a worker's record: a release, or its withdrawal.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Recorded {
    version: u64,
    /// What was released (its secrets left out: they are kept apart); none if withdrawn.
    release: Option<Release>,
    /// The hub that numbered it ([`Cluster::epoch`]); none on one machine. A version numbered
    /// by another hub (one reset, or this server's own before it joined) is no order to this
    /// one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epoch: Option<String>,
}

/// Every uploaded worker's record on this server.
pub struct Records {
    data_dir: PathBuf,
    by_worker: BTreeMap<String, Vec<Recorded>>,
}

impl Records {
    /// Reads the records under `data_dir`; none if there are none yet.
    pub fn open(data_dir: &Path) -> Result<Self, String> {
        let mut by_worker = BTreeMap::new();
        let workers = data_dir.join("workers");
        let entries = match std::fs::read_dir(&workers) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    data_dir: data_dir.to_owned(),
                    by_worker,
                })
            }
            Err(e) => return Err(format!("cannot read {}: {e}", workers.display())),
        };
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", workers.display()))?;
            let path = entry.path().join("releases.json");
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            };
            let records: Vec<Recorded> = serde_json::from_slice(&bytes)
                .map_err(|e| format!("{} is not a record of releases: {e}", path.display()))?;
            by_worker.insert(entry.file_name().to_string_lossy().into_owned(), records);
        }
        Ok(Self {
            data_dir: data_dir.to_owned(),
            by_worker,
        })
    }

    /// The workers to serve at start: `configured` (from verge.toml), each recorded release in
    /// place of the configured worker of its name or beside them, and withdrawn workers left
    /// out. A recorded release that cannot be read is an error naming it.
    pub fn restore(&self, configured: Vec<Deployed>) -> Result<Vec<Deployed>, String> {
        let mut workers = configured;
        for (worker, records) in &self.by_worker {
            let Some(last) = records.last() else {
                continue;
            };
            let position = workers.iter().position(|w| &w.config.name == worker);
            let Some(release) = &last.release else {
                if let Some(index) = position {
                    workers.remove(index);
                }
                continue;
            };
            let mut release = release.clone();
            release.secrets = secrets::load(&self.data_dir, worker)?;
            let config = self
                .config(worker, &release)
                .map_err(|e| format!("version {} of {worker}: {e}", last.version))?;
            let deployed = Deployed::new(Arc::new(config), last.version);
            match position {
                Some(index) => workers[index] = deployed,
                None => workers.push(deployed),
            }
        }
        Ok(workers)
    }

    /// The version of `worker` this server last installed or withdrew, as numbered by `epoch`'s
    /// hub (none: by this server); 0 if none was.
    fn version(&self, worker: &str, epoch: Option<&str>) -> u64 {
        self.last(worker)
            .filter(|recorded| recorded.epoch.as_deref() == epoch)
            .map_or(0, |recorded| recorded.version)
    }

    fn last(&self, worker: &str) -> Option<&Recorded> {
        self.by_worker
            .get(worker)
            .and_then(|records| records.last())
    }

    /// The highest version of any record.
    fn highest_version(&self) -> u64 {
        self.by_worker
            .values()
            .filter_map(|records| records.last())
            .map(|recorded| recorded.version)
            .max()
            .unwrap_or(0)
    }

    /// Adds `recorded` to `worker`'s record, on disk first: the file is replaced whole, so a
    /// crash leaves the old record or the new.
    fn add(&mut self, worker: &str, mut recorded: Recorded) -> Result<(), String> {
        if let Some(release) = &mut recorded.release {
            release.secrets.clear();
        }
        let mut records = self.by_worker.get(worker).cloned().unwrap_or_default();
        records.push(recorded);
        let excess = records.len().saturating_sub(RECORDS_KEPT);
        records.drain(..excess);
        let dir = self.worker_dir(worker);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("releases.json");
        let temporary = dir.join("releases.json.tmp");
        let text = serde_json::to_vec_pretty(&records).map_err(|e| e.to_string())?;
        write_synced(&temporary, &text)
            .map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
        std::fs::rename(&temporary, &path)
            .map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
        self.by_worker.insert(worker.to_owned(), records);
        Ok(())
    }

    fn worker_dir(&self, worker: &str) -> PathBuf {
        self.data_dir.join("workers").join(worker)
    }

    /// Where the upload with `digest` of `worker` is unpacked.
    fn code_dir(&self, worker: &str, digest: &str) -> PathBuf {
        self.worker_dir(worker).join(digest)
    }

    /// `release`'s wrangler config, with its secrets, as worker `worker`.
    fn config(&self, worker: &str, release: &Release) -> Result<WorkerConfig, String> {
        let dir = self.code_dir(worker, &release.code);
        let mut config =
            WorkerConfig::from_config_file(&dir.join(safe_path(&release.config_file)?))
                .map_err(|e| e.to_string())?;
        config.name = worker.to_owned();
        secrets::apply(&mut config, &release.secrets);
        if let Some(routes) = &release.routes {
            config.routes = routes.clone();
        }
        if let Some(crons) = &release.crons {
            config.crons = crons.clone();
        }
        Ok(config)
    }
}

/// Whether this server is a PoP, and if so whether it has reached its hub.
enum Hub {
    Alone,
    NotJoined { hubs: String },
    Joined(Arc<Cluster>),
}

/// The changes to the site that the admin API and the hub make, one at a time: each holds
/// [`Releases::turn`] from its first read to its switch, so no other change (here, or from the
/// hub) comes between; changes at other PoPs meanwhile are caught at the hub, which takes a
/// release only over the last change its maker saw.
pub struct Releases {
    records: RefCell<Records>,
    site: SiteHandle,
    options: EdgeOptions,
    hub: RefCell<Hub>,
    /// The last version this server numbered (on one machine; a cluster's hub numbers them).
    last_version: Cell<u64>,
    turn: tokio::sync::Mutex<()>,
}

/// A worker's last change as whoever numbers versions knows it: the hub at a PoP, this
/// server's record on one machine.
struct Head {
    /// Its version, if it has had a change.
    version: Option<u64>,
    /// What serves now, secrets included, if it was uploaded and not withdrawn.
    release: Option<Release>,
}

impl Releases {
    /// The releases of `site`, recorded in `records`; `hubs` names the cluster's hub if this
    /// server is a PoP, until [`Releases::joined`].
    pub fn new(
        records: Records,
        site: SiteHandle,
        options: EdgeOptions,
        hubs: Option<String>,
    ) -> Self {
        let served = site.current().workers.iter().map(|w| w.version).max();
        let last_version = records.highest_version().max(served.unwrap_or(0));
        Self {
            records: RefCell::new(records),
            site,
            options,
            hub: RefCell::new(match hubs {
                Some(hubs) => Hub::NotJoined { hubs },
                None => Hub::Alone,
            }),
            last_version: Cell::new(last_version),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// This PoP has reached its hub: changes go through it from now on.
    pub fn joined(&self, cluster: Arc<Cluster>) {
        *self.hub.borrow_mut() = Hub::Joined(cluster);
    }

    /// The hub, if this server is a PoP; an error if it is one that has not reached its hub.
    pub fn cluster(&self) -> Result<Option<Arc<Cluster>>, ReleaseError> {
        match &*self.hub.borrow() {
            Hub::Alone => Ok(None),
            Hub::NotJoined { hubs } => Err(ReleaseError::NotJoined(hubs.clone())),
            Hub::Joined(cluster) => Ok(Some(cluster.clone())),
        }
    }

    pub fn site(&self) -> &SiteHandle {
        &self.site
    }

    /// The hub that numbers versions, if this server is a PoP that has joined one.
    fn epoch(&self) -> Option<String> {
        match &*self.hub.borrow() {
            Hub::Joined(cluster) => Some(cluster.epoch().to_owned()),
            Hub::Alone | Hub::NotJoined { .. } => None,
        }
    }

    /// The data directory, where secrets are kept.
    pub fn data_dir(&self) -> PathBuf {
        self.records.borrow().data_dir.clone()
    }

    /// Deploys `body`, an upload, as a new version of `worker`; that version. The worker keeps
    /// its secrets; an upload `from` wrangler keeps the routes and cron triggers set apart from
    /// its code ([`Releases::set_triggers`]), one from `verge deploy` brings its config's own.
    pub async fn deploy(
        &self,
        worker: &str,
        body: &[u8],
        from: Uploader,
    ) -> Result<u64, ReleaseError> {
        let invalid = ReleaseError::Invalid;
        if worker.is_empty()
            || !worker
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(format!(
                "invalid worker name {worker:?}: letters, digits, '-' and '_'"
            )));
        }
        let upload: Upload = serde_json::from_slice(body)
            .map_err(|e| invalid(format!("the upload is not valid JSON for a deploy: {e}")))?;
        safe_path(&upload.config_file).map_err(invalid)?;
        let digest = digest(body);
        let dir = self.records.borrow().code_dir(worker, &digest);
        unpack(&dir, &upload.files).map_err(invalid)?;
        let _turn = self.turn.lock().await;
        let head = self.head(worker).await?;
        let (kept, message) = match from {
            Uploader::Wrangler { message } => (head.release.as_ref(), message),
            Uploader::Verge => (None, None),
        };
        let (routes, crons) = triggers(kept);
        let release = Release {
            code: digest,
            config_file: upload.config_file,
            secrets: self.secrets_in(worker, &head)?,
            routes,
            crons,
            made: Some(Made::now("upload", message)),
        };
        self.release(worker, release, head.version, Some(body))
            .await
    }

    /// Sets the routes (if `routes`) and cron triggers (if `crons`) of `worker`'s current
    /// release apart from its code, as a new version if they change; the version that serves
    /// them. A worker from verge.toml, not uploaded, has no release to change.
    pub async fn set_triggers(
        &self,
        worker: &str,
        routes: Option<Vec<verge_config::Route>>,
        crons: Option<Vec<String>>,
    ) -> Result<u64, ReleaseError> {
        let _turn = self.turn.lock().await;
        let head = self.head(worker).await?;
        let (Some(version), Some(current)) = (head.version, head.release) else {
            return Err(ReleaseError::NoSuchWorker(worker.to_owned()));
        };
        let release = Release {
            routes: routes.or_else(|| current.routes.clone()),
            crons: crons.or_else(|| current.crons.clone()),
            made: Some(Made::now("triggers", None)),
            ..current.clone()
        };
        if release.serves_as(&current) {
            return Ok(version);
        }
        self.release(worker, release, Some(version), None).await
    }

    /// `worker`'s secrets as they are now.
    pub async fn secrets_of(&self, worker: &str) -> Result<BTreeMap<String, String>, ReleaseError> {
        let head = self.head(worker).await?;
        self.secrets_in(worker, &head)
    }

    /// The secrets of `worker` at `head`: its release's, or (for a worker from verge.toml) the
    /// ones this server keeps for it.
    fn secrets_in(
        &self,
        worker: &str,
        head: &Head,
    ) -> Result<BTreeMap<String, String>, ReleaseError> {
        match &head.release {
            Some(release) => Ok(release.secrets.clone()),
            None => secrets::load(&self.data_dir(), worker).map_err(ReleaseError::Internal),
        }
    }

    /// Sets `worker`'s secret `key` to `value` (`None`: removes it), as a new version; that
    /// version. The change is made to the secrets as they are in this change's own turn, so
    /// one made meanwhile elsewhere is kept, not overwritten. A worker from verge.toml, not
    /// uploaded, is loaded again from its config file, at this server only.
    pub async fn set_secret(
        &self,
        worker: &str,
        key: &str,
        value: Option<String>,
    ) -> Result<u64, ReleaseError> {
        let _turn = self.turn.lock().await;
        let head = self.head(worker).await?;
        let mut secrets = self.secrets_in(worker, &head)?;
        match value {
            Some(value) => {
                secrets.insert(key.to_owned(), value);
            }
            None if secrets.remove(key).is_none() => {
                return Err(ReleaseError::NoSuchSecret {
                    worker: worker.to_owned(),
                    key: key.to_owned(),
                })
            }
            None => {}
        }
        if let Some(release) = head.release {
            let release = Release {
                secrets,
                made: Some(Made::now("secret", None)),
                ..release
            };
            return self.release(worker, release, head.version, None).await;
        }
        let site = self.site.current();
        let index = site
            .position(worker)
            .ok_or_else(|| ReleaseError::NoSuchWorker(worker.to_owned()))?;
        let config_file = site.workers[index]
            .config
            .config_file
            .clone()
            .ok_or_else(|| {
                ReleaseError::Invalid(format!("{worker} has no wrangler config to load again"))
            })?;
        let mut config = WorkerConfig::from_config_file(&config_file)
            .map_err(|e| ReleaseError::Invalid(e.to_string()))?;
        config.name = worker.to_owned();
        secrets::apply(&mut config, &secrets);
        let mut deployed = self.check(config).await?;
        deployed.version = self.next_version();
        let switched = self.switch(worker, Some(deployed.clone()))?;
        secrets::store(&self.data_dir(), worker, &secrets).map_err(ReleaseError::Internal)?;
        self.site.replace(switched);
        Ok(deployed.version)
    }

    /// Rolls `worker` back to its `version`, or to the release before its current one: that
    /// code, with the secrets it has now (a secret changed since is not brought back), as a new
    /// version; that version.
    pub async fn rollback(
        &self,
        worker: &str,
        version: Option<u64>,
        message: Option<String>,
    ) -> Result<u64, ReleaseError> {
        let _turn = self.turn.lock().await;
        let head = self.head(worker).await?;
        let kept = self.versions(worker).await?;
        let target = match version {
            Some(version) => kept.iter().find(|(v, _)| *v == version),
            None => kept.iter().rev().nth(1),
        };
        let Some((_, target)) = target else {
            let versions: Vec<String> = kept.iter().map(|(v, _)| v.to_string()).collect();
            return Err(ReleaseError::NoSuchVersion {
                worker: worker.to_owned(),
                version: version.unwrap_or(0),
                kept: match versions.is_empty() {
                    true => String::new(),
                    false => format!(" (it has {})", versions.join(", ")),
                },
            });
        };
        // Routes and crons set apart from the code are the worker's now, not its old version's.
        let (routes, crons) = triggers(head.release.as_ref());
        let release = Release {
            secrets: self.secrets_in(worker, &head)?,
            routes,
            crons,
            made: Some(Made::now("rollback", message)),
            ..target.clone()
        };
        self.release(worker, release, head.version, None).await
    }

    /// The versions of `worker` that can be rolled back to, oldest first: the hub's, in a
    /// cluster, else this server's records.
    pub async fn versions(&self, worker: &str) -> Result<Vec<(u64, Release)>, ReleaseError> {
        Ok(match self.cluster()? {
            Some(cluster) => cluster.releases(worker).await?,
            None => self
                .records
                .borrow()
                .by_worker
                .get(worker)
                .into_iter()
                .flatten()
                .filter_map(|r| r.release.clone().map(|release| (r.version, release)))
                .collect(),
        })
    }

    /// Withdraws `worker` (from every PoP, in a cluster).
    pub async fn delete(&self, worker: &str) -> Result<(), ReleaseError> {
        let _turn = self.turn.lock().await;
        if self.site.current().position(worker).is_none() {
            return Err(ReleaseError::NoSuchWorker(worker.to_owned()));
        }
        let version = match self.cluster()? {
            // A worker the hub never had (from verge.toml) is withdrawn too, at every PoP.
            Some(cluster) => {
                let last = cluster.head(worker).await?.map_or(0, |(last, _)| last);
                cluster.withdraw(worker, last).await?
            }
            None => self.next_version(),
        };
        self.install(worker, version, None)
    }

    /// Installs the changes made anywhere in the cluster, as they come, for as long as the
    /// server runs: first every worker's current release (so a PoP that was away catches up),
    /// then each new one. A release this PoP cannot serve is logged and the one before it
    /// keeps serving; one it could not fetch is tried again from the hub's current state.
    pub async fn follow(&self, cluster: Arc<Cluster>) {
        // Said once when the changes are lost, and once when they are followed again.
        let mut lost = false;
        loop {
            match cluster.changes().await {
                Ok(changes) => {
                    if lost {
                        tracing::info!("following the cluster's deploys again");
                        lost = false;
                    }
                    let mut changes = std::pin::pin!(changes);
                    let mut checks = tokio::time::interval(QUIET_CHECK);
                    let (mut seen, mut heard) = (0, tokio::time::Instant::now());
                    loop {
                        let change = tokio::select! {
                            change = changes.next() => match change {
                                Some(change) => change,
                                None => break,
                            },
                            _ = checks.tick() => {
                                // A watch that went quiet while the hub moved on is made anew.
                                let behind = heard.elapsed() >= QUIET_CHECK
                                    && matches!(cluster.last_version().await, Ok(last) if last > seen);
                                if behind {
                                    tracing::warn!("the cluster's deploys went quiet behind the hub");
                                    break;
                                }
                                continue;
                            }
                        };
                        if let Ok(
                            Change::Released { version, .. } | Change::Withdrawn { version, .. },
                        ) = &change
                        {
                            seen = seen.max(*version);
                        }
                        let applied = match change {
                            Ok(change) => self.apply(change).await,
                            Err(e) => Err(e.into()),
                        };
                        heard = tokio::time::Instant::now();
                        if let Err(e) = applied {
                            tracing::warn!("lost the cluster's deploys: {e}");
                            lost = true;
                            break;
                        }
                    }
                }
                Err(e) if !lost => {
                    tracing::warn!("cannot follow the cluster's deploys: {e}");
                    lost = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(FOLLOW_AGAIN_AFTER).await;
        }
    }

    /// Installs `change` unless this server has it (or a later one) already. A release that
    /// cannot serve here is logged and skipped; a failure to reach the hub is returned, for the
    /// change to be fetched again.
    async fn apply(&self, change: Change) -> Result<(), ReleaseError> {
        let _turn = self.turn.lock().await;
        let (Change::Released {
            worker, version, ..
        }
        | Change::Withdrawn { worker, version }) = &change;
        let epoch = self.epoch();
        if self.records.borrow().version(worker, epoch.as_deref()) >= *version {
            return Ok(());
        }
        match change {
            Change::Released {
                worker,
                version,
                release,
            } => {
                let installed = match self.prepare(&worker, &release).await {
                    Ok(deployed) => self.install(&worker, version, Some((release, deployed))),
                    Err(e) => Err(e),
                };
                match installed {
                    Ok(()) => tracing::info!(worker = %worker, version, "deployed from the hub"),
                    Err(e @ ReleaseError::Hub(_)) => return Err(e),
                    Err(e) => tracing::error!(
                        worker = %worker,
                        version,
                        "cannot serve this version, so the one before it keeps serving: {e}"
                    ),
                }
            }
            Change::Withdrawn { worker, version } => match self.install(&worker, version, None) {
                Ok(()) => tracing::info!(worker = %worker, version, "withdrawn by the hub"),
                Err(e) => tracing::error!(worker = %worker, "cannot withdraw: {e}"),
            },
        }
        Ok(())
    }

    /// `worker`'s last change, as the hub (at a PoP) or this server's record knows it.
    async fn head(&self, worker: &str) -> Result<Head, ReleaseError> {
        if let Some(cluster) = self.cluster()? {
            return Ok(match cluster.head(worker).await? {
                Some((version, release)) => Head {
                    version: Some(version),
                    release,
                },
                None => Head {
                    version: None,
                    release: None,
                },
            });
        }
        let recorded = self.records.borrow().last(worker).cloned();
        let release = match recorded.as_ref().and_then(|r| r.release.clone()) {
            Some(release) => Some(Release {
                secrets: secrets::load(&self.data_dir(), worker).map_err(ReleaseError::Internal)?,
                ..release
            }),
            None => None,
        };
        Ok(Head {
            version: recorded.map(|r| r.version),
            release,
        })
    }

    /// Checks `release` of `worker`, publishes it — to the hub, in a cluster, over `head` (the
    /// worker's last change as this change saw it), with `upload` (its code) first if the hub
    /// may not have it — and switches to it; its version.
    async fn release(
        &self,
        worker: &str,
        release: Release,
        head: Option<u64>,
        upload: Option<&[u8]>,
    ) -> Result<u64, ReleaseError> {
        let deployed = self.prepare(worker, &release).await?;
        // Routes that collide here are refused before any other PoP is told.
        self.switch(worker, Some(deployed.clone()))?;
        let version = match self.cluster()? {
            Some(cluster) => {
                if let Some(upload) = upload {
                    cluster.put_code(&release.code, upload).await?;
                }
                cluster.publish(worker, &release, head).await?
            }
            None => self.next_version(),
        };
        self.install(worker, version, Some((release, deployed)))
            .map_err(|e| {
                ReleaseError::Internal(format!(
                    "version {version} is published, but this server cannot serve it: {e}"
                ))
            })?;
        tracing::info!(worker = %worker, version, "deployed");
        Ok(version)
    }

    /// `release` of `worker`, its code fetched from the hub if this server has not got it,
    /// loaded once to check that it compiles.
    async fn prepare(&self, worker: &str, release: &Release) -> Result<Deployed, ReleaseError> {
        let dir = self.records.borrow().code_dir(worker, &release.code);
        if !dir.is_dir() {
            let cluster = self.cluster()?.ok_or_else(|| {
                ReleaseError::Internal(format!(
                    "the code of {worker} is missing: {}",
                    dir.display()
                ))
            })?;
            let body = cluster.code(&release.code).await?;
            if digest(&body) != release.code {
                return Err(ReleaseError::Internal(format!(
                    "the hub's copy of {}'s code {} does not match its digest",
                    worker, release.code
                )));
            }
            let upload: Upload = serde_json::from_slice(&body).map_err(|e| {
                ReleaseError::Invalid(format!("the hub's upload is not valid: {e}"))
            })?;
            unpack(&dir, &upload.files).map_err(ReleaseError::Invalid)?;
        }
        let config = self
            .records
            .borrow()
            .config(worker, release)
            .map_err(ReleaseError::Invalid)?;
        self.check(config).await
    }

    /// `config` loaded once, to check that it compiles (which fills its module cache).
    async fn check(&self, config: WorkerConfig) -> Result<Deployed, ReleaseError> {
        let deployed = Deployed::new(Arc::new(config), 0);
        check_workers_here(std::slice::from_ref(&deployed), &self.options)
            .await
            .map_err(|(_, e)| ReleaseError::Invalid(e.to_string()))?;
        Ok(deployed)
    }

    /// Records `version` of `worker` — a release, or its withdrawal — and switches the site to
    /// it, unless this server has it, or a later one, already.
    fn install(
        &self,
        worker: &str,
        version: u64,
        release: Option<(Release, Deployed)>,
    ) -> Result<(), ReleaseError> {
        let epoch = self.epoch();
        if self.records.borrow().version(worker, epoch.as_deref()) >= version {
            return Ok(());
        }
        let deployed = release.as_ref().map(|(_, deployed)| Deployed {
            version,
            ..deployed.clone()
        });
        let site = self.switch(worker, deployed)?;
        let data_dir = self.data_dir();
        if let Some((release, _)) = &release {
            secrets::store(&data_dir, worker, &release.secrets).map_err(ReleaseError::Internal)?;
        }
        let recorded = Recorded {
            epoch,
            version,
            release: release.map(|(release, _)| release),
        };
        self.records
            .borrow_mut()
            .add(worker, recorded)
            .map_err(ReleaseError::Internal)?;
        self.last_version.set(self.last_version.get().max(version));
        self.site.replace(site);
        Ok(())
    }

    /// The site with `deployed` as `worker` (or without `worker`), if its routes do not collide
    /// and no queue gets a second consumer.
    fn switch(&self, worker: &str, deployed: Option<Deployed>) -> Result<Site, ReleaseError> {
        let current = self.site.current();
        let mut workers = current.workers.clone();
        match (current.position(worker), deployed) {
            (Some(index), Some(deployed)) => workers[index] = deployed,
            (None, Some(deployed)) => workers.push(deployed),
            (Some(index), None) => {
                workers.remove(index);
            }
            (None, None) => {}
        }
        let routes = RouteTable::new(&workers).map_err(ReleaseError::Invalid)?;
        verge_config::check_one_consumer_each(&workers).map_err(ReleaseError::Invalid)?;
        Ok(Site::new(
            workers,
            Mode::Serve(routes),
            current.zones.clone(),
            current.policy.clone(),
        ))
    }

    /// The version the next change on one machine takes: versions count the server's changes.
    fn next_version(&self) -> u64 {
        let next = self.last_version.get() + 1;
        self.last_version.set(next);
        next
    }
}

/// The name of an upload: the first 128 bits of its SHA-256, in hex.
fn digest(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    digest.as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A relative path inside a project: no `..`, no absolute paths, no empty names.
fn safe_path(path: &str) -> Result<PathBuf, String> {
    let candidate = Path::new(path);
    let normal = candidate
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    if path.is_empty() || !normal || path.contains('\\') {
        return Err(format!("invalid file path {path:?} in the upload"));
    }
    Ok(candidate.to_owned())
}

/// Writes `files` (path → base64) into `dir`, unless it is there already: an upload is
/// unpacked beside it first, then renamed into place, so `dir` is never half written.
fn unpack(dir: &Path, files: &BTreeMap<String, String>) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    // Only the control thread unpacks: one left by a crash is cleared.
    let partial = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    for (path, contents) in files {
        let relative = safe_path(path)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(contents)
            .map_err(|e| format!("{path}: the contents are not base64: {e}"))?;
        let target = partial.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, bytes)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    std::fs::create_dir_all(&partial)
        .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    std::fs::rename(&partial, dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::{digest, safe_path};

    #[test]
    fn only_plain_relative_paths_are_safe() {
        assert!(safe_path("src/index.js").is_ok());
        for path in ["", "../x", "/etc/passwd", "a/../../b", "a\\b", "./a"] {
            assert!(safe_path(path).is_err(), "{path:?} passed");
        }
    }

    #[test]
    fn an_upload_is_named_by_its_content() {
        assert_eq!(digest(b"abc"), digest(b"abc"));
        assert_ne!(digest(b"abc"), digest(b"abd"));
        assert_eq!(digest(b"").len(), 32);
    }
}
