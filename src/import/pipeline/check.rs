//! Checking drafts: each chunk's drafts checked (on two threads when there are two
//! cores), a failed check as a rejected row naming its column, raw value and kind.

use super::*;
use crate::domain::phone::OwnParser;

/// Whether a phone cell is written with its country code (`+49…`, `0049…`).
pub(super) fn is_international(phone: &str) -> bool {
    let p = phone.trim_start();
    p.starts_with('+') || p.starts_with("00")
}

pub(super) type Checked = Vec<Option<Result<NewContact, RowError>>>;

/// Checks the drafts among `pending` (`None` for rows already decided).
pub(super) fn check_each(
    opts: &ParseOptions,
    mapping: Option<&Mapping>,
    pending: &[Pending],
) -> Checked {
    pending
        .iter()
        .map(|p| match p {
            Pending::Ready(_) => None,
            Pending::Check {
                raw,
                draft,
                phone_col,
                ..
            } => Some(check(opts, draft, |field| {
                source(mapping, *phone_col, raw, field)
            })),
        })
        .collect()
}

/// A thread that checks half of each chunk for the whole import, with a phone parser of
/// its own ([`OwnParser`]; the worker thread takes one too when the helper starts). One
/// thread for the import, not one per chunk: each new thread would build a parser.
pub(super) struct Helper {
    jobs: std::sync::mpsc::Sender<(ParseOptions, Option<Mapping>, Vec<Pending>)>,
    done: std::sync::mpsc::Receiver<(Vec<Pending>, Checked)>,
    /// The worker thread's own parser, for as long as the helper runs.
    _own: OwnParser,
}

impl Helper {
    pub(super) fn start() -> Helper {
        let (jobs, job_rx) =
            std::sync::mpsc::channel::<(ParseOptions, Option<Mapping>, Vec<Pending>)>();
        let (done_tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _own = OwnParser::install();
            for (opts, mapping, pending) in job_rx {
                let checked = check_each(&opts, mapping.as_ref(), &pending);
                if done_tx.send((pending, checked)).is_err() {
                    return;
                }
            }
        });
        Helper {
            jobs,
            done,
            _own: OwnParser::install(),
        }
    }
}

impl Worker {
    /// Checks a chunk, on two threads when the machine has two cores (phone parsing is
    /// the costly part of an import); returns the rows in order with their checks.
    pub(super) fn check_all(&mut self, mut pending: Vec<Pending>) -> (Vec<Pending>, Checked) {
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
        if !parallel || pending.len() < 256 {
            let checked = check_each(&self.opts, self.mapping.as_ref(), &pending);
            return (pending, checked);
        }
        let second = pending.split_off(pending.len() / 2);
        let helper = self.helper.get_or_insert_with(Helper::start);
        helper
            .jobs
            .send((self.opts.clone(), self.mapping.clone(), second))
            .expect("the checking thread runs while the import does");
        let mut checked = check_each(&self.opts, self.mapping.as_ref(), &pending);
        let (second, more) = helper
            .done
            .recv()
            .expect("the checking thread does not panic");
        pending.extend(second);
        checked.extend(more);
        (pending, checked)
    }
}

/// The column and raw value a checked field came from.
pub(super) fn source(
    mapping: Option<&Mapping>,
    phone_col: Option<usize>,
    raw: &[String],
    field: &str,
) -> (String, String) {
    let index = match (mapping, phone_col) {
        (Some(m), Some(phone_col)) => m
            .column_of(field, phone_col)
            .map(|i| (m.header()[i].clone(), i)),
        _ => STRUCTURED_COLUMNS
            .iter()
            .position(|c| *c == field)
            .map(|i| (STRUCTURED_COLUMNS[i].to_string(), i)),
    };
    match index {
        Some((column, i)) => (column, raw.get(i).cloned().unwrap_or_default()),
        None => (field.to_string(), String::new()),
    }
}

/// Checks a draft; `source` names the column and raw value of a checked field.
pub(super) fn check(
    opts: &ParseOptions,
    draft: &ContactDraft,
    source: impl Fn(&str) -> (String, String),
) -> Result<NewContact, RowError> {
    match draft.check("row", opts.region, opts.mode) {
        Ok(contact) => Ok(contact),
        Err(mut violations) => {
            if let Some(v) = violations.iter_mut().find(|v| v.field == "row.phone") {
                explain_phone(opts, draft, &mut v.reason);
            }
            let first = &violations[0];
            let field = first.field.strip_prefix("row.").unwrap_or(&first.field);
            let (column, raw_value) = source(field);
            let kind = match field {
                "phone" if draft.phone.trim().is_empty() => Rejection::MissingPhone,
                "phone" => Rejection::InvalidPhone,
                "email" => Rejection::InvalidEmail,
                _ => Rejection::InvalidField,
            };
            let reason = violations
                .iter()
                .map(|v| {
                    let f = v.field.strip_prefix("row.").unwrap_or(&v.field);
                    format!("{}: {}", source(f).0, v.reason)
                })
                .collect::<Vec<_>>()
                .join("; ");
            Err(RowError {
                column,
                raw_value,
                reason,
                kind,
            })
        }
    }
}

/// Makes a rejected phone's reason point at what helps. A STRICT failure that LENIENT
/// would fail too is told by LENIENT's reason (how many digits the country's numbers
/// have), not by the hint that LENIENT accepts it; a local number that fits no number
/// of the region it was read in is probably from another country, and the reason says
/// where to give that country.
pub(super) fn explain_phone(opts: &ParseOptions, draft: &ContactDraft, reason: &mut String) {
    let raw = draft.phone.trim();
    if raw.is_empty() {
        return;
    }
    let region = draft.region.or(opts.region);
    let lenient = Phone::parse(raw, region, Validation::Lenient);
    if let Err(e) = lenient {
        if opts.mode == Validation::Strict {
            *reason = e.0;
        }
        if let Some(r) = region.filter(|_| !is_international(raw)) {
            reason.push_str(&format!(
                " (read as a local number of {r}: if it is from another country, give the \
                 row's country in a country column, or the import's region)"
            ));
        }
    }
}
