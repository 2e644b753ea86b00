//! The parsing worker: input pieces in, checked rows out, on a blocking thread.
//!
//! It decodes, splits records, maps columns, checks each row (phone normalization is the
//! expensive part: each chunk is checked on two threads when there are two cores) and then, in line order, marks numbers already
//! seen earlier in the file. Rows go out in chunks of at most
//! [`CHUNK_ROWS`] through a bounded channel, so memory holds a few chunks, never the
//! file; the only state that grows is the set of numbers seen ([`SeenNumbers`], 8 bytes a
//! number).
//!
//! The input ends with [`Input::End`]. A channel that closes without it means the client
//! went away: the worker stops without flushing a partial record.

use super::decode::TextDecoder;
use super::mapping::{ColumnMap, Field, Mapping};
use super::records::{MAX_FIELDS, MAX_RECORD_BYTES, Record, RecordReader, detect_delimiter};
use super::rejection::Rejection;
use super::seen::SeenNumbers;
use super::{country, spreadsheet};
use crate::domain::consent::NewConsent;
use crate::domain::contact::ContactDraft;
use crate::domain::{NewContact, Phone, Region, Validation};
use crate::error::{Error, Result};
use tokio::sync::mpsc::{self, error::TryRecvError};

/// Most rows per chunk handed to the writer (one transaction each).
pub const CHUNK_ROWS: usize = 2000;
/// Longest accepted field, in bytes.
pub const MAX_FIELD_BYTES: usize = 8 * 1024;
/// The columns of structured rows (the header of their rejected-rows CSV).
pub const STRUCTURED_COLUMNS: [&str; 8] = [
    "phone",
    "first_name",
    "last_name",
    "email",
    "company",
    "title",
    "time_zone",
    "phone_extension",
];

/// How to read and check the input.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Explicit column mappings; other columns are auto-detected.
    pub explicit: Vec<ColumnMap>,
    /// Region for local-format numbers.
    pub region: Option<Region>,
    pub mode: Validation,
    /// Keep unmapped columns as custom fields.
    pub unmapped_as_custom: bool,
    /// Given delimiter; `None` = detect.
    pub delimiter: Option<u8>,
    pub has_header: bool,
}

/// A piece of input.
#[derive(Debug)]
pub enum Input {
    /// CSV bytes, in order.
    Chunk(Vec<u8>),
    /// Structured rows.
    Rows(Vec<ContactDraft>),
    /// The input is complete.
    End,
}

/// What the file turned out to be, known once its header is read.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub delimiter: String,
    pub encoding: String,
    pub columns: Vec<String>,
    pub mapping: Vec<ColumnMap>,
    pub unmapped: Vec<String>,
}

/// A rejected row's reason.
#[derive(Debug, Clone)]
pub struct RowError {
    pub column: String,
    pub raw_value: String,
    pub reason: String,
    pub kind: Rejection,
}

/// What a row gave.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A checked contact whose number is new in the file.
    Valid(NewContact),
    /// Its number appeared on an earlier row.
    DuplicateInFile,
    Invalid(RowError),
}

/// One data row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Line where the record starts (index for structured rows).
    pub line: i64,
    /// The record's fields as read (for the rejected-rows CSV).
    pub raw: Vec<String>,
    pub outcome: Outcome,
    /// The region the row's local phone number was read in: the row's country, else the
    /// import's (`None` for an international number, or a row not checked).
    pub region: Option<Region>,
    /// The consent the row's mapped consent columns give (with a valid outcome only).
    pub consent: Option<NewConsent>,
}

/// The worker's output.
#[derive(Debug)]
pub enum Parsed {
    Header(Header),
    Rows(Vec<Row>),
    /// Every row was sent; the final encoding (it may have fallen back to Windows-1252)
    /// and the mapped columns that are empty in every data row.
    End {
        encoding: String,
        empty_columns: Vec<String>,
    },
}

/// Runs the worker to the end of the input (blocking; call from `spawn_blocking`).
pub fn run(
    opts: ParseOptions,
    mut input: mpsc::Receiver<Input>,
    output: mpsc::Sender<Result<Parsed>>,
) {
    let mut w = Worker {
        opts,
        output,
        seen: SeenNumbers::default(),
        pending: Vec::new(),
        mapping: None,
        header_pending: true,
        next_index: 0,
        failed: false,
        filled: Vec::new(),
        helper: None,
    };
    if let Err(e) = w.run(&mut input) {
        let _ = w.output.blocking_send(Err(e));
    }
}

/// Why the worker stopped early: the client went away or nobody listens any more.
struct Stop;

/// A row read but not yet checked (checking, mostly phone parsing, runs in parallel).
enum Pending {
    /// Already decided (a structural error).
    Ready(Row),
    /// A draft to check; `phone_col` is the CSV column its phone came from (`None` for
    /// structured rows).
    Check {
        line: i64,
        raw: Vec<String>,
        draft: ContactDraft,
        phone_col: Option<usize>,
        /// The row's consent, already checked (`None` for structured rows).
        consent: Option<NewConsent>,
    },
}

struct Worker {
    opts: ParseOptions,
    output: mpsc::Sender<Result<Parsed>>,
    seen: SeenNumbers,
    pending: Vec<Pending>,
    mapping: Option<Mapping>,
    header_pending: bool,
    next_index: i64,
    /// A send failed: stop.
    failed: bool,
    /// Per header column, how many data rows have a value in it.
    filled: Vec<u64>,
    /// The second checking thread, started with the first chunk that needs it.
    helper: Option<Helper>,
}

impl Worker {
    fn run(&mut self, input: &mut mpsc::Receiver<Input>) -> Result<()> {
        match input.blocking_recv() {
            None => Ok(()),
            Some(Input::End) => Err(Error::invalid("chunk", "the file is empty")),
            Some(Input::Rows(rows)) => self.structured(rows, input),
            Some(Input::Chunk(mut first)) => {
                // Enough bytes to tell a workbook from text.
                let mut ended = false;
                while first.len() < spreadsheet::SNIFF_BYTES && !ended {
                    match input.blocking_recv() {
                        None => return Ok(()),
                        Some(Input::Chunk(c)) => first.extend_from_slice(&c),
                        Some(Input::End) => ended = true,
                        Some(Input::Rows(_)) => return Err(mixed()),
                    }
                }
                match spreadsheet::sniff(&first) {
                    Some(container) => self.workbook(container, first, ended, input),
                    None => self.csv(first, ended, input),
                }
            }
        }
    }

    /// A workbook: the upload goes to a temporary file (its reader seeks), then the
    /// first sheet's rows go through the same path as CSV records.
    fn workbook(
        &mut self,
        container: spreadsheet::Container,
        first: Vec<u8>,
        mut ended: bool,
        input: &mut mpsc::Receiver<Input>,
    ) -> Result<()> {
        use std::io::Write;
        let temp = |e: std::io::Error| Error::Internal(format!("the import's temporary file: {e}"));
        let file = tempfile::tempfile().map_err(temp)?;
        let mut out = std::io::BufWriter::new(&file);
        out.write_all(&first).map_err(temp)?;
        while !ended {
            match input.blocking_recv() {
                None => return Ok(()),
                Some(Input::Chunk(c)) => out.write_all(&c).map_err(temp)?,
                Some(Input::End) => ended = true,
                Some(Input::Rows(_)) => return Err(mixed()),
            }
        }
        out.flush().map_err(temp)?;
        drop(out);
        let mut error = None;
        let format = spreadsheet::read_first_sheet(file, container, &mut |row| {
            let mut fields: Vec<&str> = row.cells.iter().map(String::as_str).collect();
            // A sheet leaves out trailing empty cells: a row is as wide as the header.
            if let Some(m) = &self.mapping {
                fields.resize(fields.len().max(m.header().len()), "");
            }
            let rec = Record {
                line: row.line,
                fields,
                oversized: row.oversized,
            };
            let result = self.record(rec, "", "");
            match result {
                Ok(()) => !self.failed,
                Err(e) => {
                    error = Some(e);
                    false
                }
            }
        });
        let format = match (format, error) {
            (_, Some(e)) | (Err(e), None) => return Err(e),
            (Ok(f), None) => f,
        };
        if self.failed {
            return Ok(());
        }
        if self.header_pending {
            return Err(Error::invalid(
                "chunk",
                "the workbook's first sheet is empty",
            ));
        }
        self.finish(format);
        Ok(())
    }

    fn send(&mut self, item: Parsed) -> std::result::Result<(), Stop> {
        if self.output.blocking_send(Ok(item)).is_err() {
            self.failed = true;
            return Err(Stop);
        }
        Ok(())
    }

    fn flush(&mut self) -> std::result::Result<(), Stop> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let (pending, checked) = self.check_all(pending);
        let mut rows = Vec::with_capacity(pending.len());
        // Numbers seen earlier in the file are decided in line order, after the checks.
        for (p, result) in pending.into_iter().zip(checked) {
            let region = match &p {
                Pending::Check { draft, .. } if !is_international(&draft.phone) => {
                    draft.region.or(self.opts.region)
                }
                Pending::Check { .. } => None,
                Pending::Ready(_) => None,
            };
            rows.push(match (p, result) {
                (Pending::Ready(row), _) => row,
                (
                    Pending::Check {
                        line, raw, consent, ..
                    },
                    Some(Ok(contact)),
                ) => Row {
                    line,
                    raw,
                    outcome: if self.seen.insert(phone_key(contact.phone.e164())) {
                        Outcome::Valid(contact)
                    } else {
                        Outcome::DuplicateInFile
                    },
                    region,
                    consent,
                },
                (Pending::Check { line, raw, .. }, Some(Err(e))) => Row {
                    line,
                    raw,
                    outcome: Outcome::Invalid(e),
                    region,
                    consent: None,
                },
                (Pending::Check { .. }, None) => unreachable!("every draft is checked"),
            });
        }
        self.send(Parsed::Rows(rows))
    }

    fn push(&mut self, row: Pending) -> std::result::Result<(), Stop> {
        self.pending.push(row);
        if self.pending.len() >= CHUNK_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// The next input; flushes pending rows before waiting. `None`: the client went away.
    fn next(&mut self, input: &mut mpsc::Receiver<Input>) -> Option<Input> {
        match input.try_recv() {
            Ok(m) => Some(m),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                self.flush().ok()?;
                input.blocking_recv()
            }
        }
    }

    fn structured(
        &mut self,
        mut rows: Vec<ContactDraft>,
        input: &mut mpsc::Receiver<Input>,
    ) -> Result<()> {
        let columns: Vec<String> = STRUCTURED_COLUMNS.iter().map(|s| s.to_string()).collect();
        let fields = [
            Field::Phone,
            Field::FirstName,
            Field::LastName,
            Field::Email,
            Field::Company,
            Field::Title,
            Field::TimeZone,
            Field::PhoneExtension,
        ];
        let header = Header {
            mapping: columns
                .iter()
                .zip(fields)
                .map(|(c, field)| ColumnMap {
                    column: c.clone(),
                    field,
                    custom_name: String::new(),
                })
                .collect(),
            columns,
            ..Default::default()
        };
        if self.send(Parsed::Header(header)).is_err() {
            return Ok(());
        }
        loop {
            for draft in rows.drain(..) {
                self.next_index += 1;
                let raw: Vec<String> = [
                    &draft.phone,
                    &draft.first_name,
                    &draft.last_name,
                    &draft.email,
                    &draft.company,
                    &draft.title,
                    &draft.time_zone,
                    &draft.phone_extension,
                ]
                .into_iter()
                .cloned()
                .collect();
                let row = Pending::Check {
                    line: self.next_index,
                    raw,
                    draft,
                    phone_col: None,
                    consent: None,
                };
                if self.push(row).is_err() {
                    return Ok(());
                }
            }
            match self.next(input) {
                None => return Ok(()),
                Some(Input::Rows(more)) => rows = more,
                Some(Input::Chunk(_)) => {
                    return Err(Error::invalid(
                        "chunk",
                        "an import carries structured rows or CSV chunks, not both",
                    ));
                }
                Some(Input::End) => {
                    if self.flush().is_ok() {
                        let _ = self.send(Parsed::End {
                            encoding: String::new(),
                            empty_columns: Vec::new(),
                        });
                    }
                    return Ok(());
                }
            }
        }
    }

    fn csv(
        &mut self,
        first: Vec<u8>,
        mut ended: bool,
        input: &mut mpsc::Receiver<Input>,
    ) -> Result<()> {
        let mut decoder = TextDecoder::new();
        let mut text = Vec::new();
        decoder.decode(&first, ended, &mut text);
        // Enough text to see the header line, for delimiter detection.
        while !ended && !text.contains(&b'\n') && text.len() < 64 * 1024 {
            match input.blocking_recv() {
                None => return Ok(()),
                Some(Input::Chunk(c)) => decoder.decode(&c, false, &mut text),
                Some(Input::End) => {
                    decoder.decode(&[], true, &mut text);
                    ended = true;
                    break;
                }
                Some(Input::Rows(_)) => return Err(mixed()),
            }
        }
        let delimiter = self
            .opts
            .delimiter
            .unwrap_or_else(|| detect_delimiter(&text));
        let mut reader = RecordReader::new(delimiter);
        let encoding = decoder.encoding().name();
        self.feed(&mut reader, &text, ended, delimiter, encoding)?;
        while !ended && !self.failed {
            text.clear();
            match self.next(input) {
                None => return Ok(()),
                Some(Input::Chunk(c)) => decoder.decode(&c, false, &mut text),
                Some(Input::End) => {
                    decoder.decode(&[], true, &mut text);
                    ended = true;
                }
                Some(Input::Rows(_)) => return Err(mixed()),
            }
            self.feed(
                &mut reader,
                &text,
                ended,
                delimiter,
                decoder.encoding().name(),
            )?;
        }
        if self.failed {
            return Ok(());
        }
        if self.header_pending {
            return Err(Error::invalid("chunk", "the file has no header row"));
        }
        self.finish(decoder.encoding().name());
        Ok(())
    }

    /// Sends the last rows and the end.
    fn finish(&mut self, encoding: &str) {
        if self.flush().is_ok() {
            let empty_columns = match &self.mapping {
                Some(m) if self.next_index > 0 => m
                    .used()
                    .into_iter()
                    .filter(|c| {
                        let i = m.header().iter().position(|h| *h == c.column);
                        i.is_some_and(|i| self.filled.get(i).is_none_or(|n| *n == 0))
                    })
                    .map(|c| c.column)
                    .collect(),
                _ => Vec::new(),
            };
            let _ = self.send(Parsed::End {
                encoding: encoding.to_string(),
                empty_columns,
            });
        }
    }

    /// Feeds decoded text to the record reader, handling each record.
    fn feed(
        &mut self,
        reader: &mut RecordReader,
        text: &[u8],
        last: bool,
        delimiter: u8,
        encoding: &str,
    ) -> Result<()> {
        let mut error = None;
        let name = delimiter_name(delimiter);
        reader.feed(
            text,
            last,
            &mut |rec| match self.record(rec, &name, encoding) {
                Ok(()) => !self.failed,
                Err(e) => {
                    error = Some(e);
                    false
                }
            },
        );
        error.map_or(Ok(()), Err)
    }

    /// Handles one record: the header, or a data row.
    fn record(&mut self, rec: Record<'_>, delimiter: &str, encoding: &str) -> Result<()> {
        if self.header_pending {
            if rec.oversized {
                return Err(Error::invalid(
                    "chunk",
                    "the header row is too large (an unclosed quote?)",
                ));
            }
            if rec.fields.iter().all(|f| f.trim().is_empty()) {
                return Ok(());
            }
            // Column names are stored with the batch, and PostgreSQL text cannot hold a
            // NUL; nor is it ever part of a name a person typed.
            if self.opts.has_header && rec.fields.iter().any(|f| f.contains('\0')) {
                return Err(Error::invalid(
                    "chunk",
                    "the header row contains a NUL byte (a binary file, or UTF-16 without \
                     its byte-order mark?)",
                ));
            }
            self.header_pending = false;
            let columns: Vec<String> = if self.opts.has_header {
                rec.fields.iter().map(|f| f.trim().to_string()).collect()
            } else {
                (1..=rec.fields.len()).map(|i| i.to_string()).collect()
            };
            let mapping = Mapping::resolve(columns, &self.opts.explicit)?;
            let header = Header {
                delimiter: delimiter.to_string(),
                encoding: encoding.to_string(),
                columns: mapping.header().to_vec(),
                mapping: mapping.used(),
                unmapped: mapping.unmapped(),
            };
            self.mapping = Some(mapping);
            if self.send(Parsed::Header(header)).is_err() {
                return Ok(());
            }
            if self.opts.has_header {
                return Ok(());
            }
        }
        if !rec.oversized && rec.fields.iter().all(|f| f.trim().is_empty()) {
            return Ok(());
        }
        let row = self.csv_row(rec);
        let _ = self.push(row);
        Ok(())
    }

    fn csv_row(&mut self, rec: Record<'_>) -> Pending {
        let mapping = self.mapping.as_ref().expect("header read first");
        self.next_index += 1;
        if self.filled.len() < rec.fields.len() {
            self.filled.resize(rec.fields.len(), 0);
        }
        for (n, f) in self.filled.iter_mut().zip(&rec.fields) {
            *n += !f.trim().is_empty() as u64;
        }
        csv_row(mapping, self.opts.unmapped_as_custom, rec)
    }
}

/// A CSV record as a row to check, or as a row already rejected for its shape.
fn csv_row(mapping: &Mapping, unmapped_as_custom: bool, rec: Record<'_>) -> Pending {
    let line = rec.line as i64;
    let raw: Vec<String> = rec.fields.iter().map(|f| f.to_string()).collect();
    let invalid = |column: &str, raw_value: &str, reason: String, kind| {
        Outcome::Invalid(RowError {
            column: column.to_string(),
            raw_value: raw_value.to_string(),
            reason,
            kind,
        })
    };
    let width = mapping.header().len();
    let outcome = if rec.oversized {
        invalid(
            "",
            "",
            format!(
                "the record is longer than {} KiB or has more than {MAX_FIELDS} fields \
                     (an unclosed quote?)",
                MAX_RECORD_BYTES / 1024
            ),
            Rejection::FieldTooLong,
        )
    } else if rec.fields.len() < width || rec.fields[width..].iter().any(|f| !f.trim().is_empty()) {
        invalid(
            "",
            "",
            format!("has {} fields but the header has {width}", rec.fields.len()),
            Rejection::RaggedRow,
        )
    } else if let Some(i) = rec.fields.iter().position(|f| f.contains('\0')) {
        // A NUL is never text a person typed (a binary file, or UTF-16 read as 8-bit),
        // and PostgreSQL text cannot hold it: the row is refused, its value shown safely.
        let column = mapping.header().get(i).cloned().unwrap_or_default();
        let value: String = rec.fields[i].chars().take(64).collect();
        invalid(
            &column,
            &value.replace('\0', "\u{FFFD}"),
            "contains a NUL byte (a binary file, or UTF-16 without its byte-order mark?)"
                .to_string(),
            Rejection::MalformedCsv,
        )
    } else if let Some(i) = rec.fields.iter().position(|f| f.len() > MAX_FIELD_BYTES) {
        let column = mapping.header().get(i).cloned().unwrap_or_default();
        let value: String = rec.fields[i].chars().take(64).collect();
        invalid(
            &column,
            &value,
            format!("is longer than {MAX_FIELD_BYTES} bytes"),
            Rejection::FieldTooLong,
        )
    } else if let Some(country) = mapping
        .country_cell(&rec.fields)
        .filter(|c| country::region_of(c).is_none())
    {
        let (draft, _) = mapping.draft(&rec.fields, unmapped_as_custom);
        if is_international(&draft.phone) {
            // The country only places local numbers: an international one needs none.
            return check_later(line, raw, mapping, &rec.fields, unmapped_as_custom);
        }
        let column = mapping
            .column_of("country", 0)
            .and_then(|i| mapping.header().get(i).cloned())
            .unwrap_or_default();
        invalid(
            &column,
            country,
            format!(
                "{country:?} is not a country this import knows, so the local number {:?} \
                 cannot be placed: write an ISO code (e.g. \"DE\") or the country's name, \
                 or the number as +<country code>…",
                draft.phone
            ),
            Rejection::InvalidCountry,
        )
    } else {
        return check_later(line, raw, mapping, &rec.fields, unmapped_as_custom);
    };
    Pending::Ready(Row {
        line,
        raw,
        outcome,
        region: None,
        consent: None,
    })
}

/// A row whose shape is right, to be checked with the others of its chunk.
fn check_later(
    line: i64,
    raw: Vec<String>,
    mapping: &Mapping,
    fields: &[&str],
    unmapped_as_custom: bool,
) -> Pending {
    let consent = match mapping.consent(fields) {
        Ok(consent) => consent,
        Err(e) => {
            let column = mapping.header()[e.column].clone();
            let raw_value = raw.get(e.column).cloned().unwrap_or_default();
            return Pending::Ready(Row {
                line,
                outcome: Outcome::Invalid(RowError {
                    reason: format!("{column}: {}", e.reason),
                    column,
                    raw_value,
                    kind: Rejection::InvalidField,
                }),
                raw,
                region: None,
                consent: None,
            });
        }
    };
    let (draft, phone_col) = mapping.draft(fields, unmapped_as_custom);
    Pending::Check {
        line,
        raw,
        draft,
        phone_col: Some(phone_col),
        consent,
    }
}

/// Whether a phone cell is written with its country code (`+49…`, `0049…`).
fn is_international(phone: &str) -> bool {
    let p = phone.trim_start();
    p.starts_with('+') || p.starts_with("00")
}

type Checked = Vec<Option<Result<NewContact, RowError>>>;

/// Checks the drafts among `pending` (`None` for rows already decided).
fn check_each(opts: &ParseOptions, mapping: Option<&Mapping>, pending: &[Pending]) -> Checked {
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

/// A thread that checks half of each chunk for the whole import. One thread for the
/// import, not one per chunk: the phone parser's regexes keep a match cache per thread
/// (the first thread to use a regex keeps its own; the others share eight pools picked by
/// thread id), so a new thread per chunk filled all eight pools and grew the server by
/// ~16 MiB more than one long-lived thread does (measured with rlibphonenumber 2.2.15).
struct Helper {
    jobs: std::sync::mpsc::Sender<(ParseOptions, Option<Mapping>, Vec<Pending>)>,
    done: std::sync::mpsc::Receiver<(Vec<Pending>, Checked)>,
}

impl Helper {
    fn start() -> Helper {
        let (jobs, job_rx) =
            std::sync::mpsc::channel::<(ParseOptions, Option<Mapping>, Vec<Pending>)>();
        let (done_tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (opts, mapping, pending) in job_rx {
                let checked = check_each(&opts, mapping.as_ref(), &pending);
                if done_tx.send((pending, checked)).is_err() {
                    return;
                }
            }
        });
        Helper { jobs, done }
    }
}

impl Worker {
    /// Checks a chunk, on two threads when the machine has two cores (phone parsing is
    /// the costly part of an import); returns the rows in order with their checks.
    fn check_all(&mut self, mut pending: Vec<Pending>) -> (Vec<Pending>, Checked) {
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
fn source(
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
fn check(
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

/// A delimiter as reported to clients.
fn delimiter_name(d: u8) -> String {
    (d as char).to_string()
}

/// Makes a rejected phone's reason point at what helps. A STRICT failure that LENIENT
/// would fail too is told by LENIENT's reason (how many digits the country's numbers
/// have), not by the hint that LENIENT accepts it; a local number that fits no number
/// of the region it was read in is probably from another country, and the reason says
/// where to give that country.
fn explain_phone(opts: &ParseOptions, draft: &ContactDraft, reason: &mut String) {
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

fn mixed() -> Error {
    Error::invalid(
        "rows",
        "an import carries structured rows or CSV chunks, not both",
    )
}

/// E.164 digits as a number (at most 15 digits: fits in 64 bits).
fn phone_key(e164: &str) -> u64 {
    e164.trim_start_matches('+').parse().unwrap_or(u64::MAX)
}
