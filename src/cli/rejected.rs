//! The rejected-rows file as the source file was: the server sends UTF-8 with commas;
//! this rewrites it in the source's delimiter and encoding, so the spreadsheet that made
//! the file opens the fixes list the same way. UTF-8 sources get a byte-order mark (Excel
//! reads BOM-less UTF-8 as the system code page); a Windows-1252 source whose rows hold a
//! character that encoding lacks, and a workbook source, get UTF-8 with BOM.

use encoding_rs::WINDOWS_1252;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

/// What the file is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Utf8Bom => "UTF-8 with BOM",
            Target::Utf16Le => "UTF-16LE",
            Target::Utf16Be => "UTF-16BE",
            Target::Windows1252 => "windows-1252",
        }
    }

    fn bom(self) -> &'static [u8] {
        match self {
            Target::Utf8Bom => &[0xEF, 0xBB, 0xBF],
            Target::Utf16Le => &[0xFF, 0xFE],
            Target::Utf16Be => &[0xFE, 0xFF],
            Target::Windows1252 => &[],
        }
    }

    fn encode(self, text: &str, out: &mut impl Write) -> std::io::Result<()> {
        match self {
            Target::Utf8Bom => out.write_all(text.as_bytes()),
            Target::Utf16Le | Target::Utf16Be => {
                for unit in text.encode_utf16() {
                    let bytes = if self == Target::Utf16Le {
                        unit.to_le_bytes()
                    } else {
                        unit.to_be_bytes()
                    };
                    out.write_all(&bytes)?;
                }
                Ok(())
            }
            Target::Windows1252 => out.write_all(&WINDOWS_1252.encode(text).0),
        }
    }
}

/// Writes UTF-8 handed over in arbitrary pieces (a character may straddle two) in the
/// target encoding.
struct Transcoder<W: Write> {
    out: W,
    target: Target,
    pending: Vec<u8>,
}

impl<W: Write> Write for Transcoder<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = std::str::from_utf8(&self.pending[..valid]).expect("checked above");
        self.target.encode(text, &mut self.out)?;
        self.pending.drain(..valid);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Rewrites the server's CSV (`utf8`, UTF-8 with commas) into `path` in the source's
/// `encoding` and `delimiter` (as the batch reports them). Returns the bytes written and
/// the encoding used.
pub fn rewrite(
    mut utf8: std::fs::File,
    path: &std::path::Path,
    encoding: &str,
    delimiter: &str,
) -> anyhow::Result<(u64, &'static str)> {
    utf8.seek(SeekFrom::Start(0))?;
    let target = match encoding {
        "UTF-16LE" => Target::Utf16Le,
        "UTF-16BE" => Target::Utf16Be,
        "windows-1252" if fits_windows_1252(&utf8)? => Target::Windows1252,
        _ => Target::Utf8Bom,
    };
    let delimiter = match delimiter {
        ";" => b';',
        "\t" => b'\t',
        _ => b',',
    };
    utf8.seek(SeekFrom::Start(0))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(utf8));
    let mut file = BufWriter::new(std::fs::File::create(path)?);
    file.write_all(target.bom())?;
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Transcoder {
            out: file,
            target,
            pending: Vec::new(),
        });
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        writer.write_record(&record)?;
    }
    writer.flush()?;
    let file = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}", e.error()))?
        .out
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
    Ok((file.metadata()?.len(), target.name()))
}

/// Whether every character of the UTF-8 file has a Windows-1252 byte.
fn fits_windows_1252(file: &std::fs::File) -> anyhow::Result<bool> {
    let mut lines = BufReader::new(file.try_clone()?);
    let mut line = String::new();
    while lines.read_line(&mut line)? > 0 {
        if WINDOWS_1252.encode(&line).2 {
            return Ok(false);
        }
        line.clear();
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(csv: &str, encoding: &str, delimiter: &str) -> (Vec<u8>, &'static str) {
        let mut src = tempfile::tempfile().unwrap();
        src.write_all(csv.as_bytes()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejected.csv");
        let (n, name) = rewrite(src, &path, encoding, delimiter).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(n, bytes.len() as u64);
        (bytes, name)
    }

    #[test]
    fn a_german_excel_file_gets_its_fixes_list_in_windows_1252_with_semicolons() {
        let csv = "Telefon,Vorname,reason\n0151,Jürgen,\"phone: is not valid; see --lenient\"\n";
        let (bytes, name) = rewritten(csv, "windows-1252", ";");
        assert_eq!(name, "windows-1252");
        let (text, _, bad) = WINDOWS_1252.decode(&bytes);
        assert!(!bad);
        assert_eq!(
            text,
            "Telefon;Vorname;reason\n0151;Jürgen;\"phone: is not valid; see --lenient\"\n"
        );
    }

    #[test]
    fn utf8_gets_a_bom_and_what_1252_cannot_hold_falls_back_to_it() {
        let (bytes, name) = rewritten("phone,name\n1,Łukasz\n", "windows-1252", ",");
        assert_eq!(name, "UTF-8 with BOM");
        assert_eq!(&bytes[..3], [0xEF, 0xBB, 0xBF]);
        assert_eq!(&bytes[3..], "phone,name\n1,Łukasz\n".as_bytes());
        let (bytes, _) = rewritten("a,b\n1,é\n", "UTF-16LE", "\t");
        let units: Vec<u16> = bytes[2..]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(&bytes[..2], [0xFF, 0xFE]);
        assert_eq!(String::from_utf16(&units).unwrap(), "a\tb\n1\té\n");
    }
}
