//! Agent script templates: `[first_name]`, `[company]`, custom field keys, each with an
//! optional fallback after a bar: `[first_name|there]`.
//!
//! Rules: a placeholder whose value is empty renders its fallback, or nothing when it
//! has none. A name that is neither a contact field nor one of this contact's custom
//! field keys renders its fallback when it has one (custom fields differ from contact to
//! contact, so a script with `[Notes|…]` must work for contacts without notes); with no
//! fallback it is an error naming it, so a typo never reaches a callee. A `[` without a
//! closing `]` is literal text.

/// Renders `template`; `lookup` gives a placeholder's value, `None` for an unknown name.
/// On error, returns the unknown names (without fallback), in order, each once.
pub fn render(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(template.len());
    let mut unknown: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        let inner = &rest[open + 1..close];
        let (name, fallback) = match inner.split_once('|') {
            Some((n, f)) => (n.trim(), Some(f)),
            None => (inner.trim(), None),
        };
        match (lookup(name), fallback) {
            (Some(v), _) if !v.is_empty() => out.push_str(&v),
            (Some(_), fallback) => out.push_str(fallback.unwrap_or_default()),
            (None, Some(fallback)) => out.push_str(fallback),
            (None, None) => {
                if !unknown.iter().any(|u| u == name) {
                    unknown.push(name.to_string());
                }
            }
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "first_name" => Some("Ann".into()),
            "company" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_and_falls_back() {
        assert_eq!(
            render("Hi [first_name|there] at [company|your company].", lookup).unwrap(),
            "Hi Ann at your company."
        );
    }

    #[test]
    fn empty_value_without_fallback_renders_empty() {
        assert_eq!(render("[company]!", lookup).unwrap(), "!");
    }

    #[test]
    fn unknown_names_are_listed_once() {
        assert_eq!(
            render("[frist_name] [x] [frist_name] [Notes|none]", lookup).unwrap_err(),
            vec!["frist_name".to_string(), "x".to_string()]
        );
        assert_eq!(render("[Notes|none]", lookup).unwrap(), "none");
    }

    #[test]
    fn unclosed_bracket_is_literal() {
        assert_eq!(render("a [b", lookup).unwrap(), "a [b");
    }
}
