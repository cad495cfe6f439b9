//! Reading `INSERT` statements of a MySQL dump as bytes: string literals
//! with MySQL's backslash escapes, hex literals, NULL and numbers. The
//! bytes inside strings are kept as they are; the dump says `SET NAMES
//! latin1` but holds whatever the application once wrote (DESIGN §11).

/// One value of an INSERT row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn into_sql(self) -> rusqlite::types::Value {
        match self {
            Value::Null => rusqlite::types::Value::Null,
            Value::Int(i) => rusqlite::types::Value::Integer(i),
            Value::Real(f) => rusqlite::types::Value::Real(f),
            Value::Bytes(b) => rusqlite::types::Value::Blob(b),
        }
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() {
                self.pos += 1;
            } else if self.bytes[self.pos..].starts_with(b"/*") {
                match find(&self.bytes[self.pos + 2..], b"*/") {
                    Some(end) => self.pos += end + 4,
                    None => self.pos = self.bytes.len(),
                }
            } else {
                break;
            }
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        self.skip_space();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", b as char, self.pos))
        }
    }

    fn identifier(&mut self) -> Result<String, String> {
        self.skip_space();
        if self.peek() == Some(b'`') {
            let start = self.pos + 1;
            let end =
                self.bytes[start..].iter().position(|&b| b == b'`').ok_or("unterminated identifier")? + start;
            self.pos = end + 1;
            return Ok(String::from_utf8_lossy(&self.bytes[start..end]).into_owned());
        }
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.pos += 1;
        }
        Ok(String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned())
    }

    fn string(&mut self, quote: u8) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.pos += 1;
        loop {
            let b = self.peek().ok_or("unterminated string literal")?;
            self.pos += 1;
            match b {
                b'\\' => {
                    let e = self.peek().ok_or("unterminated string literal")?;
                    self.pos += 1;
                    match e {
                        b'0' => out.push(0),
                        b'b' => out.push(8),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'Z' => out.push(0x1a),
                        b'%' | b'_' => out.extend_from_slice(&[b'\\', e]),
                        other => out.push(other),
                    }
                }
                q if q == quote => {
                    if self.peek() == Some(quote) {
                        self.pos += 1;
                        out.push(quote);
                    } else {
                        return Ok(out);
                    }
                }
                other => out.push(other),
            }
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_space();
        let rest = &self.bytes[self.pos..];
        match self.peek().ok_or("unexpected end of the dump")? {
            b'\'' | b'"' => Ok(Value::Bytes(self.string(self.bytes[self.pos])?)),
            b'0' if rest.len() > 1 && (rest[1] == b'x' || rest[1] == b'X') => {
                let start = self.pos + 2;
                let mut end = start;
                while self.bytes.get(end).is_some_and(u8::is_ascii_hexdigit) {
                    end += 1;
                }
                self.pos = end;
                hex(&self.bytes[start..end]).map(Value::Bytes)
            }
            b'x' | b'X' if rest.get(1) == Some(&b'\'') => {
                self.pos += 1;
                let text = self.string(b'\'')?;
                hex(&text).map(Value::Bytes)
            }
            b'_' => {
                // A charset introducer: _binary'…', _latin1'…'
                self.identifier()?;
                self.value()
            }
            _ if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"NULL") => {
                self.pos += 4;
                Ok(Value::Null)
            }
            _ => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|e| e.to_string())?;
                if let Ok(i) = text.parse::<i64>() {
                    Ok(Value::Int(i))
                } else {
                    text.parse::<f64>()
                        .map(Value::Real)
                        .map_err(|_| format!("unreadable value at byte {start}"))
                }
            }
        }
    }
}

fn hex(digits: &[u8]) -> Result<Vec<u8>, String> {
    if !digits.len().is_multiple_of(2) {
        return Err("a hex literal has an odd number of digits".into());
    }
    digits
        .chunks(2)
        .map(|p| {
            u8::from_str_radix(std::str::from_utf8(p).map_err(|e| e.to_string())?, 16)
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Largest single statement read from a dump (mysqldump's extended inserts
/// are bounded by `net_buffer_length`, 1 MiB by default; photos make rows big).
pub const MAX_STATEMENT_BYTES: usize = 256 * 1024 * 1024;

/// Reads a dump statement by statement, so that memory follows the largest
/// statement, not the dump, and calls `row` for every row of every INSERT.
pub fn for_each_insert_in(
    mut reader: impl std::io::BufRead,
    mut row: impl FnMut(&str, Vec<Value>) -> Result<(), String>,
) -> Result<(), String> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Code,
        Quoted(u8),
        Escaped(u8),
        LineComment,
        BlockComment,
    }
    let mut statement: Vec<u8> = Vec::new();
    let mut state = State::Code;
    let mut offset = 0usize;
    let mut previous = 0u8;
    loop {
        let buffer = reader.fill_buf().map_err(|e| format!("reading the dump: {e}"))?;
        if buffer.is_empty() {
            break;
        }
        let mut consumed = 0;
        let mut ended = false;
        for &b in buffer {
            consumed += 1;
            state = match (state, b) {
                (State::Code, b'\'' | b'"' | b'`') => State::Quoted(b),
                (State::Code, b'#') => State::LineComment,
                (State::Code, b'-') if previous == b'-' => State::LineComment,
                (State::Code, b'*') if previous == b'/' => State::BlockComment,
                (State::Code, b';') => {
                    ended = true;
                    State::Code
                }
                (State::Quoted(q), b'\\') if q != b'`' => State::Escaped(q),
                (State::Quoted(q), b) if b == q => State::Code,
                (State::Escaped(q), _) => State::Quoted(q),
                (State::LineComment, b'\n') => State::Code,
                (State::BlockComment, b'/') if previous == b'*' => State::Code,
                (s, _) => s,
            };
            // A `/*` or `--` just opened must not let its second byte close anything.
            previous =
                if matches!(state, State::BlockComment) && previous == b'/' && b == b'*' { 0 } else { b };
            if ended {
                break;
            }
        }
        statement.extend_from_slice(&buffer[..consumed]);
        reader.consume(consumed);
        if statement.len() > MAX_STATEMENT_BYTES {
            return Err(format!("a statement at byte {offset} is larger than {MAX_STATEMENT_BYTES} bytes"));
        }
        if ended {
            for_each_insert(&statement, &mut row)
                .map_err(|e| format!("{e} (in the statement at byte {offset})"))?;
            offset += statement.len();
            statement.clear();
        }
    }
    if statement.iter().any(|b| !b.is_ascii_whitespace()) {
        for_each_insert(&statement, &mut row)
            .map_err(|e| format!("{e} (in the statement at byte {offset})"))?;
    }
    Ok(())
}

/// Calls `row` for every row of every `INSERT INTO t VALUES (…),(…);` of a dump.
pub fn for_each_insert(
    dump: &[u8],
    mut row: impl FnMut(&str, Vec<Value>) -> Result<(), String>,
) -> Result<(), String> {
    let mut c = Cursor { bytes: dump, pos: 0 };
    while c.pos < dump.len() {
        c.skip_space();
        let rest = &dump[c.pos..];
        if rest.starts_with(b"--") || rest.starts_with(b"#") {
            c.pos += rest.iter().position(|&b| b == b'\n').map(|i| i + 1).unwrap_or(rest.len());
            continue;
        }
        if rest.len() >= 11 && rest[..11].eq_ignore_ascii_case(b"INSERT INTO") {
            c.pos += 11;
            let table = c.identifier()?;
            c.skip_space();
            // An optional column list.
            if c.peek() == Some(b'(') {
                while c.peek().is_some_and(|b| b != b')') {
                    c.pos += 1;
                }
                c.pos += 1;
                c.skip_space();
            }
            let keyword = c.identifier()?;
            if !keyword.eq_ignore_ascii_case("VALUES") {
                return Err(format!("INSERT INTO {table}: expected VALUES at byte {}", c.pos));
            }
            loop {
                c.expect(b'(')?;
                let mut values = Vec::new();
                loop {
                    values.push(c.value()?);
                    c.skip_space();
                    match c.peek() {
                        Some(b',') => c.pos += 1,
                        Some(b')') => {
                            c.pos += 1;
                            break;
                        }
                        _ => return Err(format!("INSERT INTO {table}: malformed row at byte {}", c.pos)),
                    }
                }
                row(&table, values)?;
                c.skip_space();
                match c.peek() {
                    Some(b',') => c.pos += 1,
                    Some(b';') => {
                        c.pos += 1;
                        break;
                    }
                    None => break,
                    _ => return Err(format!("INSERT INTO {table}: expected ',' or ';' at byte {}", c.pos)),
                }
            }
            continue;
        }
        // Any other statement: skip to its end, stepping over string literals.
        while let Some(b) = c.peek() {
            match b {
                b'\'' | b'"' => {
                    c.string(b)?;
                }
                b';' => {
                    c.pos += 1;
                    break;
                }
                _ => c.pos += 1,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hex_and_multi_row_inserts() {
        let dump = b"-- comment\nSET NAMES latin1;\nCREATE TABLE `t` (`a` text) DEFAULT CHARSET=latin1;\n\
INSERT INTO `t` VALUES (1,'it\\'s','a\\nb\\\\c',NULL,0x89504e47,'M\xfcller'),(2,'','x''y',-5,X'00ff',_binary'bin');\n\
/* a block comment; with a semicolon */ INSERT INTO t (a) VALUES ('semi;colon');";
        let mut rows = Vec::new();
        for_each_insert(dump, |t, r| {
            rows.push((t.to_owned(), r));
            Ok(())
        })
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0].1,
            vec![
                Value::Int(1),
                Value::Bytes(b"it's".to_vec()),
                Value::Bytes(b"a\nb\\c".to_vec()),
                Value::Null,
                Value::Bytes(vec![0x89, 0x50, 0x4e, 0x47]),
                Value::Bytes(b"M\xfcller".to_vec()),
            ]
        );
        assert_eq!(rows[1].1[2], Value::Bytes(b"x'y".to_vec()));
        assert_eq!(rows[1].1[3], Value::Int(-5));
        assert_eq!(rows[1].1[4], Value::Bytes(vec![0, 255]));
        assert_eq!(rows[1].1[5], Value::Bytes(b"bin".to_vec()));
        assert_eq!(rows[2], ("t".to_owned(), vec![Value::Bytes(b"semi;colon".to_vec())]));
        assert!(for_each_insert(b"INSERT INTO t VALUES (1,'open", |_, _| Ok(())).is_err());

        // Read statement by statement through a tiny buffer: the same rows.
        let mut streamed = Vec::new();
        for_each_insert_in(std::io::BufReader::with_capacity(3, &dump[..]), |t, r| {
            streamed.push((t.to_owned(), r));
            Ok(())
        })
        .unwrap();
        assert_eq!(streamed, rows);
    }

    #[test]
    fn the_fixture_dump_reads_the_same_streamed_and_whole() {
        let dump =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/legacy/lwab_v1.mysql.sql")).unwrap();
        let collect = |streamed: bool| {
            let mut rows = Vec::new();
            let push = |t: &str, r: Vec<Value>| {
                rows.push((t.to_owned(), r));
                Ok(())
            };
            if streamed {
                for_each_insert_in(std::io::BufReader::with_capacity(4096, &dump[..]), push).unwrap();
            } else {
                for_each_insert(&dump, push).unwrap();
            }
            rows
        };
        let whole = collect(false);
        assert_eq!(whole.iter().filter(|(t, _)| t == "ab_contact").count(), 199);
        assert_eq!(collect(true), whole);
    }
}
