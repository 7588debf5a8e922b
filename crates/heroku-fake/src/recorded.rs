//! What the fake records of each request it receives.

use serde_json::Value;

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The HTTP method, e.g. `PATCH`.
    pub method: String,
    /// The path as sent, still percent-encoded, without the query.
    pub path: String,
    /// Header names (lower case) and values in arrival order; `authorization` reads `[redacted]`.
    pub headers: Vec<(String, String)>,
    /// The body: `None` when empty, the JSON value when it parses, else the raw text as a JSON string.
    pub body: Option<Value>,
}

impl RecordedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
