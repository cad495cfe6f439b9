//! `CARDDAV:filter` (RFC 6352 §10.5): parsing, evaluation on a card, and
//! the plan that lets the search index pick candidates.

use http::StatusCode;

use crate::caldav::filter::parse_text_match;
use crate::collation::{Collation, TextMatch};
use crate::dav::error::{DavError, DavResult};
use crate::dav::xml::{CARDDAV, Element};
use crate::vcard::{Card, SEARCHED, VProp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub all_of: bool,
    pub props: Vec<PropFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    /// `NAME` or `group.NAME`.
    pub name: String,
    pub all_of: bool,
    pub is_not_defined: bool,
    pub texts: Vec<TextMatch>,
    pub params: Vec<ParamFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub text: Option<TextMatch>,
}

fn invalid(message: impl Into<String>) -> DavError {
    DavError::new(StatusCode::BAD_REQUEST, message)
}

fn test_of(e: &Element) -> DavResult<bool> {
    match e.attribute("test").map(str::trim) {
        None | Some("anyof") => Ok(false),
        Some("allof") => Ok(true),
        Some(other) => Err(invalid(format!("test must be anyof or allof, not {other:?}"))),
    }
}

fn name_of(e: &Element) -> DavResult<String> {
    e.attribute("name")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(format!("{} needs a name", e.local)))
}

pub fn parse(e: &Element) -> DavResult<Filter> {
    let mut props = Vec::new();
    for child in e.elements() {
        if !child.is(CARDDAV, "prop-filter") {
            return Err(invalid(format!("unexpected {} in filter", child.local)));
        }
        let mut pf = PropFilter {
            name: name_of(child)?,
            all_of: test_of(child)?,
            is_not_defined: false,
            texts: Vec::new(),
            params: Vec::new(),
        };
        for c in child.elements() {
            match (c.ns.as_str(), c.local.as_str()) {
                (CARDDAV, "is-not-defined") => pf.is_not_defined = true,
                (CARDDAV, "text-match") => pf.texts.push(parse_text_match(c, CARDDAV, true)?),
                (CARDDAV, "param-filter") => {
                    let mut param = ParamFilter {
                        name: name_of(c)?.to_ascii_uppercase(),
                        is_not_defined: false,
                        text: None,
                    };
                    for p in c.elements() {
                        match (p.ns.as_str(), p.local.as_str()) {
                            (CARDDAV, "is-not-defined") => param.is_not_defined = true,
                            (CARDDAV, "text-match") => param.text = Some(parse_text_match(p, CARDDAV, true)?),
                            _ => return Err(invalid(format!("unexpected {} in param-filter", p.local))),
                        }
                    }
                    pf.params.push(param);
                }
                _ => return Err(invalid(format!("unexpected {} in prop-filter", c.local))),
            }
        }
        if pf.is_not_defined && (!pf.texts.is_empty() || !pf.params.is_empty()) {
            return Err(invalid("is-not-defined stands alone in a prop-filter"));
        }
        props.push(pf);
    }
    Ok(Filter { all_of: test_of(e)?, props })
}

fn param_matches(f: &ParamFilter, p: &VProp) -> bool {
    // TYPE values count one by one, however they were written.
    let values: Vec<String> = if f.name == "TYPE" {
        p.types()
    } else {
        p.params.iter().filter(|x| x.name == f.name).flat_map(|x| x.values.clone()).collect()
    };
    let present = p.params.iter().any(|x| x.name == f.name);
    match (present, f.is_not_defined, &f.text) {
        (false, true, _) => true,
        (true, true, _) | (false, false, _) => false,
        (true, false, None) => true,
        (true, false, Some(t)) => values.iter().any(|v| t.matches(v)),
    }
}

impl PropFilter {
    fn matches(&self, card: &Card) -> bool {
        let mut props = card.all(&self.name).peekable();
        if self.is_not_defined {
            return props.peek().is_none();
        }
        props.any(|p| {
            let value = p.text();
            let mut tests = self
                .texts
                .iter()
                .map(|t| t.matches(&value))
                .chain(self.params.iter().map(|f| param_matches(f, p)));
            if self.texts.is_empty() && self.params.is_empty() {
                return true;
            }
            if self.all_of { tests.all(|t| t) } else { tests.any(|t| t) }
        })
    }

    /// Needles the index can look up for this prop-filter, if it can.
    fn index_terms(&self) -> Option<(String, Vec<String>)> {
        let base = self.name.rsplit('.').next().unwrap_or(&self.name).to_ascii_uppercase();
        let usable = !self.is_not_defined
            && !self.texts.is_empty()
            && self.texts.iter().all(|t| !t.negate)
            && (self.all_of || self.params.is_empty())
            && SEARCHED.contains(&base.as_str());
        if !usable {
            return None;
        }
        let needles = self.texts.iter().map(|t| Collation::UnicodeCasemap.key(&t.text)).collect();
        Some((base, needles))
    }
}

impl Filter {
    pub fn matches(&self, card: &Card) -> bool {
        if self.props.is_empty() {
            return true;
        }
        if self.all_of {
            self.props.iter().all(|p| p.matches(card))
        } else {
            self.props.iter().any(|p| p.matches(card))
        }
    }

    /// How to narrow candidates with the index: the sets to unite (`anyof`)
    /// or intersect (`allof`), each a union of (property, needle) lookups.
    /// `None`: every card must be read.
    pub fn plan(&self) -> Option<Plan> {
        if self.props.is_empty() {
            return None;
        }
        let terms: Vec<Option<(String, Vec<String>)>> =
            self.props.iter().map(PropFilter::index_terms).collect();
        if self.all_of {
            let usable: Vec<(String, Vec<String>)> = terms.into_iter().flatten().collect();
            (!usable.is_empty()).then_some(Plan { intersect: true, sets: usable })
        } else {
            terms.into_iter().collect::<Option<Vec<_>>>().map(|sets| Plan { intersect: false, sets })
        }
    }
}

/// Index lookups that give a superset of the matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub intersect: bool,
    /// (property, needles): the cards with any of the needles in that property.
    pub sets: Vec<(String, Vec<String>)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dav::xml;
    use crate::vcard::{decode, parse_cards};

    fn filter(body: &str) -> Filter {
        let e = xml::parse(format!(r#"<C:filter xmlns:C="{CARDDAV}" {body}"#).as_bytes()).unwrap();
        parse(&e).unwrap()
    }

    fn card(text: &str) -> Card {
        parse_cards(&decode(text.as_bytes()).unwrap(), true).unwrap().remove(0)
    }

    const JANE: &str = "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Doe\nN:Doe;Jane;;;\nNICKNAME:JD\nitem1.EMAIL;TYPE=INTERNET,WORK:jane@work.example\nEMAIL;TYPE=HOME:jane@home.example\nTEL;TYPE=CELL:+1 555 0100\nCATEGORIES:Friends,Work\nUID:jane\nEND:VCARD\n";

    #[test]
    fn text_match_types_and_collations() {
        let jane = card(JANE);
        for (body, expected) in [
            (
                r#"><C:prop-filter name="FN"><C:text-match>jane</C:text-match></C:prop-filter></C:filter>"#,
                true,
            ),
            (
                r#"><C:prop-filter name="FN"><C:text-match match-type="equals">jane doe</C:text-match></C:prop-filter></C:filter>"#,
                true,
            ),
            (
                r#"><C:prop-filter name="FN"><C:text-match match-type="equals" collation="i;octet">jane doe</C:text-match></C:prop-filter></C:filter>"#,
                false,
            ),
            (
                r#"><C:prop-filter name="FN"><C:text-match match-type="starts-with">doe</C:text-match></C:prop-filter></C:filter>"#,
                false,
            ),
            (
                r#"><C:prop-filter name="FN"><C:text-match match-type="ends-with">doe</C:text-match></C:prop-filter></C:filter>"#,
                true,
            ),
            (
                r#"><C:prop-filter name="NICKNAME"><C:text-match negate-condition="yes">JD</C:text-match></C:prop-filter></C:filter>"#,
                false,
            ),
            (r#"><C:prop-filter name="ORG"><C:is-not-defined/></C:prop-filter></C:filter>"#, true),
            (
                r#"><C:prop-filter name="item1.EMAIL"><C:text-match>work</C:text-match></C:prop-filter></C:filter>"#,
                true,
            ),
            (r#"><C:prop-filter name="item2.EMAIL"/></C:filter>"#, false),
            (
                r#"><C:prop-filter name="EMAIL" test="allof"><C:text-match>home</C:text-match><C:param-filter name="TYPE"><C:text-match match-type="equals">home</C:text-match></C:param-filter></C:prop-filter></C:filter>"#,
                true,
            ),
            (
                r#"><C:prop-filter name="EMAIL" test="allof"><C:text-match>work</C:text-match><C:param-filter name="TYPE"><C:text-match match-type="equals">home</C:text-match></C:param-filter></C:prop-filter></C:filter>"#,
                false,
            ),
            (
                r#"test="allof"><C:prop-filter name="FN"><C:text-match>jane</C:text-match></C:prop-filter><C:prop-filter name="TEL"><C:text-match>999</C:text-match></C:prop-filter></C:filter>"#,
                false,
            ),
            (
                r#"test="anyof"><C:prop-filter name="FN"><C:text-match>zzz</C:text-match></C:prop-filter><C:prop-filter name="TEL"><C:text-match>0100</C:text-match></C:prop-filter></C:filter>"#,
                true,
            ),
            (r#"/>"#, true),
        ] {
            assert_eq!(filter(body).matches(&jane), expected, "{body}");
        }
    }

    #[test]
    fn plans_use_the_index_only_when_it_gives_a_superset() {
        let p = filter(r#"><C:prop-filter name="FN"><C:text-match>Jö</C:text-match></C:prop-filter><C:prop-filter name="EMAIL"><C:text-match>x</C:text-match></C:prop-filter></C:filter>"#).plan().unwrap();
        assert!(!p.intersect);
        assert_eq!(p.sets, vec![("FN".into(), vec!["JO\u{308}".into()]), ("EMAIL".into(), vec!["X".into()])]);
        // anyof with a filter the index cannot answer: read everything.
        assert!(filter(r#"><C:prop-filter name="FN"><C:text-match>a</C:text-match></C:prop-filter><C:prop-filter name="X-FOO"/></C:filter>"#).plan().is_none());
        assert!(filter(r#"><C:prop-filter name="FN"><C:text-match negate-condition="yes">a</C:text-match></C:prop-filter></C:filter>"#).plan().is_none());
        // allof needs only one indexable test.
        let p = filter(r#"test="allof"><C:prop-filter name="X-FOO"/><C:prop-filter name="EMAIL"><C:text-match>@x</C:text-match></C:prop-filter></C:filter>"#).plan().unwrap();
        assert!(p.intersect && p.sets.len() == 1);
    }
}
