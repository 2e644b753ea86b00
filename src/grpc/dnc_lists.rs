//! DNC list handlers: CreateDncList, GetDncList, ListDncLists, UpdateDncList,
//! DeleteDncList and ImportDncList.

use super::convert::{self, account_id, opt_ts, ts};
use crate::error::{Error, Result};
use crate::import::dnc_file::Format;
use crate::pb;
use crate::service::Services;
use crate::service::dnc_lists::{
    ByteStream, DncImportOutcome, DncImportRequest, DncListFields, DncListView, ListRef,
};
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};

/// Longest list name, source and request id, in characters.
const MAX_NAME: usize = 256;
/// Longest description, in bytes.
const MAX_DESCRIPTION: usize = 4096;
/// Longest request id, in bytes.
const MAX_REQUEST_ID: usize = 128;

fn name(field: &str, value: &str) -> Result<String> {
    let n = convert::short_text(field, value, MAX_NAME)?;
    if n.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    Ok(n)
}

fn list_id(field: &str, id: i64) -> Result<i64> {
    if id <= 0 {
        return Err(Error::invalid(
            field,
            format!("must be a list id (> 0), got {id}"),
        ));
    }
    Ok(id)
}

fn view(v: DncListView) -> pb::DncList {
    pb::DncList {
        id: v.list.id,
        name: v.list.name,
        source: v.list.source,
        description: v.list.description,
        entry_count: v.entries,
        create_time: Some(ts(v.list.created_at)),
        update_time: Some(ts(v.list.updated_at)),
    }
}

pub async fn create_dnc_list(
    svc: &Services,
    request: Request<pb::CreateDncListRequest>,
) -> Result<Response<pb::CreateDncListResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let list = req.list.unwrap_or_default();
    let n = name("list.name", &list.name)?;
    let source = convert::short_text("list.source", &list.source, MAX_NAME)?;
    let description = convert::free_text("list.description", &list.description, MAX_DESCRIPTION)?;
    let v = svc
        .create_dnc_list(account, &n, &source, &description)
        .await?;
    Ok(Response::new(pb::CreateDncListResponse {
        list: Some(view(v)),
    }))
}

pub async fn get_dnc_list(
    svc: &Services,
    request: Request<pb::GetDncListRequest>,
) -> Result<Response<pb::GetDncListResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let v = svc
        .get_dnc_list(account, list_id("list_id", req.list_id)?)
        .await?;
    Ok(Response::new(pb::GetDncListResponse {
        list: Some(view(v)),
    }))
}

pub async fn list_dnc_lists(
    svc: &Services,
    request: Request<pb::ListDncListsRequest>,
) -> Result<Response<pb::ListDncListsResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let (lists, next_page_token) = svc
        .list_dnc_lists(account, convert::page_size(req.page_size)?, &req.page_token)
        .await?;
    Ok(Response::new(pb::ListDncListsResponse {
        lists: lists.into_iter().map(view).collect(),
        next_page_token,
    }))
}

pub async fn update_dnc_list(
    svc: &Services,
    request: Request<pb::UpdateDncListRequest>,
) -> Result<Response<pb::UpdateDncListResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let list = req.list.unwrap_or_default();
    let id = list_id("list.id", list.id)?;
    let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        return Err(Error::invalid("update_mask", "names no field to update").into());
    }
    let mut fields = DncListFields::default();
    for path in &paths {
        match path.as_str() {
            "name" => fields.name = Some(name("list.name", &list.name)?),
            "source" => {
                fields.source = Some(convert::short_text("list.source", &list.source, MAX_NAME)?)
            }
            "description" => {
                fields.description = Some(convert::free_text(
                    "list.description",
                    &list.description,
                    MAX_DESCRIPTION,
                )?)
            }
            other => {
                return Err(Error::invalid(
                    "update_mask",
                    format!("{other:?} is not an updatable field (name, source, description)"),
                )
                .into());
            }
        }
    }
    let v = svc.update_dnc_list(account, id, fields).await?;
    Ok(Response::new(pb::UpdateDncListResponse {
        list: Some(view(v)),
    }))
}

pub async fn delete_dnc_list(
    svc: &Services,
    request: Request<pb::DeleteDncListRequest>,
) -> Result<Response<pb::DeleteDncListResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let entries_removed = svc
        .delete_dnc_list(account, list_id("list_id", req.list_id)?)
        .await?;
    Ok(Response::new(pb::DeleteDncListResponse { entries_removed }))
}

/// The import's options, checked.
fn import_request(o: pb::ImportDncListOptions, now: i64) -> Result<DncImportRequest> {
    let account = account_id(&o.account_id)?.to_string();
    let list = match (o.list_id, o.list_name.trim().is_empty()) {
        (0, true) => {
            return Err(Error::invalid(
                "options.list_id",
                "name the list: list_id, or list_name",
            ));
        }
        (id, true) => ListRef::Id(list_id("options.list_id", id)?),
        (0, false) => ListRef::Name {
            name: name("options.list_name", &o.list_name)?,
            source: convert::short_text("options.source", &o.source, MAX_NAME)?,
        },
        _ => {
            return Err(Error::invalid(
                "options.list_name",
                "give list_id or list_name, not both",
            ));
        }
    };
    let format = match convert::known_enum::<pb::DncFileFormat>("options.format", o.format)? {
        Some(pb::DncFileFormat::Plain) => Format::Plain,
        Some(pb::DncFileFormat::Csv) => Format::Csv,
        Some(pb::DncFileFormat::Registry) => Format::Registry,
        _ => {
            return Err(Error::invalid(
                "options.format",
                "is required: PLAIN, CSV or REGISTRY",
            ));
        }
    };
    let expires_at = match &o.expire_time {
        Some(t) => {
            let at = convert::timestamp("options.expire_time", t)?;
            if at <= now {
                return Err(Error::invalid(
                    "options.expire_time",
                    "is in the past: the entries would never block",
                ));
            }
            Some(at)
        }
        None => None,
    };
    if format != Format::Csv {
        for (field, value) in [
            ("options.phone_column", &o.phone_column),
            ("options.expire_column", &o.expire_column),
        ] {
            if !value.trim().is_empty() {
                return Err(Error::invalid(field, "applies to the CSV format only"));
            }
        }
    }
    let request_id = convert::free_text("options.request_id", &o.request_id, MAX_REQUEST_ID)?;
    Ok(DncImportRequest {
        account_id: account,
        list,
        format,
        region: convert::region("options.region", &o.region)?,
        expires_at,
        phone_column: convert::short_text("options.phone_column", &o.phone_column, MAX_NAME)?,
        expire_column: convert::short_text("options.expire_column", &o.expire_column, MAX_NAME)?,
        replace: o.replace,
        request_id: (!request_id.is_empty()).then_some(request_id),
    })
}

fn outcome(o: DncImportOutcome) -> pb::DncListImport {
    let i = o.import;
    pb::DncListImport {
        id: i.id,
        list_id: i.list_id,
        read: i.lines_read,
        added: i.added,
        already_listed: i.already_listed,
        invalid: i.invalid,
        invalid_lines: o
            .invalid_lines
            .into_iter()
            .map(|(line, reason)| pb::DncInvalidLine { line, reason })
            .collect(),
        removed: i.removed,
        replayed: o.replayed,
        status: i.status,
        error: i.error,
    }
}

pub async fn import_dnc_list(
    svc: &Services,
    request: Request<Streaming<pb::ImportDncListRequest>>,
) -> Result<Response<pb::ImportDncListResponse>, Status> {
    use pb::import_dnc_list_request::Payload;
    let principal = super::auth::principal_of(&request);
    let mut stream = request.into_inner();
    let first = super::import::first_message(stream.next().await)?;
    let Some(Payload::Options(options)) = first.payload else {
        return Err(Error::invalid("options", "the first message must carry the options").into());
    };
    super::auth::check_admitted(principal.as_ref(), &options.account_id)?;
    let req = import_request(options, svc.now())?;
    let input: ByteStream = Box::pin(stream.map(|m| match m {
        Ok(pb::ImportDncListRequest {
            payload: Some(Payload::Chunk(c)),
        }) => Ok(c),
        Ok(_) => Err(Error::invalid(
            "payload",
            "after the options, every message carries a chunk",
        )),
        Err(status) => Err(super::import::client_error(status)),
    }));
    let done = svc.import_dnc_list(req, input).await?;
    Ok(Response::new(pb::ImportDncListResponse {
        result: Some(outcome(done)),
    }))
}

/// The live list entries blocking a number, for CheckDnc.
pub fn hits(hits: &[crate::store::dnc_lists::Hit]) -> Vec<pb::DncListHit> {
    hits.iter()
        .map(|h| pb::DncListHit {
            list_id: h.list_id,
            list_name: h.list_name.clone(),
            expire_time: opt_ts(h.expires_at),
            create_time: Some(ts(h.created_at)),
        })
        .collect()
}
