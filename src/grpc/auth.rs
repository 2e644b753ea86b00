//! Authentication and tenancy: every RPC passes through [`Gate::admit`] in the router
//! before its handler runs.
//!
//! A request carries `authorization: Bearer <key>`. A key scoped to an account may act
//! only on that account (PERMISSION_DENIED otherwise, without saying whether the other
//! account exists); an internal key may act on any. When keys are not required (a
//! loopback listener without `--require-auth`), a request without a key acts as
//! internal, but a key that is sent is still checked.
//!
//! Client-streaming RPCs name their account in the first message, which the router has
//! not read: the router stores the principal in the request's extensions and the handler
//! calls [`check_admitted`] once it has the account id.

use crate::domain::apikey::Principal;
use crate::error::Error;
use crate::service::Services;
use tonic::{Request, Status, metadata::MetadataMap};

/// Which account a request acts on, as the router sees it.
pub enum Scope<'a> {
    /// This account.
    Account(&'a str),
    /// Every account, or none (creating accounts): internal keys only.
    Global,
    /// Not known before the first message is read: the handler checks.
    Deferred,
}

/// The authentication policy of a server.
#[derive(Debug, Clone)]
pub struct Gate {
    svc: Services,
    required: bool,
}

impl Gate {
    /// A gate; `required` demands a key on every request.
    pub fn new(svc: Services, required: bool) -> Self {
        Self { svc, required }
    }

    /// Authenticates `request`, checks its scope, and leaves the principal in its extensions.
    pub async fn admit<T>(
        &self,
        request: &mut Request<T>,
        scope: impl FnOnce(&T) -> Scope<'_>,
    ) -> Result<(), Status> {
        let (principal, token) = self.principal(request.metadata()).await?;
        match scope(request.get_ref()) {
            Scope::Account(account) => check(&principal, account)?,
            Scope::Global if !principal.is_internal() => {
                return Err(
                    Error::PermissionDenied("only an internal API key may do this".into()).into(),
                );
            }
            Scope::Global | Scope::Deferred => {}
        }
        request.extensions_mut().insert(principal);
        if let Some(token) = token {
            request.extensions_mut().insert(BearerToken(token));
        }
        Ok(())
    }

    async fn principal(
        &self,
        metadata: &MetadataMap,
    ) -> Result<(Principal, Option<String>), Status> {
        let Some(value) = metadata.get("authorization") else {
            if self.required {
                return Err(Error::Unauthenticated(
                    "an API key is required: send `authorization: Bearer <key>`".into(),
                )
                .into());
            }
            return Ok((Principal::Internal, None));
        };
        let text = value
            .to_str()
            .map_err(|_| Error::Unauthenticated("the authorization header is not text".into()))?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .ok_or_else(|| {
                Error::Unauthenticated("the authorization header must be `Bearer <key>`".into())
            })?;
        let token = token.trim();
        Ok((self.svc.authenticate(token).await?, Some(token.to_string())))
    }
}

/// The API key a request was admitted with, kept for long-lived streams that check it
/// again while they run (a revoked key ends them).
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

/// The key a request was admitted with, if it sent one.
pub fn token_of<T>(request: &Request<T>) -> Option<String> {
    request
        .extensions()
        .get::<BearerToken>()
        .map(|t| t.0.clone())
}

/// PERMISSION_DENIED unless `principal` may act on `account_id`. An empty id passes here
/// and is refused by the handler's validation (INVALID_ARGUMENT naming the field).
/// Records the account in the request's span, so every log line of the request names it.
pub fn check(principal: &Principal, account_id: &str) -> Result<(), Status> {
    tracing::Span::current().record("account", account_id);
    if account_id.is_empty() || principal.may_access(account_id.trim()) {
        Ok(())
    } else {
        Err(
            Error::PermissionDenied(format!("this API key may not act on account {account_id}"))
                .into(),
        )
    }
}

/// The principal the gate admitted; client-streaming handlers take it before consuming
/// the request, then call [`check_admitted`] once the first message names the account.
pub fn principal_of<T>(request: &Request<T>) -> Option<Principal> {
    request.extensions().get::<Principal>().cloned()
}

/// Checks the account named in a client-streaming request's first message against the
/// principal the router admitted (none means the gate was bypassed: refused), and
/// records it in the request's span as [`check`] does.
pub fn check_admitted(principal: Option<&Principal>, account_id: &str) -> Result<(), Status> {
    match principal {
        Some(principal) => check(principal, account_id),
        None => {
            Err(Error::Internal("request reached a handler without passing the gate".into()).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Log output kept in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a handler logs after `check_admitted`, inside a request span like the server's.
    fn logged_after_check_admitted(account: &str) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("rpc", account = tracing::field::Empty);
            let _entered = span.enter();
            check_admitted(Some(&Principal::Internal), account).unwrap();
            tracing::info!("handled");
        });
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn client_streaming_requests_log_their_account() {
        let text = logged_after_check_admitted("acc_5f3a");
        assert!(text.contains("rpc{account=\"acc_5f3a\"}"), "{text}");
        assert!(text.contains("handled"), "{text}");
    }
}
