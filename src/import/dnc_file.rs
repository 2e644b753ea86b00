//! Reading a DNC list file (ImportDncList) on a worker thread: plain text (one number
//! per line), a CSV column, or the US National Do Not Call Registry's full-list files as
//! they come (`2015550123` or `201,5550123` per line). Numbers come out in E.164 in
//! batches of distinct numbers, each with its expiry; bad lines are counted with their
//! line numbers. Memory is one batch and the reader's buffer, whatever the file's size.

use crate::domain::{Phone, Region, Validation};
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};

/// Numbers per batch (one write transaction each).
pub const BATCH: usize = 20_000;

/// Invalid lines reported by line number (all are counted).
pub const MAX_INVALID_LINES: usize = 20;

/// The layout of a DNC file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Csv,
    Registry,
}

/// How to read one file.
#[derive(Debug, Clone)]
pub struct Spec {
    pub format: Format,
    /// For local numbers (PLAIN and CSV).
    pub region: Region,
    /// The expiry of rows without their own (Unix ms), if any.
    pub expires_at: Option<i64>,
    /// CSV: the numbers' column header ("" = detect).
    pub phone_column: String,
    /// CSV: a per-row expiry column header ("" = none).
    pub expire_column: String,
}

/// What a stretch of the file held.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Distinct E.164 numbers with their expiries.
    pub rows: Vec<(String, Option<i64>)>,
    /// Number lines read.
    pub read: i64,
    /// Lines that were not a number.
    pub invalid: i64,
    /// Numbers that stood twice within this batch.
    pub repeated: i64,
    /// The first invalid lines, `(line, reason)` (across the file at most
    /// [`MAX_INVALID_LINES`]).
    pub invalid_lines: Vec<(i64, String)>,
}

/// Collects one batch at a time and hands it over when full.
struct Collector<'a> {
    batch: Batch,
    seen: HashSet<String>,
    reported: usize,
    emit: &'a mut dyn FnMut(Batch) -> bool,
}

impl Collector<'_> {
    fn number(&mut self, e164: String, expires: Option<i64>) -> bool {
        self.batch.read += 1;
        if self.seen.insert(e164.clone()) {
            self.batch.rows.push((e164, expires));
        } else {
            self.batch.repeated += 1;
        }
        self.batch.rows.len() < BATCH || self.flush()
    }

    fn invalid(&mut self, line: i64, reason: String) {
        self.batch.read += 1;
        self.batch.invalid += 1;
        if self.reported < MAX_INVALID_LINES {
            self.reported += 1;
            self.batch.invalid_lines.push((line, reason));
        }
    }

    /// Hands the batch over; false when the receiver is gone (stop reading).
    fn flush(&mut self) -> bool {
        self.seen.clear();
        (self.emit)(std::mem::take(&mut self.batch))
    }
}

/// Reads the whole file, handing batches to `emit` (which returns false to stop). An
/// error from `input` (the client's stream broke) stops at once: a line cut short is
/// never read as a number.
pub fn read(input: impl Read, spec: &Spec, emit: &mut dyn FnMut(Batch) -> bool) -> Result<()> {
    let mut c = Collector {
        batch: Batch::default(),
        seen: HashSet::new(),
        reported: 0,
        emit,
    };
    let mut input = BufReader::with_capacity(256 * 1024, input);
    skip_bom(&mut input)?;
    let go_on = match spec.format {
        Format::Plain | Format::Registry => lines(input, spec, &mut c)?,
        Format::Csv => csv_rows(input, spec, &mut c)?,
    };
    if go_on {
        c.flush();
    }
    Ok(())
}

fn io_error(e: std::io::Error) -> Error {
    Error::Cancelled(format!("the client's stream ended: {e}"))
}

fn skip_bom(input: &mut impl BufRead) -> Result<()> {
    let head = input.fill_buf().map_err(io_error)?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    Ok(())
}

fn lines(mut input: impl BufRead, spec: &Spec, c: &mut Collector) -> Result<bool> {
    let mut buf = Vec::with_capacity(64);
    let mut line = 0i64;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf).map_err(io_error)? == 0 {
            return Ok(true);
        }
        line += 1;
        let Ok(text) = std::str::from_utf8(&buf) else {
            c.invalid(line, "not UTF-8 text".into());
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let parsed = match spec.format {
            Format::Registry => registry_number(text),
            _ => plain_number(text, spec.region),
        };
        match parsed {
            Ok(e164) => {
                if !c.number(e164, spec.expires_at) {
                    return Ok(false);
                }
            }
            Err(reason) => c.invalid(line, reason),
        }
    }
}

fn plain_number(text: &str, region: Region) -> std::result::Result<String, String> {
    Phone::parse(text, Some(region), Validation::Lenient)
        .map(|p| p.e164().to_string())
        .map_err(|e| e.0)
}

/// A registry line: ten digits, or a three-digit area code, a comma and seven digits.
/// The registry holds North American numbers only, so the area code and the exchange
/// start with 2–9; the E.164 form is `+1` and the ten digits.
pub fn registry_number(text: &str) -> std::result::Result<String, String> {
    let mut digits = [0u8; 10];
    let b = text.as_bytes();
    let ok = match b.len() {
        10 => {
            digits.copy_from_slice(b);
            true
        }
        11 if b[3] == b',' => {
            digits[..3].copy_from_slice(&b[..3]);
            digits[3..].copy_from_slice(&b[4..]);
            true
        }
        _ => false,
    };
    if !ok || !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "not a registry line (ten digits, or area code,number): {}",
            short(text)
        ));
    }
    if digits[0] < b'2' || digits[3] < b'2' {
        return Err(format!(
            "{text} is not a North American number: its area code and exchange start with 2-9"
        ));
    }
    let mut e164 = String::with_capacity(12);
    e164.push_str("+1");
    e164.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
    Ok(e164)
}

fn csv_rows(mut input: impl BufRead, spec: &Spec, c: &mut Collector) -> Result<bool> {
    let delimiter = {
        let head = input.fill_buf().map_err(io_error)?;
        let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
        [b',', b';', b'\t']
            .into_iter()
            .max_by_key(|d| first.iter().filter(|b| *b == d).count())
            .unwrap_or(b',')
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let header = match reader.read_byte_record(&mut record) {
        Ok(true) => record
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect::<Vec<_>>(),
        Ok(false) => return Ok(true),
        Err(e) => return Err(csv_error(e)),
    };
    let phone = column(&header, &spec.phone_column, "options.phone_column")?
        .or_else(|| {
            header.iter().position(|h| {
                matches!(
                    super::synonyms::detect(h),
                    Some((super::synonyms::Sense::Field(super::Field::Phone), _))
                )
            })
        })
        .unwrap_or(0);
    let expire = column(&header, &spec.expire_column, "options.expire_column")?;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(true),
            Err(e) => return Err(csv_error(e)),
        }
        let line = record.position().map_or(0, |p| p.line() as i64);
        let cell = |i: usize| std::str::from_utf8(record.get(i).unwrap_or_default());
        let (Ok(number), Ok(expiry)) = (cell(phone), expire.map(cell).transpose()) else {
            c.invalid(line, "not UTF-8 text".into());
            continue;
        };
        let number = number.trim();
        if number.is_empty() && record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let expires = match expiry.map(str::trim).filter(|e| !e.is_empty()) {
            None => spec.expires_at,
            Some(text) => match expiry_ms(text) {
                Some(ms) => Some(ms),
                None => {
                    c.invalid(
                        line,
                        format!(
                            "{}: {} is not a date (RFC 3339, or YYYY-MM-DD)",
                            header[expire.unwrap_or_default()],
                            short(text)
                        ),
                    );
                    continue;
                }
            },
        };
        match plain_number(number, spec.region) {
            Ok(e164) => {
                if !c.number(e164, expires) {
                    return Ok(false);
                }
            }
            Err(reason) => c.invalid(line, format!("{}: {reason}", header[phone])),
        }
    }
}

/// The index of the column named `name` (case-insensitive), if a name is given.
fn column(header: &[String], name: &str, field: &str) -> Result<Option<usize>> {
    if name.trim().is_empty() {
        return Ok(None);
    }
    match header
        .iter()
        .position(|h| h.eq_ignore_ascii_case(name.trim()))
    {
        Some(i) => Ok(Some(i)),
        None => Err(Error::invalid(
            field,
            format!(
                "the file has no column {:?} (its columns: {})",
                short(name),
                short(&header.join(", "))
            ),
        )),
    }
}

fn csv_error(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io_error(io),
        other => Error::invalid("chunk", format!("the CSV cannot be read: {other:?}")),
    }
}

/// `text` cut to 80 characters for a reason (a whole bad line may be long).
fn short(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// An expiry cell: RFC 3339, or a date (00:00 UTC of that day).
pub fn expiry_ms(text: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(format: Format) -> Spec {
        Spec {
            format,
            region: Region::parse("US").unwrap(),
            expires_at: None,
            phone_column: String::new(),
            expire_column: String::new(),
        }
    }

    fn all(text: &str, spec: &Spec) -> Batch {
        let mut out = Batch::default();
        read(text.as_bytes(), spec, &mut |b| {
            out.rows.extend(b.rows);
            out.read += b.read;
            out.invalid += b.invalid;
            out.repeated += b.repeated;
            out.invalid_lines.extend(b.invalid_lines);
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn registry_lines_are_the_parsers_e164_numbers() {
        for line in ["2015550123", "201,5550123", "9075550199"] {
            let digits: String = line.chars().filter(char::is_ascii_digit).collect();
            let parsed = Phone::parse(
                &digits,
                Some(Region::parse("US").unwrap()),
                Validation::Lenient,
            )
            .unwrap();
            assert_eq!(registry_number(line).unwrap(), parsed.e164());
        }
        assert!(registry_number("1015550123").is_err());
        assert!(registry_number("201555012").is_err());
        assert!(registry_number("20155501a3").is_err());
    }

    #[test]
    fn plain_files_skip_blank_lines_and_report_bad_ones_by_line() {
        let b = all(
            "\u{feff}(415) 555-2671\r\n\n+1 415 555 2671\nbanana\n+442079460000\n",
            &spec(Format::Plain),
        );
        assert_eq!(b.rows.len(), 2);
        assert_eq!((b.read, b.invalid, b.repeated), (4, 1, 1));
        assert_eq!(b.invalid_lines[0].0, 4);
    }

    #[test]
    fn csv_takes_the_phone_column_and_row_expiries() {
        let mut s = spec(Format::Csv);
        s.expire_column = "until".into();
        let b = all(
            "name;Phone;until\nA;4155552671;2030-01-02\nB;nope;\nC;4155552672;x\n",
            &s,
        );
        assert_eq!(
            b.rows,
            vec![("+14155552671".to_string(), expiry_ms("2030-01-02"))]
        );
        assert_eq!(
            b.invalid_lines.iter().map(|l| l.0).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }

    #[test]
    fn a_missing_named_column_is_refused() {
        let mut s = spec(Format::Csv);
        s.phone_column = "number".into();
        let err = read("a,b\n1,2\n".as_bytes(), &s, &mut |_| true).unwrap_err();
        assert!(err.to_string().contains("options.phone_column"), "{err}");
    }
}
