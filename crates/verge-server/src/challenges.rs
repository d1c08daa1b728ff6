//! The answers to ACME's HTTP-01 challenges in flight, which `acme.rs` sets while it proves a
//! domain and the edge gives at `/.well-known/acme-challenge/<token>`: shared between the two
//! without either knowing the other.

use std::collections::HashMap;
use std::sync::RwLock;

/// The answers to HTTP-01 challenges in flight: token → key authorization.
#[derive(Debug, Default)]
pub struct Challenges(RwLock<HashMap<String, String>>);

impl Challenges {
    /// The key authorization for `token`, if a challenge for it is in flight.
    pub fn answer(&self, token: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    pub(crate) fn set(&self, token: String, answer: Option<String>) {
        let mut answers = self.0.write().unwrap_or_else(|p| p.into_inner());
        match answer {
            Some(answer) => answers.insert(token, answer),
            None => answers.remove(&token),
        };
    }
}
