//! Monime API releases a request may ask for with `Monime-Version`.

/// A supported API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    Caph20250823,
    Caph20250620,
}

impl ApiVersion {
    /// Newest first; the first is the default for new tokens.
    pub const SUPPORTED: [ApiVersion; 2] = [ApiVersion::Caph20250823, ApiVersion::Caph20250620];
    pub const LATEST: ApiVersion = ApiVersion::Caph20250823;

    pub fn id(self) -> &'static str {
        match self {
            ApiVersion::Caph20250823 => "caph.2025-08-23",
            ApiVersion::Caph20250620 => "caph.2025-06-20",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::SUPPORTED.into_iter().find(|v| v.id() == s)
    }

    /// The release family and the date it first shipped (as Monime's root endpoint reports it).
    pub fn release(self) -> (&'static str, &'static str) {
        ("caph", "2025-06-20")
    }

    /// No supported version is deprecated yet.
    pub fn deprecated(self) -> bool {
        false
    }

    pub fn supported_ids() -> Vec<&'static str> {
        Self::SUPPORTED.iter().map(|v| v.id()).collect()
    }
}
