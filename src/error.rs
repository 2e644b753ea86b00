//! The one error type of the service, and its one mapping to gRPC status codes.
//!
//! Layers below `grpc` return [`Error`]; the handlers turn it into a [`tonic::Status`] with
//! `?` through the single `From` impl at the bottom of this file. Database text never
//! reaches a client: database errors are logged here and sent as a generic message.

use sea_orm::DbErr;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// A violated rule on one request field, sent as `google.rpc.BadRequest` details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path in the request, e.g. `contact.phone`.
    pub field: String,
    /// What is wrong with it, in words a person understands.
    pub reason: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Everything that can go wrong in a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// INVALID_ARGUMENT, with a BadRequest detail per violated field.
    #[error("{}", describe(.0))]
    Invalid(Vec<Violation>),
    /// NOT_FOUND: `what` with `id` does not exist in the account.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// ALREADY_EXISTS: a unique value is taken; the message names the holder.
    #[error("{0}")]
    AlreadyExists(String),
    /// RESOURCE_EXHAUSTED: the account's plan limit.
    #[error("account {account_id} is at its plan limit of {limit} contacts")]
    PlanLimit { account_id: String, limit: i64 },
    /// RESOURCE_EXHAUSTED: a size cap of the service (field, page, message, selection).
    #[error("{what} exceeds the cap of {cap}")]
    Cap { what: String, cap: u64 },
    /// FAILED_PRECONDITION: not allowed in the current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// UNAUTHENTICATED: no or unknown credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// PERMISSION_DENIED: the credentials do not cover this account.
    #[error("{0}")]
    PermissionDenied(String),
    /// CANCELLED: the client went away.
    #[error("{0}")]
    Cancelled(String),
    /// DEADLINE_EXCEEDED: the client's deadline (`grpc-timeout`) passed before the work
    /// finished.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// UNAVAILABLE: the database cannot be reached right now; retryable.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// ABORTED: the database gave up this transaction for a concurrent one (a deadlock
    /// or a serialization failure); nothing of it was stored, and a retry can succeed.
    #[error("a concurrent change conflicted with this one")]
    Conflict(#[source] DbErr),
    /// INTERNAL: a database error that is a bug; logged, never sent.
    #[error("database error")]
    Database(#[source] DbErr),
    /// INTERNAL: anything else that is a bug; logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The service's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid(vec![Violation::new(field, reason)])
    }

    /// Work stopped because the client's deadline passed; `what` names the work.
    pub fn deadline_exceeded(what: &str) -> Self {
        Error::DeadlineExceeded(format!(
            "the request's deadline (grpc-timeout) passed during the {what}"
        ))
    }

    /// A missing entity.
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_connection_error(&err) {
            Error::Unavailable(err)
        } else if is_text_the_database_cannot_hold(&err) {
            // A backstop: handlers refuse NUL in the fields they check, and any that
            // reaches PostgreSQL came from the request all the same.
            tracing::warn!(error = %err, "a request's text reached the database with a NUL");
            Error::invalid(
                "request",
                "a text field contains a NUL character, which cannot be stored",
            )
        } else if is_conflict(&err) {
            Error::Conflict(err)
        } else {
            Error::Database(err)
        }
    }
}

/// True for errors that mean "the database is not reachable", as opposed to a bad query.
pub fn is_connection_error(err: &DbErr) -> bool {
    use sea_orm::sqlx;
    matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
        || sqlx_error(err).is_some_and(|e| {
            matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Tls(_)
            )
        })
        // PostgreSQL's own "go away" codes: admin shutdown, crash shutdown, cannot
        // connect now, connection failure, no connection.
        || sqlstate(err).is_some_and(|code| {
            matches!(code.as_str(), "57P01" | "57P02" | "57P03" | "08006" | "08003")
        })
}

/// PostgreSQL refused a text value it cannot hold (a NUL byte: `untranslatable_character`
/// 22P05, `character_not_in_repertoire` 22021).
fn is_text_the_database_cannot_hold(err: &DbErr) -> bool {
    sqlstate(err).is_some_and(|code| matches!(code.as_str(), "22021" | "22P05"))
}

/// PostgreSQL aborted the transaction for another one: `deadlock_detected` (40P01) or
/// `serialization_failure` (40001).
fn is_conflict(err: &DbErr) -> bool {
    sqlstate(err).is_some_and(|code| matches!(code.as_str(), "40P01" | "40001"))
}

/// The driver's error under a failed statement.
fn sqlx_error(err: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    match err {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    }
}

/// The SQLSTATE code the database sent with the error, if it sent one.
fn sqlstate(err: &DbErr) -> Option<String> {
    Some(sqlx_error(err)?.as_database_error()?.code()?.into_owned())
}

/// The longest field path or reason sent in an error, in bytes. Reasons may quote the
/// request (an unknown column name, a bad value): a request could otherwise make its
/// answer's headers larger than a client accepts (16 KiB by default), and the client
/// would see a protocol error instead of the reason.
const MAX_ERROR_TEXT: usize = 512;

/// `text` cut to [`MAX_ERROR_TEXT`] bytes at a character boundary, marked when cut.
fn clip(text: String) -> String {
    if text.len() <= MAX_ERROR_TEXT {
        return text;
    }
    let mut end = MAX_ERROR_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let err = match err {
            Error::Invalid(violations) => Error::Invalid(
                violations
                    .into_iter()
                    .take(20)
                    .map(|v| Violation::new(clip(v.field), clip(v.reason)))
                    .collect(),
            ),
            other => other,
        };
        let message = clip(err.to_string());
        match err {
            Error::Invalid(violations) => {
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| FieldViolation::new(v.field, v.reason))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            Error::NotFound { .. } => Status::not_found(message),
            Error::AlreadyExists(_) => Status::already_exists(message),
            Error::PlanLimit { .. } | Error::Cap { .. } => Status::resource_exhausted(message),
            Error::FailedPrecondition(_) => Status::failed_precondition(message),
            Error::Unauthenticated(_) => Status::unauthenticated(message),
            Error::PermissionDenied(_) => Status::permission_denied(message),
            Error::Cancelled(_) => Status::cancelled(message),
            Error::DeadlineExceeded(_) => Status::deadline_exceeded(message),
            Error::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                let why = match source {
                    DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout) => {
                        "database unavailable: no connection to it could be had in time (within \
                         the request's deadline, and at most --db-acquire-timeout-ms)"
                    }
                    _ => "database unavailable",
                };
                Status::unavailable(format!("{why}; retry"))
            }
            Error::Conflict(source) => {
                tracing::warn!(error = %source, "transaction aborted for a concurrent one");
                Status::aborted(format!("{message}: its transaction was rolled back; retry"))
            }
            Error::Database(source) => {
                tracing::error!(error = %source, "database error");
                Status::internal("internal error")
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_text_never_reaches_the_client() {
        let status: Status = Error::Database(DbErr::Custom("relation secret_table".into())).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret_table"));
    }

    #[test]
    fn a_transaction_aborted_for_another_is_aborted_and_retryable() {
        let status: Status =
            Error::Conflict(DbErr::Custom("deadlock on secret_table".into())).into();
        assert_eq!(status.code(), Code::Aborted);
        assert!(status.message().contains("retry"), "{}", status.message());
        assert!(!status.message().contains("secret_table"));
    }

    #[test]
    fn an_error_quoting_a_huge_value_stays_small() {
        let huge = "ü".repeat(10_000);
        let status: Status = Error::invalid("columns", format!("{huge:?} is unknown")).into();
        assert!(
            status.message().len() <= MAX_ERROR_TEXT + 3,
            "{}",
            status.message().len()
        );
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert!(bad.field_violations[0].description.len() <= MAX_ERROR_TEXT + 3);
    }

    #[test]
    fn invalid_argument_carries_bad_request_details() {
        let status: Status = Error::invalid("contact.phone", "is required").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations[0].field, "contact.phone");
    }
}
