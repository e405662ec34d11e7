//! SCIM protocol errors (RFC 7644 §3.12): an HTTP status, an optional
//! `scimType` and a human-readable `detail`, rendered as an `Error` message.

use std::fmt;

use serde_json::json;

/// The `scimType` of a 400 (and some 409/412/413) SCIM error (RFC 7644 §3.12, Table 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScimType {
    /// The filter syntax was invalid, or the attribute/operator combination is not supported.
    InvalidFilter,
    /// The filter yields too many results for the server to process.
    TooMany,
    /// One or more of the attribute values are already in use or are reserved.
    Uniqueness,
    /// The modification is incompatible with the target attribute's mutability.
    Mutability,
    /// The request body structure was invalid or did not conform to the schema.
    InvalidSyntax,
    /// The PATCH `path` was invalid or not supported.
    InvalidPath,
    /// The PATCH `path` did not yield an attribute or value that could be operated on.
    NoTarget,
    /// A required value was missing, or the value is not compatible with the attribute.
    InvalidValue,
    /// The specified SCIM protocol version is not supported, or the ETag is malformed.
    InvalidVers,
    /// The request cannot be completed because of sensitive information in the URI.
    Sensitive,
}

impl ScimType {
    /// The wire value (`invalidFilter`, `uniqueness`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM error response: what the handler answers when a request fails.
///
/// The detail never contains a bearer token or a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    status: u16,
    scim_type: Option<ScimType>,
    detail: String,
    retry_after: Option<u64>,
}

impl ScimError {
    /// An error with a status and detail and no `scimType`.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// A 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, detail).with_type(scim_type)
    }

    /// Sets the `scimType`.
    pub fn with_type(mut self, scim_type: ScimType) -> Self {
        self.scim_type = Some(scim_type);
        self
    }

    pub(crate) fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub(crate) fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }
    pub(crate) fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }
    pub(crate) fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }
    pub(crate) fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }
    pub(crate) fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }
    pub(crate) fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, detail)
    }
    pub(crate) fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, detail).with_type(ScimType::Uniqueness)
    }
    pub(crate) fn internal() -> Self {
        Self::new(
            500,
            "the service provider failed to process the request; it was logged",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `scimType`, if any.
    pub fn scim_type(&self) -> Option<ScimType> {
        self.scim_type
    }

    /// The human-readable detail.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Seconds to wait before retrying (429 only).
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The SCIM `Error` message body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = json!({
            "schemas": [super::ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            v["scimType"] = json!(t.as_str());
        }
        v
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SCIM {}", self.status)?;
        if let Some(t) = self.scim_type {
            write!(f, " {t}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

impl std::error::Error for ScimError {}
