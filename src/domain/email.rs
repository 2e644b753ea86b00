//! Email addresses: a pragmatic check (one `@`, a dotted domain, no spaces), not RFC 5322.

/// A syntactically plausible email address, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address; the error says what is wrong.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.len() > 254 {
            return Err("is longer than 254 characters".into());
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(format!("{s:?} is not an email address: it has no '@'"));
        };
        if local.is_empty() || domain.contains('@') {
            return Err(format!("{s:?} is not an email address"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{s:?} is not an email address: it contains spaces"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.starts_with('-')) {
            return Err(format!(
                "{s:?} is not an email address: the domain {domain:?} is not a domain name"
            ));
        }
        Ok(Email(s.to_string()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        assert_eq!(
            Email::parse(" jo@example.com ").unwrap().as_str(),
            "jo@example.com"
        );
        assert!(Email::parse("a.b+tag@mail.example.co.uk").is_ok());
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "jo",
            "jo@",
            "@example.com",
            "jo@example",
            "jo@@x.com",
            "j o@x.com",
            "jo@x..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
