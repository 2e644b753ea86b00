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
    fn page_sizes_are_capped() {
        assert_eq!(page_size(0), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(5), 5);
        assert_eq!(page_size(1_000_000), MAX_PAGE_SIZE);
    }
}
