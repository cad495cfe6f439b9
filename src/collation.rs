//! Text matching with collations (RFC 4790, RFC 5051), shared by CalDAV
//! `text-match` (RFC 4791 §9.7.5: always a substring match) and CardDAV
//! `text-match` (RFC 6352 §10.5.4: equals, contains, starts-with, ends-with).

use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    /// ASCII letters compare case-insensitively, everything else exactly.
    AsciiCasemap,
    /// Exact octets.
    Octet,
    /// Unicode case-insensitive, after compatibility decomposition.
    UnicodeCasemap,
}

impl Collation {
    pub const SUPPORTED: [&'static str; 3] = ["i;ascii-casemap", "i;octet", "i;unicode-casemap"];

    pub fn parse(name: &str) -> Option<Collation> {
        match name.trim() {
            "i;ascii-casemap" => Some(Collation::AsciiCasemap),
            "i;octet" => Some(Collation::Octet),
            "i;unicode-casemap" => Some(Collation::UnicodeCasemap),
            _ => None,
        }
    }

    /// The key two strings are compared by.
    pub fn key(self, s: &str) -> String {
        match self {
            Collation::Octet => s.to_owned(),
            Collation::AsciiCasemap => s.to_ascii_uppercase(),
            // RFC 5051 §2: titlecase each character, then NFKD. Upper case stands
            // in for titlecase; they differ only for a few digraphs.
            Collation::UnicodeCasemap => {
                s.chars().flat_map(char::to_uppercase).collect::<String>().nfkd().collect()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

impl MatchType {
    pub fn parse(name: &str) -> Option<MatchType> {
        match name.trim() {
            "equals" => Some(MatchType::Equals),
            "contains" => Some(MatchType::Contains),
            "starts-with" => Some(MatchType::StartsWith),
            "ends-with" => Some(MatchType::EndsWith),
            _ => None,
        }
    }
}

/// A `text-match` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub text: String,
    pub collation: Collation,
    pub match_type: MatchType,
    pub negate: bool,
}

impl TextMatch {
    /// Whether `value` satisfies the condition (negation included).
    pub fn matches(&self, value: &str) -> bool {
        let hay = self.collation.key(value);
        let needle = self.collation.key(&self.text);
        let found = match self.match_type {
            MatchType::Equals => hay == needle,
            MatchType::Contains => hay.contains(&needle),
            MatchType::StartsWith => hay.starts_with(&needle),
            MatchType::EndsWith => hay.ends_with(&needle),
        };
        found != self.negate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm(text: &str, collation: Collation, match_type: MatchType, negate: bool) -> TextMatch {
        TextMatch { text: text.into(), collation, match_type, negate }
    }

    #[test]
    fn collations_and_match_types() {
        use Collation::*;
        use MatchType::*;
        for (cond, value, expected) in [
            (tm("meet", AsciiCasemap, Contains, false), "Weekly MEETING", true),
            (tm("meet", Octet, Contains, false), "Weekly MEETING", false),
            (tm("MÜLLER", AsciiCasemap, Equals, false), "müller", false),
            (tm("MÜLLER", UnicodeCasemap, Equals, false), "müller", true),
            (tm("e\u{301}", UnicodeCasemap, Equals, false), "\u{e9}", true),
            (tm("ﬁ", UnicodeCasemap, Equals, false), "FI", true),
            (tm("jo", UnicodeCasemap, StartsWith, false), "Jon", true),
            (tm("on", UnicodeCasemap, EndsWith, false), "Jon", true),
            (tm("on", UnicodeCasemap, StartsWith, false), "Jon", false),
            (tm("CANCELLED", AsciiCasemap, Equals, true), "CONFIRMED", true),
            (tm("CANCELLED", AsciiCasemap, Equals, true), "cancelled", false),
        ] {
            assert_eq!(cond.matches(value), expected, "{cond:?} on {value:?}");
        }
        assert_eq!(Collation::parse("i;unknown"), None);
    }
}
