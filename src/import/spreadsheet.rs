//! Excel and OpenDocument workbooks (`.xlsx`, `.xls`, `.ods`) as rows of text, read with
//! `calamine` from the first sheet.
//!
//! A workbook is a zip (xlsx, ods) or an OLE compound file (xls): it is recognized by its
//! first bytes, whatever the file is called. Its reader needs to seek, so the upload is
//! first written to an unnamed temporary file (the import's byte cap still applies while
//! it arrives). An `.xlsx` sheet is then read cell by cell as it is decompressed (its
//! shared-string table is held in memory, as Excel itself does); `.xls` and `.ods`
//! sheets are read whole (an `.xls` sheet holds at most 65,536 rows).
//!
//! Cells become the text a CSV export of the sheet would hold, so the same mapping and
//! checks apply: a number Excel stored as a float (`4915123456789`, shown as
//! `4.91512E+12`) is written back as its integer digits; dates as ISO text.

use super::records::MAX_FIELDS;
use crate::error::{Error, Result};
use calamine::{Data, DataRef, Ods, Reader, Xls, Xlsx, open_workbook_from_rs};
use std::io::{BufReader, Seek, SeekFrom};

/// The container a workbook's first bytes announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// `PK\x03\x04`: an `.xlsx` or `.ods` file.
    Zip,
    /// An OLE compound file: an `.xls` file.
    Ole,
}

/// Bytes needed to tell a workbook from text.
pub const SNIFF_BYTES: usize = 8;

/// What the first bytes of an upload say it is; `None` for text (CSV).
pub fn sniff(start: &[u8]) -> Option<Container> {
    if start.starts_with(b"PK\x03\x04") {
        Some(Container::Zip)
    } else if start.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some(Container::Ole)
    } else {
        None
    }
}

/// One sheet row: its 1-based row number, its cells (trailing empty cells omitted), and
/// whether it had a cell beyond [`MAX_FIELDS`].
pub struct SheetRow<'a> {
    pub line: u64,
    pub cells: &'a [String],
    pub oversized: bool,
}

/// Reads the first sheet of the workbook in `file`, calling `each` for every row that
/// has a cell; `each` returns false to stop. Returns the format's name ("xlsx", "xls",
/// "ods"). INVALID_ARGUMENT when the file is not a workbook calamine can read.
pub fn read_first_sheet(
    file: std::fs::File,
    container: Container,
    each: &mut dyn FnMut(SheetRow<'_>) -> bool,
) -> Result<&'static str> {
    let reopen = |f: &std::fs::File| -> Result<BufReader<std::fs::File>> {
        let mut f = f.try_clone().map_err(io_error)?;
        f.seek(SeekFrom::Start(0)).map_err(io_error)?;
        Ok(BufReader::new(f))
    };
    match container {
        Container::Zip => match open_workbook_from_rs::<Xlsx<_>, _>(reopen(&file)?) {
            Ok(mut book) => {
                let name = first_sheet(book.sheet_names())?;
                let mut cells = book
                    .worksheet_cells_reader(&name)
                    .map_err(|e| unreadable("xlsx", e))?;
                let mut row = RowBuilder::default();
                loop {
                    match cells.next_cell() {
                        Ok(Some(cell)) => {
                            let (r, c) = cell.get_position();
                            if row.row != Some(r) && !row.emit(each) {
                                return Ok("xlsx");
                            }
                            row.row = Some(r);
                            row.set(c as usize, text_ref(cell.get_value()));
                        }
                        Ok(None) => break,
                        Err(e) => return Err(unreadable("xlsx", e)),
                    }
                }
                row.emit(each);
                Ok("xlsx")
            }
            Err(xlsx) => match open_workbook_from_rs::<Ods<_>, _>(reopen(&file)?) {
                Ok(mut book) => whole_first_sheet(&mut book, "ods", each),
                Err(_) => Err(Error::invalid(
                    "chunk",
                    format!(
                        "the file is a zip archive but not an Excel (.xlsx) or OpenDocument \
                         (.ods) workbook ({xlsx}); send a CSV file or a workbook"
                    ),
                )),
            },
        },
        Container::Ole => {
            let mut book = open_workbook_from_rs::<Xls<_>, _>(reopen(&file)?)
                .map_err(|e| unreadable("xls", e))?;
            whole_first_sheet(&mut book, "xls", each)
        }
    }
}

/// Collects one row's cells as they stream by.
#[derive(Default)]
struct RowBuilder {
    row: Option<u32>,
    cells: Vec<String>,
    oversized: bool,
}

impl RowBuilder {
    fn set(&mut self, col: usize, value: String) {
        if value.is_empty() {
            return;
        }
        if col >= MAX_FIELDS {
            self.oversized = true;
            return;
        }
        if self.cells.len() <= col {
            self.cells.resize(col + 1, String::new());
        }
        self.cells[col] = value;
    }

    /// Hands the row collected so far to `each` (if it has a cell) and starts afresh.
    fn emit(&mut self, each: &mut dyn FnMut(SheetRow<'_>) -> bool) -> bool {
        let go_on = match self.row {
            Some(r) if !self.cells.is_empty() || self.oversized => each(SheetRow {
                line: r as u64 + 1,
                cells: &self.cells,
                oversized: self.oversized,
            }),
            _ => true,
        };
        self.cells.clear();
        self.oversized = false;
        go_on
    }
}

/// Reads a workbook's first sheet whole, then hands its rows to `each`.
fn whole_first_sheet<RS, R>(
    book: &mut R,
    format: &'static str,
    each: &mut dyn FnMut(SheetRow<'_>) -> bool,
) -> Result<&'static str>
where
    RS: std::io::Read + Seek,
    R: Reader<RS>,
    R::Error: std::fmt::Display,
{
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(no_sheet)?
        .map_err(|e| unreadable(format, e))?;
    rows_of(&range, each);
    Ok(format)
}

fn rows_of(range: &calamine::Range<Data>, each: &mut dyn FnMut(SheetRow<'_>) -> bool) {
    let (row0, col0) = range.start().unwrap_or((0, 0));
    let mut row = RowBuilder::default();
    for (i, cells) in range.rows().enumerate() {
        row.row = Some(row0 + i as u32);
        for (j, cell) in cells.iter().enumerate() {
            row.set(col0 as usize + j, text(cell));
        }
        if !row.emit(each) {
            return;
        }
    }
}

fn first_sheet(names: Vec<String>) -> Result<String> {
    names.into_iter().next().ok_or_else(no_sheet)
}

fn no_sheet() -> Error {
    Error::invalid("chunk", "the workbook has no sheet")
}

fn unreadable(format: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid(
        "chunk",
        format!("the file looks like a workbook but cannot be read as {format}: {e}"),
    )
}

fn io_error(e: std::io::Error) -> Error {
    Error::Internal(format!("the import's temporary file: {e}"))
}

/// A float as a CSV export writes it: whole numbers (phone numbers Excel took for
/// numbers) as their digits, never in scientific notation.
fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

fn text(cell: &Data) -> String {
    match cell {
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number(*f),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(d) => d.to_string(),
        Data::Error(e) => format!("#{e}"),
        Data::Empty => String::new(),
    }
}

fn text_ref(cell: &DataRef<'_>) -> String {
    match cell {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(*f),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(d) => d.to_string(),
        DataRef::Error(e) => format!("#{e}"),
        DataRef::Empty => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_are_digits_not_scientific_notation() {
        assert_eq!(number(4915123456789.0), "4915123456789");
        assert_eq!(number(14155550100.0), "14155550100");
        assert_eq!(number(1.5), "1.5");
    }

    #[test]
    fn workbooks_are_told_from_text_by_their_first_bytes() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Some(Container::Zip));
        assert_eq!(
            sniff(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]),
            Some(Container::Ole)
        );
        assert_eq!(sniff(b"phone,name\n"), None);
    }
}
