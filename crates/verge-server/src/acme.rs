//! Certificates from an ACME directory (`[tls.acme]`): obtained at start when none is kept,
//! renewed when less than [`RENEW_BEFORE`] is left, proved with HTTP-01 — the edge answers
//! `/.well-known/acme-challenge/<token>` on `[server] listen` from [`Challenges`] — and served
//! by SNI beside the configured files. The directory's own TLS certificate is trusted through
//! the system store (`SSL_CERT_FILE` included), as outbound `fetch()` trusts one.
//!
//! On one machine the account and the certificate are kept under `<data_dir>/acme/`. At a PoP
//! they are kept once through the hub (`verge-cluster`'s `acme`), every PoP serving the same
//! certificate; one PoP at a time orders (it claims the order at the hub), and every PoP
//! answers the challenges, whichever the directory reaches.

use crate::challenges::Challenges;
use crate::releases::Releases;
use crate::tls::Certificates;
use futures_util::StreamExt as _;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use verge_cluster::Cluster;
use verge_config::AcmeConfig;
use verge_storage::unix_now;

/// A certificate with less than this left is renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How often the certificate is looked at: soon while there is none, else every hour.
const RETRY_EVERY: Duration = Duration::from_secs(5);
const CHECK_EVERY: Duration = Duration::from_secs(60 * 60);

/// How long a PoP's claim to order lasts, should it die ordering.
const ORDER_CLAIM: Duration = Duration::from_secs(10 * 60);

/// A certificate and its key, PEM, as kept.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    chain: String,
    key: String,
}

/// Keeps `[tls.acme]`'s certificate obtained and current.
pub struct AcmeManager {
    pub config: AcmeConfig,
    pub certificates: Arc<Certificates>,
    pub challenges: Arc<Challenges>,
    /// `<data_dir>/acme/`, on one machine.
    pub dir: PathBuf,
}

impl AcmeManager {
    /// Runs for as long as the server does (on the control thread, beside `releases`, which
    /// knows whether this server is a PoP and has its hub).
    pub async fn run(self: Rc<Self>, releases: Rc<Releases>) {
        let mut followed = false;
        loop {
            let cluster = releases.cluster();
            if let (Ok(Some(cluster)), false) = (&cluster, followed) {
                tokio::task::spawn_local(self.clone().follow(cluster.clone()));
                followed = true;
            }
            let wait = match cluster {
                // A PoP that has not reached its hub waits for it.
                Err(_) => RETRY_EVERY,
                Ok(cluster) => match self.keep_current(cluster.as_deref()).await {
                    Ok(true) => CHECK_EVERY,
                    Ok(false) => RETRY_EVERY,
                    Err(e) => {
                        tracing::warn!("ACME: {e}");
                        RETRY_EVERY * 6
                    }
                },
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Serves the kept certificate if it is current, else orders one (unless another PoP is);
    /// whether a current one serves now.
    async fn keep_current(&self, cluster: Option<&Cluster>) -> Result<bool, String> {
        if self.kept_is_current(cluster).await? {
            return Ok(true);
        }
        let Some(cluster) = cluster else {
            self.order_and_keep(None).await?;
            return Ok(true);
        };
        let stale = verge_storage::unix_now_ms().saturating_sub(ORDER_CLAIM.as_millis() as u64);
        let me = cluster.pop().as_bytes().to_vec();
        if !cluster
            .acme_claim("ordering", me, stale)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(false);
        }
        // Another PoP may have finished an order between the look and the claim.
        let ordered = match self.kept_is_current(Some(cluster)).await {
            Ok(true) => Ok(()),
            _ => self.order_and_keep(Some(cluster)).await,
        };
        // Released only once the certificate is kept, so no other PoP orders it again.
        let _ = cluster.acme_delete("ordering").await;
        ordered.map(|()| true)
    }

    /// Serves the kept certificate; whether there is one with more than [`RENEW_BEFORE`] left.
    /// One that cannot be read or serve is logged, to be replaced.
    async fn kept_is_current(&self, cluster: Option<&Cluster>) -> Result<bool, String> {
        let Some(kept) = self.load("certificate", cluster).await? else {
            return Ok(false);
        };
        let served = serde_json::from_slice::<Kept>(&kept)
            .map_err(|e| e.to_string())
            .and_then(|kept| self.serve(&kept));
        match served {
            Ok(expires) => {
                let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
                Ok(expires.saturating_sub(now) > RENEW_BEFORE.as_secs() as i64)
            }
            Err(e) => {
                tracing::warn!(
                    "ACME: the kept certificate cannot serve, so a new one is ordered: {e}"
                );
                Ok(false)
            }
        }
    }

    /// Orders a certificate, serves it and keeps it.
    async fn order_and_keep(&self, cluster: Option<&Cluster>) -> Result<(), String> {
        let kept = self.order(cluster).await?;
        self.serve(&kept)?;
        let bytes = serde_json::to_vec(&kept).map_err(|e| e.to_string())?;
        self.store("certificate", bytes, cluster).await?;
        tracing::info!(
            "ACME: a certificate for {} serves now",
            self.config.domains.join(", ")
        );
        Ok(())
    }

    /// Orders a certificate for the configured domains, proving them with HTTP-01.
    async fn order(&self, cluster: Option<&Cluster>) -> Result<Kept, String> {
        let failed = |what: &str, e: instant_acme::Error| format!("{what}: {e}");
        let account = self.account(cluster).await?;
        let identifiers: Vec<Identifier> = (self.config.domains.iter())
            .map(|domain| Identifier::Dns(domain.clone()))
            .collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(|e| failed("a new order", e))?;
        let retries = RetryPolicy::default().timeout(Duration::from_secs(60));
        let mut tokens = Vec::new();
        let proved = self.prove(&mut order, cluster, &mut tokens).await;
        let status = match proved {
            Ok(()) => order.poll_ready(&retries).await,
            Err(e) => Err(e),
        };
        // The answers are withdrawn whatever came of them.
        for token in tokens {
            self.challenges.set(token.clone(), None);
            if let Some(cluster) = cluster {
                let _ = cluster.acme_delete(&format!("challenge.{token}")).await;
            }
        }
        match status.map_err(|e| failed("proving the domains", e))? {
            OrderStatus::Ready => {}
            status => return Err(format!("the order is {status:?}, not ready")),
        }
        let key = order
            .finalize()
            .await
            .map_err(|e| failed("finalizing", e))?;
        let chain = order
            .poll_certificate(&retries)
            .await
            .map_err(|e| failed("the certificate", e))?;
        Ok(Kept { chain, key })
    }

    /// Answers `order`'s HTTP-01 challenges (those not proved already), noting each token in
    /// `tokens` for the caller to withdraw.
    async fn prove(
        &self,
        order: &mut instant_acme::Order,
        cluster: Option<&Cluster>,
        tokens: &mut Vec<String>,
    ) -> Result<(), instant_acme::Error> {
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            // A directory may reuse an authorization proved before: nothing to answer.
            if authorization.status == AuthorizationStatus::Valid {
                continue;
            }
            let Some(mut challenge) = authorization.challenge(ChallengeType::Http01) else {
                return Err(instant_acme::Error::Str(
                    "the directory offers no HTTP-01 challenge",
                ));
            };
            let token = challenge.token.clone();
            let answer = challenge.key_authorization().as_str().to_owned();
            self.challenges.set(token.clone(), Some(answer.clone()));
            tokens.push(token.clone());
            if let Some(cluster) = cluster {
                let key = format!("challenge.{token}");
                if let Err(e) = cluster.acme_put(&key, answer.into_bytes()).await {
                    tracing::warn!("ACME: other PoPs will not answer {token}: {e}");
                }
            }
            challenge.set_ready().await?;
        }
        Ok(())
    }

    /// The ACME account: the kept one, or a new one (then kept).
    async fn account(&self, cluster: Option<&Cluster>) -> Result<Account, String> {
        let builder = Account::builder().map_err(|e| format!("ACME's HTTP client: {e}"))?;
        if let Some(kept) = self.load("account", cluster).await? {
            let credentials: AccountCredentials =
                serde_json::from_slice(&kept).map_err(|e| format!("the kept account: {e}"))?;
            return builder
                .from_credentials(credentials)
                .await
                .map_err(|e| format!("the kept account: {e}"));
        }
        let contact = format!("mailto:{}", self.config.email);
        let (account, credentials) = builder
            .create(
                &NewAccount {
                    contact: &[&contact],
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.config.directory.clone(),
                None,
            )
            .await
            .map_err(|e| format!("creating an account at {}: {e}", self.config.directory))?;
        let bytes = serde_json::to_vec(&credentials).map_err(|e| e.to_string())?;
        self.store("account", bytes, cluster).await?;
        Ok(account)
    }

    /// Serves `kept`; when it expires.
    fn serve(&self, kept: &Kept) -> Result<i64, String> {
        self.certificates
            .install_obtained(&self.config.domains, &kept.chain, &kept.key)
    }

    /// Follows the hub's ACME state: the challenges in flight (whichever PoP ordered) and the
    /// certificate (whichever PoP renewed it).
    async fn follow(self: Rc<Self>, cluster: Arc<Cluster>) {
        loop {
            if let Ok(changes) = cluster.acme_changes().await {
                let mut changes = std::pin::pin!(changes);
                while let Some((key, value)) = changes.next().await {
                    if let Some(token) = key.strip_prefix("challenge.") {
                        let answer = value.and_then(|value| String::from_utf8(value).ok());
                        self.challenges.set(token.to_owned(), answer);
                    } else if let ("certificate", Some(value)) = (key.as_str(), value) {
                        match serde_json::from_slice::<Kept>(&value) {
                            Ok(kept) => {
                                if let Err(e) = self.serve(&kept) {
                                    tracing::warn!("ACME: the hub's certificate cannot serve: {e}");
                                }
                            }
                            Err(e) => {
                                tracing::warn!("ACME: the hub's certificate is unreadable: {e}")
                            }
                        }
                    }
                }
            }
            tokio::time::sleep(verge_cluster::FOLLOW_AGAIN_AFTER).await;
        }
    }

    async fn load(&self, key: &str, cluster: Option<&Cluster>) -> Result<Option<Vec<u8>>, String> {
        match cluster {
            Some(cluster) => cluster.acme_get(key).await.map_err(|e| e.to_string()),
            None => match std::fs::read(self.dir.join(format!("{key}.json"))) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("cannot read {}: {e}", self.dir.display())),
            },
        }
    }

    async fn store(
        &self,
        key: &str,
        value: Vec<u8>,
        cluster: Option<&Cluster>,
    ) -> Result<(), String> {
        match cluster {
            Some(cluster) => cluster
                .acme_put(key, value)
                .await
                .map_err(|e| e.to_string()),
            None => {
                std::fs::create_dir_all(&self.dir)
                    .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
                let path = self.dir.join(format!("{key}.json"));
                let partial = path.with_extension("json.partial");
                // Keys: readable by the server's user only.
                crate::secrets::write_private(&partial, &value)
                    .and_then(|()| std::fs::rename(&partial, &path))
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            }
        }
    }
}
