//! Turns the bytes of an uploaded file into UTF-8, chunk by chunk, without ever holding
//! the whole file.
//!
//! The encoding comes from the byte-order mark: UTF-8 (BOM dropped), UTF-16LE or
//! UTF-16BE. Without a BOM the text is read as UTF-8 until the first byte sequence that
//! is not UTF-8; from there on it is read as Windows-1252 (which covers Latin-1), the
//! encoding of most spreadsheet exports that are not UTF-8. Everything before that point
//! was plain ASCII or valid UTF-8, so it decodes the same either way.

use encoding_rs::{Decoder, UTF_16BE, UTF_16LE, WINDOWS_1252};

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
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(chunk);
        match std::str::from_utf8(&data) {
            Ok(_) => out.extend_from_slice(&data),
            Err(e) => {
                let valid = e.valid_up_to();
                out.extend_from_slice(&data[..valid]);
                if e.error_len().is_none() && !last {
                    // An incomplete sequence at the end: wait for the next chunk.
                    self.held = data[valid..].to_vec();
                } else {
                    self.encoding = Some(Encoding::Windows1252);
                    windows_1252(&data[valid..], out);
                }
            }
        }
    }
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
    fn an_empty_file_is_empty_utf8() {
        assert_eq!(decode_in_pieces(b"", 4), (String::new(), Encoding::Utf8));
    }
}
