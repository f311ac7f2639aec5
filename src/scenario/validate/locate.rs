//! Finds where a value sits in a JSON text, by its path (`workload.transfers[2].amount`).
//!
//! serde gives us the values but not their positions, so the semantic checks, which run after
//! deserialisation, find the offending value again in the text with this small scanner. It
//! walks only along the path and skips everything else without building a tree, so locating
//! one value in a file of ten million transfers costs one pass and no memory.
//!
//! The scanner never panics: on text that is not well-formed JSON it returns `None`, and the
//! caller falls back to the nearest enclosing value it can find. Duplicate keys resolve to the
//! *last* occurrence, as serde_json does for maps.

use std::fmt;

/// One step of a path: a key of an object or an index of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(key: &str) -> Self {
        Seg::Key(key.to_string())
    }
}

impl From<usize> for Seg {
    fn from(index: usize) -> Self {
        Seg::Index(index)
    }
}

/// A path from the root of the document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn root() -> Self {
        Path(Vec::new())
    }

    /// This path extended by one step.
    pub fn at(&self, seg: impl Into<Seg>) -> Path {
        let mut segs = self.0.clone();
        segs.push(seg.into());
        Path(segs)
    }

    /// The key of the last step, if it is a key.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(key)) => Some(key),
            _ => None,
        }
    }
}

/// `network.links[3].latency`; keys that are not plain words are quoted:
/// `initial_balances["a b"]`. The root renders as the empty string.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(index) => write!(f, "[{index}]")?,
                Seg::Key(key) if is_plain(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Seg::Key(key) => {
                    let quoted = serde_json::to_string(key).map_err(|_| fmt::Error)?;
                    write!(f, "[{quoted}]")?;
                }
            }
        }
        Ok(())
    }
}

fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The byte offset where the value at `path` starts (its first character).
pub fn find_value(text: &str, path: &Path) -> Option<usize> {
    let mut cursor = Cursor::new(text);
    cursor.skip_ws();
    for seg in &path.0 {
        match seg {
            Seg::Key(key) => {
                let member = cursor.find_member(key)?;
                cursor.pos = member.value_at;
            }
            Seg::Index(index) => {
                cursor.pos = cursor.find_element(*index)?;
            }
        }
    }
    Some(cursor.pos)
}

/// The byte offset of the opening quote of `path`'s last key (the key itself rather than its
/// value), for errors about the key: an unknown field, a bad client id.
pub fn find_key(text: &str, path: &Path) -> Option<usize> {
    let (Seg::Key(key), parent) = path.0.split_last()? else {
        return None;
    };
    let object_at = find_value(text, &Path(parent.to_vec()))?;
    let mut cursor = Cursor::new(text);
    cursor.pos = object_at;
    Some(cursor.find_member(key)?.key_at)
}

/// What kind of value a member holds; scalars keep their text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    Object,
    List,
    /// A string, decoded.
    String(String),
    /// A number, `true`, `false` or `null`, as written.
    Literal(String),
}

/// One `"key": value` member of an object, with positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub key: String,
    pub key_at: usize,
    pub value_at: usize,
    pub value: Shape,
}

/// The members of the object that starts at byte `at`, in file order (duplicates kept).
pub fn members(text: &str, at: usize) -> Option<Vec<Member>> {
    let mut cursor = Cursor::new(text);
    cursor.pos = at;
    let mut out = Vec::new();
    cursor.each_member(|cursor, key, key_at, value_at| {
        let value = cursor.shape_of_value()?;
        out.push(Member {
            key,
            key_at,
            value_at,
            value,
        });
        Some(true)
    })?;
    Some(out)
}

/// The first position (in document order) where `wants_object` says an object belongs but the
/// text has a list, as the path there and the byte offset of its `[`. Only containers for which
/// `may_descend` holds are entered. `None` if there is none or the text is malformed.
pub fn find_list_for_object(
    text: &str,
    wants_object: &dyn Fn(&Path) -> bool,
    may_descend: &dyn Fn(&Path) -> bool,
) -> Option<(Path, usize)> {
    let mut cursor = Cursor::new(text);
    cursor.skip_ws();
    walk(&mut cursor, &mut Path::root(), wants_object, may_descend).ok()?
}

/// `Err` on malformed text, `Ok(Some)` when found. Recursion is bounded by `may_descend`,
/// which the caller keeps to the (shallow) scenario schema.
fn walk(
    cursor: &mut Cursor,
    path: &mut Path,
    wants_object: &dyn Fn(&Path) -> bool,
    may_descend: &dyn Fn(&Path) -> bool,
) -> Result<Option<(Path, usize)>, ()> {
    let start = cursor.pos;
    let first = cursor.peek().ok_or(())?;
    if first == b'[' && wants_object(path) {
        return Ok(Some((path.clone(), start)));
    }
    if !may_descend(path) || (first != b'{' && first != b'[') {
        return cursor.skip_value().map(|()| None).ok_or(());
    }
    let mut found = None;
    let complete = if first == b'{' {
        cursor.each_member(|cursor, key, _, _| {
            path.0.push(Seg::Key(key));
            let result = walk(cursor, path, wants_object, may_descend);
            path.0.pop();
            found = result.ok()?;
            Some(found.is_none())
        })
    } else {
        cursor.each_element(|cursor, index| {
            path.0.push(Seg::Index(index));
            let result = walk(cursor, path, wants_object, may_descend);
            path.0.pop();
            found = result.ok()?;
            Some(found.is_none())
        })
    };
    match (found, complete) {
        (Some(hit), _) => Ok(Some(hit)),
        (None, Some(())) => Ok(None),
        (None, None) => Err(()),
    }
}

/// 1-based line and column of byte `offset`; the column counts characters, not bytes.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Converts serde_json's position (1-based line; column = bytes into the line up to and
/// including the character where it stopped) to a character column, at least 1.
pub fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(line_text) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column.max(1);
    };
    let count = line_text
        .char_indices()
        .take_while(|&(i, _)| i < byte_column)
        .count();
    count.max(1)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

struct Found {
    key_at: usize,
    value_at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// The last member called `key` of the object at the cursor.
    fn find_member(&mut self, key: &str) -> Option<Found> {
        let mut found = None;
        self.each_member(|cursor, name, key_at, value_at| {
            if name == key {
                found = Some(Found { key_at, value_at });
            }
            cursor.skip_value()?;
            Some(true)
        })?;
        found
    }

    /// The start of element `index` of the list at the cursor.
    fn find_element(&mut self, index: usize) -> Option<usize> {
        let mut found = None;
        self.each_element(|cursor, i| {
            if i == index {
                found = Some(cursor.pos);
                return Some(false);
            }
            cursor.skip_value()?;
            Some(true)
        })?;
        found
    }

    /// Calls `visit(cursor, key, key_at, value_at)` for each member of the object at the
    /// cursor, with the cursor on the value; `visit` must consume the value and returns
    /// whether to go on. `None` on malformed text.
    fn each_member(
        &mut self,
        mut visit: impl FnMut(&mut Self, String, usize, usize) -> Option<bool>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_ws();
            let key_at = self.pos;
            let key = self.string()?;
            self.eat(b':')?;
            self.skip_ws();
            let value_at = self.pos;
            if !visit(self, key, key_at, value_at)? {
                return Some(());
            }
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Like [`Self::each_member`] for the elements of a list.
    fn each_element(
        &mut self,
        mut visit: impl FnMut(&mut Self, usize) -> Option<bool>,
    ) -> Option<()> {
        self.eat(b'[')?;
        self.skip_ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        let mut index = 0;
        loop {
            self.skip_ws();
            if !visit(self, index)? {
                return Some(());
            }
            index += 1;
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Consumes the value at the cursor and says what it was.
    fn shape_of_value(&mut self) -> Option<Shape> {
        let start = self.pos;
        match self.peek()? {
            b'{' => self.skip_value().map(|()| Shape::Object),
            b'[' => self.skip_value().map(|()| Shape::List),
            b'"' => self.string().map(Shape::String),
            _ => {
                self.skip_value()?;
                let text = std::str::from_utf8(&self.bytes[start..self.pos]).ok()?;
                Some(Shape::Literal(text.to_string()))
            }
        }
    }

    /// Consumes one value without looking inside it (iteratively: no recursion, so deep
    /// nesting cannot overflow the stack).
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            b',' | b'}' | b']' | b':' => None,
            _ => {
                let start = self.pos;
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.pos += 1;
                }
                (self.pos > start).then_some(())
            }
        }
    }

    fn skip_string(&mut self) -> Option<()> {
        (self.peek()? == b'"').then_some(())?;
        self.pos += 1;
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
    }

    /// Consumes a string and decodes its escapes.
    fn string(&mut self) -> Option<String> {
        (self.peek()? == b'"').then_some(())?;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    self.pos += 1;
                    let escaped = self.peek()?;
                    self.pos += 1;
                    let c = match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                b => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// After `\u`: four hex digits, or a surrogate pair written as two escapes.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            (self.bytes.get(self.pos..self.pos + 2)? == b"\\u").then_some(())?;
            self.pos += 2;
            let second = self.hex4()?;
            (0xDC00..0xE000).contains(&second).then_some(())?;
            char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
        } else {
            char::from_u32(first)
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = std::str::from_utf8(self.bytes.get(self.pos..self.pos + 4)?).ok()?;
        let value = u32::from_str_radix(digits, 16).ok()?;
        self.pos += 4;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segs: &[Seg]) -> Path {
        Path(segs.to_vec())
    }

    fn key(k: &str) -> Seg {
        Seg::Key(k.to_string())
    }

    #[test]
    fn finds_nested_values_and_keys() {
        let text = "{\"a\": {\"b\": [10, {\"c\": \"x\"}]}, \"d\": true}";
        let at = find_value(text, &path(&[key("a"), key("b"), Seg::Index(1), key("c")])).unwrap();
        assert_eq!(&text[at..at + 3], "\"x\"");
        let at = find_value(text, &path(&[key("d")])).unwrap();
        assert_eq!(&text[at..at + 4], "true");
        let at = find_key(text, &path(&[key("a"), key("b")])).unwrap();
        assert_eq!(&text[at..at + 3], "\"b\"");
        assert_eq!(find_value(text, &path(&[key("zz")])), None);
        assert_eq!(
            find_value(text, &path(&[key("a"), key("b"), Seg::Index(2)])),
            None
        );
    }

    #[test]
    fn last_duplicate_wins_and_escaped_keys_match() {
        let text = r#"{"k": 1, "\u006b": 2, "s": "a\"}b", "t": 3}"#;
        let at = find_value(text, &path(&[key("k")])).unwrap();
        assert_eq!(&text[at..at + 1], "2");
        let at = find_value(text, &path(&[key("t")])).unwrap();
        assert_eq!(&text[at..at + 1], "3");
    }

    #[test]
    fn malformed_text_gives_none_without_panicking() {
        for text in [
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\": [1, ",
            "[1 2]",
            "{\"a\": \"\\u12",
        ] {
            assert_eq!(
                find_value(text, &path(&[key("a"), Seg::Index(3)])),
                None,
                "{text}"
            );
        }
    }

    #[test]
    fn members_keep_file_order_and_shapes() {
        let text = r#"{"b": 1, "a": "s", "b": [2], "c": {}}"#;
        let found = members(text, 0).unwrap();
        let keys: Vec<_> = found.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b", "c"]);
        assert_eq!(found[0].value, Shape::Literal("1".into()));
        assert_eq!(found[1].value, Shape::String("s".into()));
        assert_eq!(found[2].value, Shape::List);
        assert_eq!(found[3].value, Shape::Object);
    }

    #[test]
    fn lines_and_character_columns() {
        let text = "{\n  \"é\": 12\n}";
        let at = text.find("12").unwrap();
        assert_eq!(line_column(text, at), (2, 8));
        // serde_json counts bytes: "12" ends at byte column 10 of line 2, character 9.
        assert_eq!(char_column(text, 2, 10), 9);
        assert_eq!(char_column(text, 3, 0), 1);
    }

    #[test]
    fn paths_render_like_field_access() {
        let p = path(&[
            key("workload"),
            key("transfers"),
            Seg::Index(2),
            key("amount"),
        ]);
        assert_eq!(p.to_string(), "workload.transfers[2].amount");
        assert_eq!(
            path(&[key("initial_balances"), key("a b")]).to_string(),
            "initial_balances[\"a b\"]"
        );
        assert_eq!(Path::root().to_string(), "");
    }
}
