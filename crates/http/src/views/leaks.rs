//! Leaked-token reports: GitHub's secret-scanning partner format and the public report form.
//! Outside `/v1` and its document: scanners and finders call them without a Monime token.

use serde::{Deserialize, Serialize};

/// One match in a GitHub report.
#[derive(Debug, Deserialize)]
pub struct GithubMatch {
    pub token: String,
    #[serde(rename = "type")]
    pub token_type: String,
    pub url: Option<String>,
    pub source: Option<String>,
}

/// GitHub's feedback on one match.
#[derive(Debug, Serialize)]
pub struct GithubFeedback {
    pub token_raw: String,
    pub token_type: String,
    pub label: &'static str,
}

/// `POST /token-reports`: a token someone found, and where.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenReport {
    pub token: String,
    pub url: Option<String>,
}

/// The one answer `POST /token-reports` gives, real token or not.
#[derive(Debug, Serialize)]
pub struct ReportReceived {
    pub received: bool,
}
