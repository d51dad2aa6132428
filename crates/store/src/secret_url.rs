//! A URL that may carry credentials (`postgres://user:password@host/db`, `redis://:pw@host`,
//! `…?password=…`): its `Debug` and `Display` hide the password, so a settings struct holding one
//! can be logged or printed in an error without leaking it. The URL itself is reached only
//! through [`SecretUrl::expose`], where it is handed to a driver.

use serde::Deserialize;
use std::fmt;

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        SecretUrl(url.into())
    }

    /// The URL itself, for the driver that connects with it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = self.0.as_str();
        let (head, query) = match url.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (url, None),
        };
        let mut out = match head.split_once("://") {
            Some((scheme, rest)) => {
                let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let authority = match authority.rsplit_once('@') {
                    Some((userinfo, host)) => match userinfo.split_once(':') {
                        Some((user, _password)) => format!("{user}:***@{host}"),
                        None => format!("{userinfo}@{host}"),
                    },
                    None => authority.to_owned(),
                };
                format!("{scheme}://{authority}{path}")
            }
            None => head.to_owned(),
        };
        if let Some(query) = query {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        out
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> Self {
        SecretUrl(url)
    }
}

impl From<&str> for SecretUrl {
    fn from(url: &str) -> Self {
        SecretUrl(url.to_owned())
    }
}

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(SecretUrl(url.to_owned()))
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({:?})", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::SecretUrl;

    #[test]
    fn passwords_are_hidden_wherever_a_url_carries_them() {
        for (url, shown) in [
            ("postgres://app:s3cr3t@db.internal:5432/openmonime", "postgres://app:***@db.internal:5432/openmonime"),
            ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
            (
                "postgres://db/openmonime?user=app&password=s3cr3t&sslmode=require",
                "postgres://db/openmonime?user=app&password=***&sslmode=require",
            ),
            ("postgres://app@db/openmonime", "postgres://app@db/openmonime"),
            ("sqlite:openmonime.db", "sqlite:openmonime.db"),
            ("redis://a:b@c@host", "redis://a:***@host"),
        ] {
            let secret = SecretUrl::from(url);
            assert_eq!(secret.redacted(), shown);
            for text in [format!("{secret:?}"), secret.to_string()] {
                for word in ["s3cr3t", "hunter2", ":b@"] {
                    assert!(!text.contains(word), "{text}");
                }
            }
            assert_eq!(secret.expose(), url);
        }
    }
}
