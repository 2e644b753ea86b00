//! CSV records from decoded text fed in pieces, in bounded memory.
//!
//! Built on `csv_core` (RFC 4180: quoted fields, doubled quotes, newlines inside quotes,
//! CRLF/LF/CR line ends). Unlike the `csv` crate's reader, a record can never grow without
//! bound: a record longer than [`MAX_RECORD_BYTES`] (typically an unclosed quote that
//! swallows the rest of the file) or with more than [`MAX_FIELDS`] fields is reported as
//! oversized and skipped. Each record knows the physical line it starts on, counting the
//! blank lines skipped before it and the newlines inside quoted fields of earlier records.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

/// Largest record kept (bytes of field content).
pub const MAX_RECORD_BYTES: usize = 256 * 1024;
/// Most fields in a record.
pub const MAX_FIELDS: usize = 1024;

/// One record, borrowed from the reader's buffers.
pub struct Record<'a> {
    /// 1-based line where the record starts.
    pub line: u64,
    /// The fields; empty when `oversized`.
    pub fields: Vec<&'a str>,
    /// The record exceeded [`MAX_RECORD_BYTES`] or [`MAX_FIELDS`].
    pub oversized: bool,
}

/// Counts lines in the stream and finds where each record starts.
struct LineTracker {
    /// Line of the next byte (1-based).
    line: u64,
    /// Whether the current record has started (seen a byte that is not a line end).
    in_record: bool,
    start: u64,
}

impl LineTracker {
    fn consume(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.line += 1;
            } else if !self.in_record && b != b'\r' {
                self.in_record = true;
                self.start = self.line;
            }
        }
    }
}

/// A push-style CSV record reader.
pub struct RecordReader {
    core: Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    outlen: usize,
    endlen: usize,
    oversized: bool,
    lines: LineTracker,
    done: bool,
}

impl RecordReader {
    /// A reader for `delimiter`.
    pub fn new(delimiter: u8) -> Self {
        RecordReader {
            core: ReaderBuilder::new().delimiter(delimiter).build(),
            out: vec![0; MAX_RECORD_BYTES],
            ends: vec![0; MAX_FIELDS],
            outlen: 0,
            endlen: 0,
            oversized: false,
            lines: LineTracker {
                line: 1,
                in_record: false,
                start: 1,
            },
            done: false,
        }
    }

    /// Feeds decoded text; calls `each` for every complete record. `last` says the input
    /// ends here (the final record may then lack a line end). `each` returns false to stop.
    pub fn feed(&mut self, mut input: &[u8], last: bool, each: &mut dyn FnMut(Record<'_>) -> bool) {
        if self.done {
            return;
        }
        // No text yet (the decoder may hold bytes back while it judges the encoding):
        // an empty input would end the current record, as at the end of the file.
        if input.is_empty() && !last {
            return;
        }
        loop {
            let (res, nin, nout, nend) = self.core.read_record(
                input,
                &mut self.out[self.outlen..],
                &mut self.ends[self.endlen..],
            );
            self.lines.consume(&input[..nin]);
            input = &input[nin..];
            self.outlen += nout;
            self.endlen += nend;
            match res {
                ReadRecordResult::InputEmpty => {
                    if input.is_empty() && !last {
                        return;
                    }
                }
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {
                    // Keep reading to the record's end, dropping its content.
                    self.oversized = true;
                    self.outlen = 0;
                    self.endlen = 0;
                    if input.is_empty() && !last {
                        return;
                    }
                }
                ReadRecordResult::Record => {
                    if !self.emit(each) {
                        self.done = true;
                        return;
                    }
                    // An empty input means end of file to csv_core: only at the end.
                    if input.is_empty() && !last {
                        return;
                    }
                }
                ReadRecordResult::End => {
                    self.done = true;
                    return;
                }
            }
        }
    }

    fn emit(&mut self, each: &mut dyn FnMut(Record<'_>) -> bool) -> bool {
        let line = self.lines.start;
        self.lines.in_record = false;
        let oversized = std::mem::take(&mut self.oversized);
        let (outlen, endlen) = (self.outlen, self.endlen);
        self.outlen = 0;
        self.endlen = 0;
        let mut fields = Vec::new();
        if !oversized {
            let mut start = 0;
            for &end in &self.ends[..endlen] {
                let bytes = &self.out[start..end.min(outlen)];
                // The input is UTF-8 and delimiters are ASCII, so fields are UTF-8.
                fields.push(std::str::from_utf8(bytes).unwrap_or(""));
                start = end;
            }
        }
        each(Record {
            line,
            fields,
            oversized,
        })
    }
}

/// The delimiter used most often (outside quotes) in the first line of `text`; `,` when
/// none occurs.
pub fn detect_delimiter(text: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in text {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let (best, n) = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, usize::MAX - i))
        .expect("three candidates");
    if *n == 0 { b',' } else { candidates[best] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, piece: usize) -> Vec<(u64, Vec<String>, bool)> {
        let mut r = RecordReader::new(b',');
        let mut got = Vec::new();
        let bytes = text.as_bytes();
        let mut push = |rec: Record<'_>| {
            got.push((
                rec.line,
                rec.fields.iter().map(|s| s.to_string()).collect(),
                rec.oversized,
            ));
            true
        };
        for p in bytes.chunks(piece) {
            r.feed(p, false, &mut push);
        }
        r.feed(&[], true, &mut push);
        got
    }

    #[test]
    fn records_know_their_first_line_across_quoted_newlines_and_blank_lines() {
        let text = "a,b\r\n\r\n1,\"two\nlines\"\n\n\n3,\"x\"\"y\"\n4,last";
        for piece in [1, 2, 5, 100] {
            let got = read(text, piece);
            let lines: Vec<u64> = got.iter().map(|r| r.0).collect();
            assert_eq!(lines, [1, 3, 7, 8], "pieces of {piece}");
            assert_eq!(got[1].1, ["1", "two\nlines"]);
            assert_eq!(got[2].1, ["3", "x\"y"]);
            assert_eq!(got[3].1, ["4", "last"]);
        }
    }

    #[test]
    fn an_empty_piece_before_the_end_does_not_end_a_record() {
        let mut r = RecordReader::new(b',');
        let mut got = Vec::new();
        let mut push = |rec: Record<'_>| {
            got.push(rec.fields.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            true
        };
        r.feed(b"a,b,c\n1,Jos", false, &mut push);
        r.feed(b"", false, &mut push);
        r.feed("é,Müller\n".as_bytes(), false, &mut push);
        r.feed(&[], true, &mut push);
        assert_eq!(got, [vec!["a", "b", "c"], vec!["1", "José", "Müller"]]);
    }

    #[test]
    fn an_unclosed_quote_is_one_oversized_record_not_unbounded_memory() {
        let mut text = String::from("a,b\n1,\"open\n");
        for _ in 0..20_000 {
            text.push_str("0123456789abcdef\n");
        }
        let got = read(&text, 4096);
        assert_eq!(got.len(), 2);
        assert!(got[1].2, "oversized");
        assert_eq!(got[1].0, 2);
    }

    #[test]
    fn the_most_frequent_delimiter_of_the_header_wins() {
        assert_eq!(detect_delimiter(b"a;b;c\n1,2;3"), b';');
        assert_eq!(detect_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(detect_delimiter(b"\"x;y\",b\n"), b',');
        assert_eq!(detect_delimiter(b"phone"), b',');
    }
}
