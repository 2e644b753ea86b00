//! Do-Not-Call sources.

/// How a number came onto the DNC list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DncSource {
    /// A user marked it.
    Manual,
    /// The callee asked during a call.
    CallRequest,
    /// An integration through the API.
    Api,
    /// Imported from a DNC list file.
    Import,
}

impl DncSource {
    /// The stored name (the proto name without its prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            DncSource::Manual => "MANUAL",
            DncSource::CallRequest => "CALL_REQUEST",
            DncSource::Api => "API",
            DncSource::Import => "IMPORT",
        }
    }
}
