//! Tables on the terminal: columns padded to their widest cell, long cells wrapped at
//! spaces (never cut). Used by `contactd import` and `contactd preview`.

/// Widest a table cell is printed; longer text wraps onto more lines, never cut.
const CELL_WIDTH: usize = 60;

/// Prints rows under a header, columns padded to their widest cell; a cell wider than
/// [`CELL_WIDTH`] wraps at spaces onto continuation lines.
pub(super) fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let clean = |s: &str| s.replace(['\n', '\r', '\t'], " ");
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(clean(cell).chars().count().min(CELL_WIDTH));
        }
    }
    let line = |cells: Vec<String>| {
        let wrapped: Vec<Vec<String>> = cells.iter().map(|c| wrap(c, CELL_WIDTH)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for i in 0..height {
            let padded: Vec<String> = wrapped
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{:<w$}", c.get(i).map(String::as_str).unwrap_or("")))
                .collect();
            println!("{}", padded.join("  ").trim_end());
        }
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.iter().map(|c| clean(c)).collect());
    }
}

/// `text` in lines of at most `width` characters, broken at spaces (a longer word is
/// split).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let last = lines.last_mut().expect("one line");
            let used = last.chars().count();
            let room = if used == 0 {
                width
            } else {
                width.saturating_sub(used + 1)
            };
            if word.len() <= room {
                if used > 0 {
                    last.push(' ');
                }
                last.extend(word);
                break;
            }
            if used > 0 {
                lines.push(String::new());
                continue;
            }
            last.extend(word.drain(..width));
            lines.push(String::new());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_wrap_and_lose_nothing() {
        let text = "+15551234567 is not a valid phone number: its digits are not in any range \
                    assigned in +1 (fictional numbers such as +1 555 01xx fail here; LENIENT \
                    validation accepts them)";
        let lines = wrap(text, 60);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= 60), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        assert_eq!(wrap(&"x".repeat(130), 60).concat(), "x".repeat(130));
    }
}
