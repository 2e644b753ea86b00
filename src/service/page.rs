//! Opaque keyset page tokens: the last row's sort key, base64-encoded with a version tag.
//! Never an OFFSET, so rows inserted while a client pages do not shift later pages.

use crate::error::{Error, Result};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// Default page size.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Largest page size.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// Clamps a requested page size: 0 (unset) gives the default, larger than the cap gives the cap.
pub fn page_size(requested: i32) -> u64 {
    match requested {
        n if n <= 0 => DEFAULT_PAGE_SIZE,
        n => (n as u64).min(MAX_PAGE_SIZE),
    }
}

/// Encodes a cursor made of one integer key.
pub fn encode(key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{key}"))
}

/// Decodes a token made by [`encode`]; empty is "from the start".
pub fn decode(token: &str) -> Result<Option<i64>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || Error::invalid("page_token", "is not a token returned by this API");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("v1:")
        .and_then(|k| k.parse().ok())
        .map(Some)
        .ok_or_else(bad)
}

/// Cuts a fetch of `size + 1` rows to a page of `size` and the next page's token (empty
/// when this is the last page); `key` is a row's keyset sort key.
pub fn split<T>(mut rows: Vec<T>, size: u64, key: impl Fn(&T) -> i64) -> (Vec<T>, String) {
    if rows.len() as u64 > size {
        rows.truncate(size as usize);
        let next = rows.last().map(|r| encode(key(r))).unwrap_or_default();
        (rows, next)
    } else {
        (rows, String::new())
    }
}

/// Cuts a fetch of `size + 1` rows to `size` in place; the next page's token is the last
/// kept row's `cursor`, or empty when there was no extra row (the last page).
pub fn split_keyed<T>(rows: &mut Vec<T>, size: u64, cursor: impl Fn(&T) -> String) -> String {
    if rows.len() as u64 <= size {
        return String::new();
    }
    rows.truncate(size as usize);
    rows.last().map(cursor).unwrap_or_default()
}

/// The error for a token this API did not make.
pub fn bad_token() -> Error {
    Error::invalid("page_token", "is not a token returned by this API")
}

/// Encodes a cursor made of an integer and a text key (a tie-breaker).
pub fn encode_keyed(n: i64, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{n}:{key}"))
}

/// Decodes a token made by [`encode_keyed`]; empty is "from the start".
pub fn decode_keyed(token: &str) -> Result<Option<(i64, String)>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad_token())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_token())?;
    let rest = text.strip_prefix("v1:").ok_or_else(bad_token)?;
    let (n, key) = rest.split_once(':').ok_or_else(bad_token)?;
    Ok(Some((n.parse().map_err(|_| bad_token())?, key.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        assert_eq!(decode(&encode(42)).unwrap(), Some(42));
        assert_eq!(decode("").unwrap(), None);
        assert!(decode("not-a-token").is_err());
    }

    #[test]
    fn keyed_tokens_round_trip_and_garbage_is_refused() {
        let token = encode_keyed(7, "imp_1:x");
        assert_eq!(
            decode_keyed(&token).unwrap(),
            Some((7, "imp_1:x".to_string()))
        );
        assert_eq!(decode_keyed("").unwrap(), None);
        assert!(decode_keyed(&encode(7)).is_err());
    }

    #[test]
    fn page_sizes_are_capped() {
        assert_eq!(page_size(0), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(5), 5);
        assert_eq!(page_size(1_000_000), MAX_PAGE_SIZE);
    }
}
