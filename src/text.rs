//! Text decoding for data from other systems: UTF-8 when the bytes are
//! UTF-8, else Windows-1252 (a superset of Latin-1 for printable text,
//! and what "latin1" databases and old exports really hold).

/// Windows-1252 characters for 0x80–0x9F (0 where the code page has none).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}',
    '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// Decodes Windows-1252 bytes.
pub fn decode_cp1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH[(b - 0x80) as usize],
            _ => b as char,
        })
        .collect()
}

/// Decodes ISO-8859-1 bytes.
pub fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// UTF-8 if the bytes are valid UTF-8, else Windows-1252.
pub fn decode_guess(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => decode_cp1252(bytes),
    }
}

/// Decodes bytes declared to be in `charset`; `None` for charsets not known here.
pub fn decode_charset(bytes: &[u8], charset: &str) -> Option<String> {
    match charset.trim().to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => Some(decode_guess(bytes)),
        "us-ascii" | "ascii" => Some(decode_guess(bytes)),
        "iso-8859-1" | "latin1" | "latin-1" | "iso8859-1" => Some(decode_latin1(bytes)),
        "windows-1252" | "cp1252" | "x-cp1252" => Some(decode_cp1252(bytes)),
        _ => None,
    }
}

/// Windows-1252 bytes of text, if every character has one.
pub fn encode_cp1252(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| match c as u32 {
            0..=0x7F | 0xA0..=0xFF => Some(c as u8),
            _ => CP1252_HIGH.iter().position(|h| *h == c).map(|i| 0x80 + i as u8),
        })
        .collect()
}

/// Repairs UTF-8 that was decoded once as Windows-1252/Latin-1 and stored
/// again ("MÃ¼ller" → "Müller"). Returns `None` when the text does not
/// look double-encoded: its Windows-1252 bytes must be valid UTF-8 that
/// holds non-ASCII characters, so clean Latin-1 text is never touched.
pub fn repair_double_encoding(text: &str) -> Option<String> {
    if text.is_ascii() {
        return None;
    }
    let bytes = encode_cp1252(text)?;
    let repaired = String::from_utf8(bytes).ok()?;
    (repaired != text && !repaired.is_ascii()).then_some(repaired)
}

/// Removes control characters (C0 except tab and line feed, DEL, C1);
/// returns how many were removed.
pub fn strip_controls(text: &str, keep_newlines: bool) -> (String, usize) {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut removed = 0;
    let out = normalized
        .chars()
        .filter_map(|c| match c {
            '\t' => Some(c),
            '\n' => Some(if keep_newlines { '\n' } else { ' ' }),
            c if c.is_control() => {
                removed += 1;
                None
            }
            c => Some(c),
        })
        .collect();
    (out, removed)
}

/// Undoes quoted-printable encoding (soft line breaks already joined).
pub fn decode_quoted_printable(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp1252_and_guessing() {
        assert_eq!(decode_cp1252(b"\x80 \x93quoted\x94 M\xfcller"), "€ “quoted” Müller");
        assert_eq!(decode_guess("Müller".as_bytes()), "Müller");
        assert_eq!(decode_guess(b"M\xfcller"), "Müller");
        assert_eq!(decode_charset(b"\xe9", "ISO-8859-1").as_deref(), Some("é"));
        assert_eq!(decode_charset(b"x", "koi8-r"), None);
    }

    #[test]
    fn double_encoding_is_repaired_and_clean_text_left_alone() {
        assert_eq!(repair_double_encoding("MÃ¼ller GrÃ¼ÃŸ").as_deref(), Some("Müller Grüß"));
        assert_eq!(repair_double_encoding("Müller"), None);
        assert_eq!(repair_double_encoding("Øre"), None);
        assert_eq!(repair_double_encoding("plain"), None);
        assert_eq!(repair_double_encoding("€ 5"), None);
    }

    #[test]
    fn control_characters() {
        assert_eq!(
            strip_controls("bell\u{7} nul\0 tab\t end\r\nnext", true),
            ("bell nul tab\t end\nnext".into(), 2)
        );
        assert_eq!(strip_controls("a\nb", false), ("a b".into(), 0));
    }

    #[test]
    fn quoted_printable() {
        assert_eq!(decode_quoted_printable("Caf=C3=A9 =3D ok="), "Café = ok=".as_bytes());
        assert_eq!(decode_quoted_printable("=ZZ"), b"=ZZ");
    }
}
