//! The keys that sign GitHub's secret-scanning reports: read from the operator's file at start,
//! and refreshed from a URL (GitHub publishes them) when one is configured and answers.

use openmonime_domain::leak_report::SigningKeys;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often the key document is fetched again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(6 * 3600);

/// The current keys, shared by every request; replaced whole by a refresh.
#[derive(Debug, Clone, Default)]
pub struct LeakKeys {
    current: Arc<RwLock<Arc<SigningKeys>>>,
    /// Where to fetch the key document again (GitHub's: `leak_report::GITHUB_KEYS_URL`).
    pub url: Option<String>,
}

impl LeakKeys {
    pub fn new(keys: SigningKeys, url: Option<String>) -> Self {
        LeakKeys { current: Arc::new(RwLock::new(Arc::new(keys))), url }
    }

    pub fn current(&self) -> Arc<SigningKeys> {
        self.current.read().map(|k| Arc::clone(&k)).unwrap_or_default()
    }

    fn replace(&self, keys: SigningKeys) {
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(keys);
        }
    }

    /// Fetches the key document once; keeps the keys it had when the URL does not answer or
    /// answers with something that is not a whole key document.
    pub async fn refresh(&self) -> Result<usize, String> {
        let Some(url) = &self.url else { return Ok(self.current().len()) };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent("openmonime")
            .build()
            .map_err(|e| e.to_string())?;
        let response = client.get(url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let text = response.text().await.map_err(|e| e.to_string())?;
        let keys = SigningKeys::parse(&text).map_err(|e| e.to_string())?;
        let count = keys.len();
        self.replace(keys);
        Ok(count)
    }
}
