//! Turns the bytes of an uploaded file into UTF-8, chunk by chunk, without ever holding
//! the whole file.
//!
//! The encoding comes from the byte-order mark: UTF-8 (BOM dropped), UTF-16LE or
//! UTF-16BE. Without a BOM the text is read as UTF-8 until the first byte sequence that
//! is not UTF-8. Then the file is judged once, for the whole of it:
//!
//! - if it is UTF-8 — a valid multi-byte UTF-8 character came before that point, or
//!   comes within the next [`LOOKAHEAD`] bytes — it stays UTF-8, and each invalid
//!   sequence becomes U+FFFD (�) where it stands: the row that held it shows it, and no
//!   other row changes;
//! - otherwise it is Windows-1252 (which covers Latin-1), the encoding of most
//!   spreadsheet exports that are not UTF-8; everything before that point was plain
//!   ASCII, which decodes the same either way.
//!
//! Either way the encoding reported is the one every row was decoded with.

use encoding_rs::{Decoder, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// Bytes read past the first invalid UTF-8 sequence (when no multi-byte UTF-8 came
/// before it) to judge whether the file is UTF-8 with a bad byte or Windows-1252.
pub const LOOKAHEAD: usize = 64 * 1024;

/// A detected encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

impl Encoding {
    /// The name reported to clients.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 (BOM)",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

/// A streaming decoder to UTF-8.
pub struct TextDecoder {
    encoding: Option<Encoding>,
    /// Bytes held back: the start of the file until the BOM can be judged, or an
    /// incomplete UTF-8 sequence at a chunk's end.
    held: Vec<u8>,
    utf16: Option<Decoder>,
    /// A valid multi-byte UTF-8 character was seen: the file is UTF-8.
    seen_multibyte: bool,
    /// UTF-8 with invalid sequences, each replaced with U+FFFD.
    lossy: bool,
    /// Bytes from the first invalid sequence on, held until the file can be judged.
    undecided: Option<Vec<u8>>,
}

impl Default for TextDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl TextDecoder {
    /// A decoder that has seen nothing yet.
    pub fn new() -> Self {
        TextDecoder {
            encoding: None,
            held: Vec::new(),
            utf16: None,
            seen_multibyte: false,
            lossy: false,
            undecided: None,
        }
    }

    /// The encoding as detected so far (UTF-8 until proven otherwise).
    pub fn encoding(&self) -> Encoding {
        self.encoding.unwrap_or(Encoding::Utf8)
    }

    /// Decodes the next chunk, appending UTF-8 to `out`. `last` says no more bytes follow.
    pub fn decode(&mut self, chunk: &[u8], last: bool, out: &mut Vec<u8>) {
        if self.encoding.is_none() {
            self.held.extend_from_slice(chunk);
            if self.held.len() < 3 && !last {
                return;
            }
            let held = std::mem::take(&mut self.held);
            let (encoding, skip) = sniff(&held);
            self.encoding = Some(encoding);
            self.utf16 = match encoding {
                Encoding::Utf16Le => Some(UTF_16LE.new_decoder_without_bom_handling()),
                Encoding::Utf16Be => Some(UTF_16BE.new_decoder_without_bom_handling()),
                _ => None,
            };
            self.decode_known(&held[skip..], last, out);
        } else {
            self.decode_known(chunk, last, out);
        }
    }

    fn decode_known(&mut self, chunk: &[u8], last: bool, out: &mut Vec<u8>) {
        if let Some(decoder) = self.utf16.as_mut() {
            let mut text = String::with_capacity(
                decoder
                    .max_utf8_buffer_length(chunk.len())
                    .unwrap_or(chunk.len() * 3),
            );
            let _ = decoder.decode_to_string(chunk, &mut text, last);
            out.extend_from_slice(text.as_bytes());
            return;
        }
        if self.encoding == Some(Encoding::Windows1252) {
            windows_1252(chunk, out);
            return;
        }
        if let Some(mut pending) = self.undecided.take() {
            pending.extend_from_slice(chunk);
            if pending.len() < LOOKAHEAD && !last {
                self.undecided = Some(pending);
                return;
            }
            if has_multibyte(&pending) {
                self.lossy = true;
                self.held = lossy_utf8(&pending, last, out);
            } else {
                self.encoding = Some(Encoding::Windows1252);
                windows_1252(&pending, out);
            }
            return;
        }
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(chunk);
        if self.lossy {
            self.held = lossy_utf8(&data, last, out);
            return;
        }
        let valid = match std::str::from_utf8(&data) {
            Ok(_) => data.len(),
            Err(e) => e.valid_up_to(),
        };
        self.seen_multibyte |= data[..valid].iter().any(|b| *b >= 0x80);
        out.extend_from_slice(&data[..valid]);
        if valid == data.len() {
            return;
        }
        let rest = &data[valid..];
        if !last && std::str::from_utf8(rest).is_err_and(|e| e.error_len().is_none()) {
            // An incomplete sequence at the end: wait for the next chunk.
            self.held = rest.to_vec();
        } else if self.seen_multibyte {
            self.lossy = true;
            self.held = lossy_utf8(rest, last, out);
        } else {
            self.undecided = Some(rest.to_vec());
            if last {
                self.decode_known(&[], true, out);
            }
        }
    }
}

/// Decodes UTF-8 with each invalid sequence as U+FFFD; returns an incomplete sequence
/// at the end to hold for the next chunk (none when `last`).
fn lossy_utf8(mut bytes: &[u8], last: bool, out: &mut Vec<u8>) -> Vec<u8> {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(_) => {
                out.extend_from_slice(bytes);
                return Vec::new();
            }
            Err(e) => {
                let valid = e.valid_up_to();
                out.extend_from_slice(&bytes[..valid]);
                match e.error_len() {
                    Some(n) => {
                        out.extend_from_slice("\u{FFFD}".as_bytes());
                        bytes = &bytes[valid + n..];
                    }
                    None if last => {
                        out.extend_from_slice("\u{FFFD}".as_bytes());
                        return Vec::new();
                    }
                    None => return bytes[valid..].to_vec(),
                }
            }
        }
    }
}

/// Whether `bytes` hold a valid multi-byte UTF-8 character.
fn has_multibyte(bytes: &[u8]) -> bool {
    bytes
        .utf8_chunks()
        .any(|c| c.valid().bytes().any(|b| b >= 0x80))
}

fn windows_1252(bytes: &[u8], out: &mut Vec<u8>) {
    let (text, _) = WINDOWS_1252.decode_without_bom_handling(bytes);
    out.extend_from_slice(text.as_bytes());
}

/// The encoding from a byte-order mark, and the BOM's length.
fn sniff(start: &[u8]) -> (Encoding, usize) {
    match start {
        [0xEF, 0xBB, 0xBF, ..] => (Encoding::Utf8Bom, 3),
        [0xFF, 0xFE, ..] => (Encoding::Utf16Le, 2),
        [0xFE, 0xFF, ..] => (Encoding::Utf16Be, 2),
        _ => (Encoding::Utf8, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `bytes` fed in pieces of `size`.
    fn decode_in_pieces(bytes: &[u8], size: usize) -> (String, Encoding) {
        let mut d = TextDecoder::new();
        let mut out = Vec::new();
        let pieces: Vec<&[u8]> = bytes.chunks(size).collect();
        for (i, p) in pieces.iter().enumerate() {
            d.decode(p, i + 1 == pieces.len(), &mut out);
        }
        if pieces.is_empty() {
            d.decode(&[], true, &mut out);
        }
        (String::from_utf8(out).unwrap(), d.encoding())
    }

    #[test]
    fn every_encoding_decodes_the_same_text_whatever_the_chunking() {
        let text = "phone,name\n+14155552671,José Müller\n";
        let mut utf16le = vec![0xFF, 0xFE];
        let mut utf16be = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            utf16le.extend_from_slice(&u.to_le_bytes());
            utf16be.extend_from_slice(&u.to_be_bytes());
        }
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        let (latin, _, _) = WINDOWS_1252.encode(text);
        let cases = [
            (text.as_bytes().to_vec(), Encoding::Utf8),
            (bom, Encoding::Utf8Bom),
            (utf16le, Encoding::Utf16Le),
            (utf16be, Encoding::Utf16Be),
            (latin.to_vec(), Encoding::Windows1252),
        ];
        for (bytes, encoding) in cases {
            for size in [1, 2, 3, 7, 1000] {
                assert_eq!(
                    decode_in_pieces(&bytes, size),
                    (text.to_string(), encoding),
                    "{encoding:?} in pieces of {size}"
                );
            }
        }
    }

    #[test]
    fn a_bad_byte_in_a_utf8_file_changes_only_its_own_place() {
        // The bad byte before any other non-ASCII character, and after one.
        for text in [
            &b"phone,name\n1,Bad\xff\n2,Jos\xc3\xa9\n"[..],
            &b"phone,name\n1,Jos\xc3\xa9\n2,Bad\xff\n3,Zo\xc3\xab\n"[..],
        ] {
            for size in [1, 2, 5, 1000] {
                let (decoded, encoding) = decode_in_pieces(text, size);
                assert_eq!(encoding, Encoding::Utf8, "pieces of {size}");
                assert!(decoded.contains("Bad\u{FFFD}\n"), "{decoded:?}");
                assert!(decoded.contains("José"), "{decoded:?}");
                assert!(!decoded.contains('Ã'), "{decoded:?}");
            }
        }
    }

    #[test]
    fn a_latin1_file_is_still_windows_1252() {
        let (decoded, encoding) = decode_in_pieces(b"phone,name\n1,Ren\xe9e M\xfcller\n", 3);
        assert_eq!(encoding, Encoding::Windows1252);
        assert_eq!(decoded, "phone,name\n1,Renée Müller\n");
    }

    #[test]
    fn an_empty_file_is_empty_utf8() {
        assert_eq!(decode_in_pieces(b"", 4), (String::new(), Encoding::Utf8));
    }
}
