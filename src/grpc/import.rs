//! Import handlers: the options message is checked here, the rest of the client's stream
//! becomes a stream of domain pieces for the service, and the service's events become
//! response messages.

use super::BoxStream;
use super::convert::{self, account_id, ts};
use crate::domain::Validation;
use crate::domain::batch::{ImportBatch, RejectedRow};
use crate::error::{Error, Result};
use crate::import::rejection::ByKind;
use crate::import::{ColumnMap, Counts, Field, Input, Rejection, RowError};
use crate::pb;
use crate::service::Services;
use crate::service::import::{DuplicatePolicy, ImportEvent, ImportRequest, InputStream};
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// Longest file name or client request id kept.
const MAX_NAME: usize = 256;

pub async fn preview_import(
    svc: &Services,
    request: Request<Streaming<pb::PreviewImportRequest>>,
) -> Result<Response<pb::PreviewImportResponse>, Status> {
    use pb::preview_import_request::Payload;
    let principal = super::auth::principal_of(&request);
    let mut stream = request.into_inner();
    let first = first_message(stream.next().await)?;
    let sample = match first.sample_rows {
        n if n <= 0 => 10,
        n => n.min(100) as usize,
    };
    let Some(Payload::Options(options)) = first.payload else {
        return Err(options_first().into());
    };
    super::auth::check_admitted(principal.as_ref(), &options.account_id)?;
    let req = options_from(options)?;
    let input: InputStream = Box::pin(stream.map(|m| match m {
        Ok(pb::PreviewImportRequest {
            payload: Some(Payload::Chunk(c)),
            ..
        }) => Ok(Input::Chunk(c)),
        Ok(_) => Err(Error::invalid(
            "payload",
            "after the options, every message carries a chunk",
        )),
        Err(status) => Err(client_error(status)),
    }));
    let preview = svc.preview_import(req, sample, input).await?;
    Ok(Response::new(pb::PreviewImportResponse {
        delimiter: preview.header.delimiter,
        encoding: preview.header.encoding,
        mapping: preview.header.mapping.iter().map(column_mapping).collect(),
        unmapped_columns: preview.header.unmapped,
        sample: preview
            .sample
            .into_iter()
            .map(|c| pb::ContactInput {
                phone: c.phone.e164().to_string(),
                phone_extension: c.phone_extension,
                region: String::new(),
                first_name: c.first_name,
                last_name: c.last_name,
                email: c.email.map(|e| e.into_string()).unwrap_or_default(),
                company: c.company,
                title: c.title,
                custom_fields: c.custom_fields.into_iter().collect(),
                time_zone: c.time_zone,
            })
            .collect(),
        counts: Some(counts(&preview.counts)),
        errors: preview
            .errors
            .iter()
            .map(|(line, e)| row_error(*line, e))
            .collect(),
        regions: {
            let mut regions: Vec<pb::RegionRows> = preview
                .regions
                .into_iter()
                .map(|(region, rows)| pb::RegionRows { region, rows })
                .collect();
            regions.sort_by_key(|r| std::cmp::Reverse(r.rows));
            regions
        },
        empty_columns: preview.empty_columns,
        rejected_by_kind: rejected_by_kind(
            &preview.counts.rejected,
            preview.counts.invalid + preview.counts.over_limit,
        ),
    }))
}

pub async fn import_contacts(
    svc: &Services,
    request: Request<Streaming<pb::ImportContactsRequest>>,
) -> Result<Response<BoxStream<pb::ImportContactsResponse>>, Status> {
    use pb::import_contacts_request::Payload;
    let principal = super::auth::principal_of(&request);
    let deadline = super::deadline::deadline(request.metadata());
    let mut stream = request.into_inner();
    let first = first_message(stream.next().await)?;
    let Some(Payload::Options(options)) = first.payload else {
        return Err(options_first().into());
    };
    super::auth::check_admitted(principal.as_ref(), &options.account_id)?;
    let mut req = options_from(options)?;
    req.deadline = deadline;
    let input: InputStream = Box::pin(stream.map(|m| {
        match m {
            Ok(pb::ImportContactsRequest {
                payload: Some(Payload::Chunk(c)),
            }) => Ok(Input::Chunk(c)),
            Ok(pb::ImportContactsRequest {
                payload: Some(Payload::Rows(rows)),
            }) => rows
                .rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| convert::draft(&format!("rows.rows[{i}].contact"), r.contact))
                .collect::<Result<Vec<_>>>()
                .map(Input::Rows),
            Ok(_) => Err(Error::invalid(
                "payload",
                "after the options, every message carries a chunk or rows",
            )),
            Err(status) => Err(client_error(status)),
        }
    }));
    let events = svc.import_contacts(req, input);
    let out = ReceiverStream::new(events).map(|e| {
        use pb::import_contacts_response::Event;
        let event = match e? {
            ImportEvent::Started(b) => Event::Started(batch(b)),
            ImportEvent::Progress {
                counts: c,
                bytes_read,
            } => Event::Progress(pb::ImportProgress {
                counts: Some(counts(&c)),
                bytes_read,
            }),
            ImportEvent::Finished(b) => Event::Finished(batch(b)),
        };
        Ok(pb::ImportContactsResponse { event: Some(event) })
    });
    Ok(Response::new(Box::pin(out)))
}

pub async fn get_import_batch(
    svc: &Services,
    request: Request<pb::GetImportBatchRequest>,
) -> Result<Response<pb::GetImportBatchResponse>, Status> {
    let req = request.into_inner();
    let b = svc
        .get_import_batch(account_id(&req.account_id)?, batch_id(&req.batch_id)?)
        .await?;
    Ok(Response::new(pb::GetImportBatchResponse {
        batch: Some(batch(b)),
    }))
}

pub async fn list_import_batches(
    svc: &Services,
    request: Request<pb::ListImportBatchesRequest>,
) -> Result<Response<pb::ListImportBatchesResponse>, Status> {
    let req = request.into_inner();
    let (rows, next_page_token) = svc
        .list_import_batches(
            account_id(&req.account_id)?,
            super::convert::page_size(req.page_size)?,
            &req.page_token,
        )
        .await?;
    Ok(Response::new(pb::ListImportBatchesResponse {
        batches: rows.into_iter().map(batch).collect(),
        next_page_token,
    }))
}

pub async fn list_import_errors(
    svc: &Services,
    request: Request<pb::ListImportErrorsRequest>,
) -> Result<Response<pb::ListImportErrorsResponse>, Status> {
    let req = request.into_inner();
    let (rows, next_page_token, rejected_not_stored) = svc
        .list_import_errors(
            account_id(&req.account_id)?,
            batch_id(&req.batch_id)?,
            super::convert::page_size(req.page_size)?,
            &req.page_token,
        )
        .await?;
    Ok(Response::new(pb::ListImportErrorsResponse {
        errors: rows.into_iter().map(stored_error).collect(),
        next_page_token,
        rejected_not_stored,
    }))
}

pub async fn export_import_errors(
    svc: &Services,
    request: Request<pb::ExportImportErrorsRequest>,
) -> Result<Response<BoxStream<pb::ExportImportErrorsResponse>>, Status> {
    let req = request.into_inner();
    let (not_stored, rx) = svc
        .export_import_errors(account_id(&req.account_id)?, batch_id(&req.batch_id)?)
        .await?;
    // The first message says how many rejected rows the CSV lacks.
    let mut first = true;
    let out = ReceiverStream::new(rx).map(move |r| {
        let rejected_not_stored = if std::mem::take(&mut first) {
            not_stored
        } else {
            0
        };
        r.map(|chunk| pb::ExportImportErrorsResponse {
            chunk,
            rejected_not_stored,
        })
        .map_err(Status::from)
    });
    Ok(Response::new(Box::pin(out)))
}

pub(super) fn first_message<T>(m: Option<Result<T, Status>>) -> Result<T> {
    match m {
        Some(Ok(m)) => Ok(m),
        Some(Err(status)) => Err(client_error(status)),
        None => Err(options_first()),
    }
}

fn options_first() -> Error {
    Error::invalid("options", "the first message must carry the options")
}

/// The client's stream failed: a message over the cap (tonic's OUT_OF_RANGE), or the
/// client went away.
pub(super) fn client_error(status: Status) -> Error {
    if status.code() == tonic::Code::OutOfRange {
        return super::message_over_cap();
    }
    Error::Cancelled(format!(
        "the client went away during the upload (its stream ended: {})",
        status.message()
    ))
}

fn batch_id(id: &str) -> Result<&str> {
    let id = id.trim();
    if id.is_empty() {
        return Err(Error::invalid("batch_id", "is required"));
    }
    if id.len() > MAX_NAME || id.chars().any(char::is_control) {
        // Not an id this API gives out (and PostgreSQL cannot even compare a NUL).
        return Err(Error::not_found("import batch", id.escape_debug()));
    }
    Ok(id)
}

fn text(field: &str, value: String) -> Result<String> {
    convert::short_text(field, &value, MAX_NAME)
}

/// The options message to a checked request.
fn options_from(o: pb::ImportOptions) -> Result<ImportRequest> {
    let account = account_id(&o.account_id)?.to_string();
    let mut explicit = Vec::with_capacity(o.mapping.len());
    for (i, m) in o.mapping.into_iter().enumerate() {
        let f = format!("options.mapping[{i}]");
        let field = match super::convert::known_enum(&format!("{f}.field"), m.field)? {
            Some(pb::ContactField::Phone) => Field::Phone,
            Some(pb::ContactField::FirstName) => Field::FirstName,
            Some(pb::ContactField::LastName) => Field::LastName,
            Some(pb::ContactField::FullName) => Field::FullName,
            Some(pb::ContactField::Email) => Field::Email,
            Some(pb::ContactField::Company) => Field::Company,
            Some(pb::ContactField::Title) => Field::Title,
            Some(pb::ContactField::TimeZone) => Field::TimeZone,
            Some(pb::ContactField::Country) => Field::Country,
            Some(pb::ContactField::MiddleName) => Field::MiddleName,
            Some(pb::ContactField::PhoneExtension) => Field::PhoneExtension,
            Some(pb::ContactField::Custom) => Field::Custom,
            Some(pb::ContactField::Ignore) => Field::Ignore,
            Some(pb::ContactField::ConsentKind) => Field::ConsentKind,
            Some(pb::ContactField::ConsentChannel) => Field::ConsentChannel,
            Some(pb::ContactField::ConsentSource) => Field::ConsentSource,
            Some(pb::ContactField::ConsentCapturedAt) => Field::ConsentCapturedAt,
            Some(pb::ContactField::ConsentExpiresAt) => Field::ConsentExpiresAt,
            _ => return Err(Error::invalid(format!("{f}.field"), "is required")),
        };
        if m.column.trim().is_empty() {
            return Err(Error::invalid(format!("{f}.column"), "is required"));
        }
        let custom_name = m.custom_field_name.trim().to_string();
        if field == Field::Custom
            && (custom_name.is_empty()
                || custom_name.chars().count() > crate::domain::contact::MAX_CUSTOM_KEY)
        {
            return Err(Error::invalid(
                format!("{f}.custom_field_name"),
                "is required with CONTACT_FIELD_CUSTOM (1 to 64 characters)",
            ));
        }
        explicit.push(ColumnMap {
            column: m.column,
            field,
            custom_name,
        });
    }
    let mode = match pb::ValidationMode::try_from(o.validation_mode) {
        Ok(pb::ValidationMode::Lenient) => Validation::Lenient,
        Ok(_) => Validation::Strict,
        Err(_) => return Err(Error::invalid("options.validation_mode", "is not a mode")),
    };
    let policy = match pb::DuplicatePolicy::try_from(o.duplicate_policy) {
        Ok(pb::DuplicatePolicy::UpdateEmpty) => DuplicatePolicy::UpdateEmpty,
        Ok(pb::DuplicatePolicy::UpdateAll) => DuplicatePolicy::UpdateAll,
        Ok(_) => DuplicatePolicy::Skip,
        Err(_) => {
            return Err(Error::invalid(
                "options.duplicate_policy",
                "is not a policy",
            ));
        }
    };
    let delimiter = match o.delimiter.as_str() {
        "" => None,
        "," => Some(b','),
        ";" => Some(b';'),
        "\t" | "tab" | "\\t" => Some(b'\t'),
        other => {
            return Err(Error::invalid(
                "options.delimiter",
                format!("{other:?} is not one of \",\", \";\", \"\\t\""),
            ));
        }
    };
    let campaign = text("options.campaign_id", o.campaign_id)?;
    let request_id = text("options.client_request_id", o.client_request_id)?;
    Ok(ImportRequest {
        account_id: account,
        explicit,
        region: convert::region("options.default_region", &o.default_region)?,
        mode,
        policy,
        campaign_id: (!campaign.is_empty()).then_some(campaign),
        file_name: text("options.file_name", o.file_name)?,
        client_request_id: (!request_id.is_empty()).then_some(request_id),
        unmapped_as_custom: o.unmapped_as_custom_fields,
        delimiter,
        has_header: o.has_header.unwrap_or(true),
        // A preview is bounded by tonic (its whole work precedes the response); an
        // import's handler sets its deadline.
        deadline: None,
    })
}

fn column_mapping(m: &ColumnMap) -> pb::ColumnMapping {
    let field = match m.field {
        Field::Phone => pb::ContactField::Phone,
        Field::FirstName => pb::ContactField::FirstName,
        Field::LastName => pb::ContactField::LastName,
        Field::FullName => pb::ContactField::FullName,
        Field::Email => pb::ContactField::Email,
        Field::Company => pb::ContactField::Company,
        Field::Title => pb::ContactField::Title,
        Field::TimeZone => pb::ContactField::TimeZone,
        Field::Country => pb::ContactField::Country,
        Field::MiddleName => pb::ContactField::MiddleName,
        Field::PhoneExtension => pb::ContactField::PhoneExtension,
        Field::Custom => pb::ContactField::Custom,
        Field::Ignore => pb::ContactField::Ignore,
        Field::ConsentKind => pb::ContactField::ConsentKind,
        Field::ConsentChannel => pb::ContactField::ConsentChannel,
        Field::ConsentSource => pb::ContactField::ConsentSource,
        Field::ConsentCapturedAt => pb::ContactField::ConsentCapturedAt,
        Field::ConsentExpiresAt => pb::ContactField::ConsentExpiresAt,
    };
    pb::ColumnMapping {
        column: m.column.clone(),
        field: field as i32,
        custom_field_name: m.custom_name.clone(),
    }
}

fn counts(c: &Counts) -> pb::ImportCounts {
    pb::ImportCounts {
        rows: c.rows,
        imported: c.imported,
        updated: c.updated,
        duplicates_in_file: c.duplicates_in_file,
        duplicates_existing: c.duplicates_existing,
        invalid: c.invalid,
        over_limit: c.over_limit,
        dnc: c.dnc,
        dnc_excluded: c.dnc_excluded,
        added_to_campaign: c.added_to_campaign,
        rejected_not_stored: c.rejected_not_stored,
    }
}

/// The kinds with rows, in the enum's order; rows of the `rejected` total that no kind
/// accounts for (a batch from before kinds were counted) as UNSPECIFIED.
fn rejected_by_kind(by: &ByKind, rejected: i64) -> Vec<pb::RejectedRows> {
    let unattributed = rejected - by.iter().sum::<i64>();
    let unattributed = (unattributed > 0).then_some((pb::RejectionKind::Unspecified, unattributed));
    unattributed
        .into_iter()
        .chain(
            Rejection::ALL
                .into_iter()
                .map(|k| (pb::RejectionKind::from(k), by[k.index()])),
        )
        .filter(|(_, rows)| *rows > 0)
        .map(|(kind, rows)| pb::RejectedRows {
            kind: kind as i32,
            rows,
        })
        .collect()
}

impl From<Rejection> for pb::RejectionKind {
    fn from(k: Rejection) -> Self {
        match k {
            Rejection::InvalidPhone => pb::RejectionKind::InvalidPhone,
            Rejection::MissingPhone => pb::RejectionKind::MissingPhone,
            Rejection::InvalidEmail => pb::RejectionKind::InvalidEmail,
            Rejection::InvalidCountry => pb::RejectionKind::InvalidCountry,
            Rejection::InvalidField => pb::RejectionKind::InvalidField,
            Rejection::RaggedRow => pb::RejectionKind::RaggedRow,
            Rejection::FieldTooLong => pb::RejectionKind::FieldTooLong,
            Rejection::MalformedCsv => pb::RejectionKind::MalformedCsv,
            Rejection::OverLimit => pb::RejectionKind::OverLimit,
        }
    }
}

fn row_error(line: i64, e: &RowError) -> pb::ImportError {
    pb::ImportError {
        line,
        column: e.column.clone(),
        raw_value: e.raw_value.clone(),
        reason: e.reason.clone(),
        kind: e.kind.to_string(),
    }
}

fn stored_error(e: RejectedRow) -> pb::ImportError {
    pb::ImportError {
        line: e.line,
        column: e.column,
        raw_value: e.raw_value,
        reason: e.reason,
        kind: e.kind,
    }
}

fn batch(b: ImportBatch) -> pb::ImportBatch {
    let c = &b.counts;
    let rejected_by_kind = rejected_by_kind(&c.rejected, c.invalid + c.over_limit);
    pb::ImportBatch {
        id: b.id,
        account_id: b.account_id,
        status: pb::ImportStatus::from(b.status) as i32,
        file_name: b.file_name,
        counts: Some(counts(c)),
        mapping: b.mapping.iter().map(column_mapping).collect(),
        campaign_id: b.campaign_id,
        client_request_id: b.client_request_id.unwrap_or_default(),
        start_time: Some(ts(b.started_at)),
        finish_time: b.finished_at.map(ts),
        error_message: b.error_message,
        delimiter: b.delimiter,
        encoding: b.encoding,
        rejected_by_kind,
    }
}
