//! The CSV side of ExportContacts: the export's columns, its header, and rows written
//! with formula-injection neutralization into chunks of about [`CHUNK_BYTES`].
//!
//! The header uses the names the import's column auto-detection understands (`phone`,
//! `phone_extension`, `first_name`, `last_name`, `email`, `company`, `title`, `time_zone`, `custom.<key>`),
//! so an export imported into an empty account gives back the same contacts; the other
//! columns (status, DNC, the newest live consent, campaigns, call statistics, ids and
//! times) are read-only information that an import ignores unless asked to keep unknown
//! columns.
//!
//! Cells that a spreadsheet would run as a formula — starting with `=`, `+`, `-`, `@`,
//! tab or carriage return — get a leading single quote (OWASP "CSV Injection"). The
//! `phone` column is exempt: it is always a validated E.164 number (`+` and digits), which
//! cannot carry a formula, and it must stay a usable number. A value that already starts
//! with quotes before such a character is quoted once more, so the import can take exactly
//! one quote off again ([`undo_neutralization`], used where a CSV row becomes a contact)
//! and an export imports back as the same values.
//!
//! Nothing here touches the database: the service feeds pages of rows in and takes
//! chunks out, so memory is one page plus one chunk whatever the export's size.

use crate::domain::bulk::BulkCounts;
use crate::domain::consent::LatestConsent;
use crate::entity::contact;
use crate::error::{Error, Result, Violation};
use chrono::{DateTime, SecondsFormat};
use std::collections::BTreeMap;

/// A chunk is sent once this many bytes of CSV are buffered.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Most columns a request may choose.
pub const MAX_COLUMNS: usize = 256;
/// The prefix of a custom field's column.
pub const CUSTOM_PREFIX: &str = "custom.";

/// One column of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Phone,
    PhoneExtension,
    FirstName,
    LastName,
    Email,
    Company,
    Title,
    TimeZone,
    /// A custom field, `custom.<key>`.
    Custom(String),
    Status,
    DncSource,
    DncAt,
    /// The kind of the contact's newest live consent (stored value: `express`,
    /// `express_written`, `none`); empty when it has none.
    ConsentKind,
    /// When that consent was captured.
    ConsentCapturedAt,
    /// Its evidence (a web form's URL, a recording).
    ConsentSource,
    /// Campaign ids, `;`-joined.
    Campaigns,
    CallCount,
    LastCalledAt,
    LastOutcome,
    TotalTalkSeconds,
    Id,
    ImportBatchId,
    CreatedAt,
    UpdatedAt,
}

/// The fixed columns that come before the custom ones in a full export.
const CONTACT_FIELDS: [Column; 8] = [
    Column::Phone,
    Column::PhoneExtension,
    Column::FirstName,
    Column::LastName,
    Column::Email,
    Column::Company,
    Column::Title,
    Column::TimeZone,
];

/// The fixed columns that come after the custom ones in a full export.
const STATE_FIELDS: [Column; 15] = [
    Column::Status,
    Column::DncSource,
    Column::DncAt,
    Column::ConsentKind,
    Column::ConsentCapturedAt,
    Column::ConsentSource,
    Column::Campaigns,
    Column::CallCount,
    Column::LastCalledAt,
    Column::LastOutcome,
    Column::TotalTalkSeconds,
    Column::Id,
    Column::ImportBatchId,
    Column::CreatedAt,
    Column::UpdatedAt,
];

impl Column {
    /// The header name.
    pub fn name(&self) -> String {
        match self {
            Column::Custom(key) => format!("{CUSTOM_PREFIX}{key}"),
            fixed => fixed_name(fixed).to_string(),
        }
    }

    /// The column named `name` in a header, if any.
    pub fn parse(name: &str) -> Option<Column> {
        if let Some(key) = name.strip_prefix(CUSTOM_PREFIX) {
            return (!key.is_empty()).then(|| Column::Custom(key.to_string()));
        }
        CONTACT_FIELDS
            .iter()
            .chain(&STATE_FIELDS)
            .find(|c| fixed_name(c) == name)
            .cloned()
    }
}

fn fixed_name(c: &Column) -> &'static str {
    match c {
        Column::Phone => "phone",
        Column::PhoneExtension => "phone_extension",
        Column::FirstName => "first_name",
        Column::LastName => "last_name",
        Column::Email => "email",
        Column::Company => "company",
        Column::Title => "title",
        Column::TimeZone => "time_zone",
        Column::Custom(_) => "custom",
        Column::Status => "status",
        Column::DncSource => "dnc_source",
        Column::DncAt => "dnc_at",
        Column::ConsentKind => "consent_kind",
        Column::ConsentCapturedAt => "consent_captured_at",
        Column::ConsentSource => "consent_source",
        Column::Campaigns => "campaigns",
        Column::CallCount => "call_count",
        Column::LastCalledAt => "last_called_at",
        Column::LastOutcome => "last_outcome",
        Column::TotalTalkSeconds => "total_talk_seconds",
        Column::Id => "id",
        Column::ImportBatchId => "import_batch_id",
        Column::CreatedAt => "created_at",
        Column::UpdatedAt => "updated_at",
    }
}

/// The columns a request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnChoice {
    /// Every column, with one per custom key found in the selection (known only once the
    /// selection has been read).
    All,
    /// These columns, in this order.
    Chosen(Vec<Column>),
}

impl ColumnChoice {
    /// Parses the requested column names; empty means all. `field` is the request field.
    pub fn parse(field: &str, names: &[String]) -> Result<ColumnChoice> {
        if names.is_empty() {
            return Ok(ColumnChoice::All);
        }
        if names.len() > MAX_COLUMNS {
            return Err(Error::invalid(
                field,
                format!("has more than {MAX_COLUMNS} columns"),
            ));
        }
        let mut violations = Vec::new();
        let mut columns: Vec<Column> = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let at = format!("{field}[{i}]");
            match Column::parse(name.trim()) {
                Some(c) if columns.contains(&c) => {
                    violations.push(Violation::new(at, format!("{name:?} is listed twice")))
                }
                Some(c) => columns.push(c),
                None => violations.push(Violation::new(
                    at,
                    format!(
                        "{name:?} is not an export column (use a header name such as \
                         \"phone\", \"first_name\", \"custom.<key>\", \"call_count\")"
                    ),
                )),
            }
        }
        if violations.is_empty() {
            Ok(ColumnChoice::Chosen(columns))
        } else {
            Err(Error::Invalid(violations))
        }
    }

    /// The final column list, given the custom keys found (used with [`ColumnChoice::All`]).
    pub fn resolve(self, custom_keys: Vec<String>) -> Vec<Column> {
        match self {
            ColumnChoice::Chosen(columns) => columns,
            ColumnChoice::All => CONTACT_FIELDS
                .iter()
                .cloned()
                .chain(custom_keys.into_iter().map(Column::Custom))
                .chain(STATE_FIELDS.iter().cloned())
                .collect(),
        }
    }

    /// Whether the full column list needs the selection's custom keys.
    pub fn needs_custom_keys(&self) -> bool {
        matches!(self, ColumnChoice::All)
    }
}

/// What an export stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportEvent {
    /// The next piece of the CSV file.
    Chunk(Vec<u8>),
    /// Rows written so far.
    Progress(u64),
    /// The end: contacts exported (matched) and ids skipped as `not_found`.
    Done(BulkCounts),
}

/// A page of contacts read from the snapshot, with each one's campaigns and newest live
/// consent (each only when a column asks for it).
#[derive(Debug, Default)]
pub struct Page {
    pub rows: Vec<contact::Model>,
    pub campaigns: std::collections::HashMap<i64, Vec<String>>,
    pub consents: std::collections::HashMap<i64, LatestConsent>,
}

impl Column {
    /// Whether the column shows the contact's newest live consent.
    pub fn is_consent(&self) -> bool {
        matches!(
            self,
            Column::ConsentKind | Column::ConsentCapturedAt | Column::ConsentSource
        )
    }
}

/// True when a spreadsheet would treat a cell starting like this as a formula.
pub fn is_formula_like(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// True when an export writes this value with a leading single quote: it is
/// [formula-like](is_formula_like) after any single quotes of its own. A value that
/// already looks neutralized (`'=x`) is quoted once more (`''=x`), so that
/// [`undo_neutralization`] can tell it from a neutralized `=x`.
pub fn needs_neutralization(value: &str) -> bool {
    is_formula_like(value.trim_start_matches('\''))
}

/// The value an exported cell stands for: the import's inverse of the export's
/// neutralization. A cell that starts with a single quote followed by what
/// [`needs_neutralization`] (a formula character, possibly after more quotes) loses that
/// one quote; every other cell is its own value. So `'=SUM(A1)` imports as `=SUM(A1)`,
/// `''=x` as `'=x`, and `'tis` or `O'Brien` stay as they are.
pub fn undo_neutralization(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_neutralization(rest) => rest,
        _ => cell,
    }
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds, e.g. `2026-03-02T15:00:00.000Z`.
pub fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Writes the header and rows as CSV into an in-memory buffer that is handed out in
/// chunks; the buffer never holds much more than [`CHUNK_BYTES`].
pub struct CsvSink {
    writer: csv::Writer<Vec<u8>>,
    columns: Vec<Column>,
    has_custom: bool,
    rows: u64,
}

impl CsvSink {
    /// A sink with the header for `columns` already written.
    pub fn new(columns: Vec<Column>) -> Result<CsvSink> {
        let mut writer = new_writer();
        for c in &columns {
            write_cell(&mut writer, &c.name())?;
        }
        writer.write_record(None::<&[u8]>).map_err(csv_error)?;
        Ok(CsvSink {
            has_custom: columns.iter().any(|c| matches!(c, Column::Custom(_))),
            writer,
            columns,
            rows: 0,
        })
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes one contact, with its campaigns and its newest live consent.
    pub fn write(
        &mut self,
        c: &contact::Model,
        campaigns: &[String],
        consent: Option<&LatestConsent>,
    ) -> Result<()> {
        let custom: BTreeMap<String, String> = if self.has_custom {
            serde_json::from_str(&c.custom_fields).unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        let w = &mut self.writer;
        for column in &self.columns {
            match column {
                // Exempt from neutralization: always a validated E.164 number.
                Column::Phone => w.write_field(&c.phone).map_err(csv_error)?,
                Column::PhoneExtension => write_cell(w, &c.phone_extension)?,
                Column::FirstName => write_cell(w, &c.first_name)?,
                Column::LastName => write_cell(w, &c.last_name)?,
                Column::Email => write_cell(w, &c.email)?,
                Column::Company => write_cell(w, &c.company)?,
                Column::Title => write_cell(w, &c.title)?,
                Column::TimeZone => write_cell(w, &c.time_zone)?,
                Column::Custom(key) => {
                    write_cell(w, custom.get(key).map(String::as_str).unwrap_or(""))?
                }
                Column::Status => write_cell(w, c.status.as_str())?,
                Column::DncSource => write_cell(w, &c.dnc_source)?,
                Column::DncAt => write_cell(w, &c.dnc_at.map(rfc3339).unwrap_or_default())?,
                Column::ConsentKind => write_cell(w, consent.map_or("", |x| x.kind.as_str()))?,
                Column::ConsentCapturedAt => write_cell(
                    w,
                    &consent.map(|x| rfc3339(x.captured_at)).unwrap_or_default(),
                )?,
                Column::ConsentSource => write_cell(w, consent.map_or("", |x| x.source.as_str()))?,
                Column::Campaigns => write_cell(w, &campaigns.join(";"))?,
                Column::CallCount => write_int(w, c.call_count)?,
                Column::LastCalledAt => {
                    write_cell(w, &c.last_called_at.map(rfc3339).unwrap_or_default())?
                }
                Column::LastOutcome => write_cell(w, &c.last_outcome)?,
                Column::TotalTalkSeconds => write_int(w, c.total_talk_seconds)?,
                Column::Id => write_int(w, c.id)?,
                Column::ImportBatchId => write_cell(w, c.import_batch_id.as_deref().unwrap_or(""))?,
                Column::CreatedAt => write_cell(w, &rfc3339(c.created_at))?,
                Column::UpdatedAt => write_cell(w, &rfc3339(c.updated_at))?,
            }
        }
        w.write_record(None::<&[u8]>).map_err(csv_error)?;
        self.rows += 1;
        Ok(())
    }

    /// The buffered CSV, if at least [`CHUNK_BYTES`] are waiting.
    pub fn full_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.writer.get_ref().len() < CHUNK_BYTES {
            return Ok(None);
        }
        self.take().map(Some)
    }

    /// Everything buffered (possibly empty).
    pub fn take(&mut self) -> Result<Vec<u8>> {
        // csv::Writer does not lend out its inner buffer: swap in a fresh writer.
        std::mem::replace(&mut self.writer, new_writer())
            .into_inner()
            .map_err(|e| csv_error(e.into_error().into()))
    }
}

fn new_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .buffer_capacity(16 * 1024)
        .from_writer(Vec::with_capacity(CHUNK_BYTES + 16 * 1024))
}

fn write_cell(w: &mut csv::Writer<Vec<u8>>, cell: &str) -> Result<()> {
    if needs_neutralization(cell) {
        w.write_field(format!("'{cell}")).map_err(csv_error)
    } else {
        w.write_field(cell).map_err(csv_error)
    }
}

fn write_int(w: &mut csv::Writer<Vec<u8>>, n: i64) -> Result<()> {
    w.write_field(itoa::Buffer::new().format(n))
        .map_err(csv_error)
}

fn csv_error(e: csv::Error) -> Error {
    Error::Internal(format!("writing CSV: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContactStatus;

    fn model() -> contact::Model {
        contact::Model {
            id: 7,
            account_id: "a".into(),
            phone: "+14155552671".into(),
            phone_national: "4155552671".into(),
            first_name: "=SUM(A1)".into(),
            last_name: "Lee, Jr.".into(),
            email: "ann@example.com".into(),
            company: "@corp".into(),
            title: "-".into(),
            name_key: String::new(),
            last_key: String::new(),
            custom_fields: r#"{"Notes":"\tx","Plain":"a=b"}"#.into(),
            time_zone: String::new(),
            status: ContactStatus::Dnc,
            dnc_source: "MANUAL".into(),
            dnc_at: Some(1_772_463_600_000),
            call_count: 3,
            last_called_at: None,
            last_outcome: "ANSWERED".into(),
            total_talk_seconds: 90,
            import_batch_id: None,
            created_at: 0,
            updated_at: 0,
            phone_extension: "22".into(),
        }
    }

    fn csv_of(columns: Vec<Column>, campaigns: &[String]) -> String {
        let mut sink = CsvSink::new(columns).unwrap();
        let consent = LatestConsent {
            kind: crate::domain::consent::ConsentKind::ExpressWritten,
            captured_at: 1_772_463_600_000,
            source: "=HYPERLINK(\"x\")".into(),
        };
        sink.write(&model(), campaigns, Some(&consent)).unwrap();
        String::from_utf8(sink.take().unwrap()).unwrap()
    }

    #[test]
    fn formula_like_cells_get_a_quote_but_the_phone_does_not() {
        let columns = ColumnChoice::All.resolve(vec!["Notes".into(), "Plain".into()]);
        let text = csv_of(columns, &["c1".into(), "c2".into()]);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let row = reader.records().next().unwrap().unwrap();
        let cell = |name: &str| &row[header.iter().position(|h| h == name).unwrap()];
        assert_eq!(cell("phone"), "+14155552671");
        assert_eq!(cell("first_name"), "'=SUM(A1)");
        assert_eq!(cell("last_name"), "Lee, Jr.");
        assert_eq!(cell("company"), "'@corp");
        assert_eq!(cell("title"), "'-");
        assert_eq!(cell("custom.Notes"), "'\tx");
        assert_eq!(cell("custom.Plain"), "a=b");
        assert_eq!(cell("status"), "DNC");
        assert_eq!(cell("dnc_at"), "2026-03-02T15:00:00.000Z");
        assert_eq!(cell("campaigns"), "c1;c2");
        assert_eq!(cell("consent_kind"), "express_written");
        assert_eq!(cell("consent_captured_at"), "2026-03-02T15:00:00.000Z");
        assert_eq!(cell("consent_source"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("call_count"), "3");
        assert_eq!(cell("last_called_at"), "");
        assert_eq!(cell("id"), "7");
    }

    #[test]
    fn import_undoes_exactly_what_export_neutralized() {
        let values = [
            "=SUM(A1)", "+1+1", "-", "@corp", "\tx", "\rx", "'=x", "''+y", "'", "''", "'tis",
            "O'Brien", "a=b", "", "plain",
        ];
        for value in values {
            let cell = if needs_neutralization(value) {
                format!("'{value}")
            } else {
                value.to_string()
            };
            assert_eq!(undo_neutralization(&cell), value, "cell {cell:?}");
        }
        assert_eq!(undo_neutralization("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(undo_neutralization("''=x"), "'=x");
        assert_eq!(undo_neutralization("'-5"), "-5");
        assert_eq!(undo_neutralization("'\tx"), "\tx");
        assert_eq!(undo_neutralization("'tis"), "'tis");
        assert_eq!(undo_neutralization("'"), "'");
        assert!(needs_neutralization("'=x") && !needs_neutralization("'tis"));
    }

    #[test]
    fn every_header_name_parses_back_to_its_column() {
        for c in ColumnChoice::All.resolve(vec!["x y".into()]) {
            assert_eq!(Column::parse(&c.name()), Some(c));
        }
        assert_eq!(Column::parse("custom."), None);
        assert_eq!(Column::parse("nope"), None);
    }

    #[test]
    fn unknown_and_repeated_columns_are_named() {
        let names: Vec<String> = ["phone", "bogus", "phone"].map(String::from).into();
        let Err(Error::Invalid(v)) = ColumnChoice::parse("columns", &names) else {
            panic!("expected invalid");
        };
        assert_eq!(v[0].field, "columns[1]");
        assert!(v[0].reason.contains("bogus"));
        assert_eq!(v[1].field, "columns[2]");
    }

    #[test]
    fn chunks_are_handed_out_once_full() {
        let mut sink = CsvSink::new(vec![Column::Phone, Column::FirstName]).unwrap();
        let mut total = 0;
        let mut chunks = 0;
        for _ in 0..10_000 {
            sink.write(&model(), &[], None).unwrap();
            if let Some(chunk) = sink.full_chunk().unwrap() {
                assert!(chunk.len() >= CHUNK_BYTES && chunk.len() < 2 * CHUNK_BYTES);
                total += chunk.len();
                chunks += 1;
            }
        }
        total += sink.take().unwrap().len();
        assert!(chunks >= 2);
        assert_eq!(
            total,
            "phone,first_name\n".len() + 10_000 * "+14155552671,'=SUM(A1)\n".len()
        );
    }
}
