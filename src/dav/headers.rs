//! Typed request headers: Depth, Overwrite, If-Match / If-None-Match, Prefer.

use http::{HeaderMap, header};

use super::error::{DavError, DavResult};
use crate::store::{Condition, EtagMatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

/// The `Depth` header, or `default` when absent.
pub fn depth(headers: &HeaderMap, default: Depth) -> DavResult<Depth> {
    let Some(value) = headers.get("Depth") else { return Ok(default) };
    match value.to_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Ok("0") => Ok(Depth::Zero),
        Ok("1") => Ok(Depth::One),
        Ok("infinity") => Ok(Depth::Infinity),
        _ => Err(DavError::bad_request("the Depth header must be 0, 1 or infinity")),
    }
}

/// The `Overwrite` header (RFC 4918 §10.6); absent means `T`.
pub fn overwrite(headers: &HeaderMap) -> DavResult<bool> {
    match headers.get("Overwrite").map(|v| v.to_str().map(str::trim)) {
        None => Ok(true),
        Some(Ok("T")) | Some(Ok("t")) => Ok(true),
        Some(Ok("F")) | Some(Ok("f")) => Ok(false),
        Some(_) => Err(DavError::bad_request("the Overwrite header must be T or F")),
    }
}

/// Parses a list of entity tags (`*`, or `"a", W/"b"`). `weak` selects the
/// comparison (RFC 9110 §8.8.3.2): If-Match compares strongly, so weak tags
/// match nothing and are dropped; If-None-Match compares weakly, so `W/"x"`
/// stands for `"x"` (Skjold's own tags are all strong).
fn etag_list(value: &str, weak: bool) -> DavResult<EtagMatch> {
    let value = value.trim();
    if value == "*" {
        return Ok(EtagMatch::Any);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let is_weak = rest.starts_with("W/");
        let tag_start = if is_weak { &rest[2..] } else { rest };
        if !tag_start.starts_with('"') {
            return Err(DavError::bad_request("malformed entity tag in a conditional header"));
        }
        let end = tag_start[1..]
            .find('"')
            .ok_or_else(|| DavError::bad_request("unterminated entity tag in a conditional header"))?;
        let tag = &tag_start[..end + 2];
        if !is_weak || weak {
            tags.push(tag.to_owned());
        }
        rest = &tag_start[end + 2..];
    }
    Ok(EtagMatch::Tags(tags))
}

/// The write preconditions of `If-Match` and `If-None-Match`.
pub fn condition(headers: &HeaderMap) -> DavResult<Condition> {
    let get = |name: header::HeaderName, weak: bool| -> DavResult<Option<EtagMatch>> {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().map_err(|_| DavError::bad_request("conditional header is not ASCII")))
            .collect::<DavResult<_>>()?;
        if values.is_empty() {
            return Ok(None);
        }
        etag_list(&values.join(","), weak).map(Some)
    };
    Ok(Condition {
        if_match: get(header::IF_MATCH, false)?,
        if_none_match: get(header::IF_NONE_MATCH, true)?,
    })
}

/// `Prefer: return=minimal` (RFC 8144 §2): leave 404 propstats out.
pub fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("Prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("return=minimal")))
        || headers
            .get("Brief")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("t"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn depth_values() {
        assert_eq!(depth(&headers(&[]), Depth::Infinity).unwrap(), Depth::Infinity);
        assert_eq!(depth(&headers(&[("Depth", "0")]), Depth::Infinity).unwrap(), Depth::Zero);
        assert_eq!(depth(&headers(&[("Depth", "Infinity")]), Depth::Zero).unwrap(), Depth::Infinity);
        assert!(depth(&headers(&[("Depth", "2")]), Depth::Zero).is_err());
    }

    #[test]
    fn etag_lists() {
        let c =
            condition(&headers(&[("If-Match", "\"a\", W/\"b\",\"c,d\""), ("If-Match", "\"e\"")])).unwrap();
        assert_eq!(c.if_match, Some(EtagMatch::Tags(vec!["\"a\"".into(), "\"c,d\"".into(), "\"e\"".into()])));
        assert_eq!(
            condition(&headers(&[("If-None-Match", "*")])).unwrap().if_none_match,
            Some(EtagMatch::Any)
        );
        assert!(condition(&headers(&[("If-Match", "abc")])).is_err());
        assert!(condition(&headers(&[("If-Match", "\"abc")])).is_err());
        assert_eq!(condition(&headers(&[])).unwrap(), Condition::NONE);
    }

    #[test]
    fn prefer_minimal() {
        assert!(prefers_minimal(&headers(&[("Prefer", "return=minimal")])));
        assert!(prefers_minimal(&headers(&[("Prefer", "respond-async, return=minimal")])));
        assert!(prefers_minimal(&headers(&[("Brief", "t")])));
        assert!(!prefers_minimal(&headers(&[("Prefer", "return=representation")])));
    }

    #[test]
    fn overwrite_values() {
        assert!(overwrite(&headers(&[])).unwrap());
        assert!(!overwrite(&headers(&[("Overwrite", "F")])).unwrap());
        assert!(overwrite(&headers(&[("Overwrite", "x")])).is_err());
    }
}
