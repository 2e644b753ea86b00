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
//!
//! Here: the worker's loop (input, decoding, records, the header, chunks out). A record
//! becomes a row in [`rows`]; drafts are checked in [`check`].

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

mod check;
mod rows;

use check::{Helper, is_international};
use rows::csv_row;

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

/// A delimiter as reported to clients.
fn delimiter_name(d: u8) -> String {
    (d as char).to_string()
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
