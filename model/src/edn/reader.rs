//! Reading EDN text, with errors that give line and column.

use super::{BigDec, Edn, Instant, Keyword, Symbol};
use crate::error::{Error, Result};
use foldhash::{HashMap, HashMapExt};
use num_bigint::BigInt;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Deeper nesting than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

/// Parses exactly one EDN value (comments and whitespace around it allowed).
pub fn parse(text: &str) -> Result<Edn> {
    let mut reader = Reader::new(text);
    let value = reader
        .next_value()?
        .ok_or_else(|| reader.error("no value in the text"))?;
    if reader.next_value()?.is_some() {
        return Err(reader.error("more than one value in the text"));
    }
    Ok(value)
}

/// Parses every EDN value in the text, in order.
pub fn parse_all(text: &str) -> Result<Vec<Edn>> {
    let mut reader = Reader::new(text);
    let mut values = Vec::new();
    while let Some(value) = reader.next_value()? {
        values.push(value);
    }
    Ok(values)
}

/// One item of tx data read by [`TxForms`].
#[derive(Clone, Debug, PartialEq)]
pub enum TxItem {
    /// A form (a map, or a list form such as `[:db/add e a v]`).
    Form(Edn),
    /// The end of one top-level vector of forms: a transaction boundary
    /// of the input.
    EndOfTx,
}

/// Reads tx data one form at a time from text that holds one vector of
/// forms or a stream of them (`[…] […] …`), so that a file too large to
/// hold as one parsed value is read with memory for one form at a time.
/// Errors give line and column, as [`parse`] does.
pub struct TxForms<'a> {
    reader: Reader<'a>,
    inside: Option<char>,
    form_start: usize,
}

impl<'a> TxForms<'a> {
    /// A reader over `text`.
    pub fn new(text: &'a str) -> Self {
        TxForms {
            reader: Reader::new(text),
            inside: None,
            form_start: 0,
        }
    }

    /// The byte offset read up to.
    pub fn offset(&self) -> usize {
        self.reader.pos
    }

    /// The byte offset where the last form read starts.
    pub fn form_start(&self) -> usize {
        self.form_start
    }

    /// The next form or transaction boundary; `None` at the end of the text.
    pub fn next_item(&mut self) -> Result<Option<TxItem>> {
        let r = &mut self.reader;
        r.skip_blank()?;
        let Some(close) = self.inside else {
            let close = match r.peek() {
                None => return Ok(None),
                Some('[') => ']',
                Some('(') => ')',
                Some(_) => {
                    return Err(r.error("expected a vector of tx data forms (`[{…} …]`)"));
                }
            };
            r.bump();
            r.depth += 1;
            self.inside = Some(close);
            return self.next_item();
        };
        match r.peek() {
            None => Err(r.error(format!("end of text, expected '{close}'"))),
            Some(c) if c == close => {
                r.bump();
                r.depth -= 1;
                self.inside = None;
                Ok(Some(TxItem::EndOfTx))
            }
            Some(_) => {
                self.form_start = r.pos;
                r.value().map(|v| Some(TxItem::Form(v)))
            }
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    column: usize,
    depth: usize,
    /// Keywords read so far, by their text: tx data names the same few
    /// attributes over and over, and each is then one shared string.
    keywords: HashMap<&'a str, Keyword>,
}

/// At most this many distinct keywords are remembered (text of endless
/// distinct keywords reads as before, without a growing table).
const KEYWORDS_KEPT: usize = 4096;

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';')
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            text,
            pos: 0,
            line: 1,
            column: 1,
            depth: 0,
            keywords: HashMap::new(),
        }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Syntax {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// Skips whitespace, commas, comments and `#_` discarded values, so
    /// that a discard may stand anywhere a blank may (`[1 #_ 2]` is `[1]`).
    fn skip_blank(&mut self) -> Result<()> {
        while let Some(c) = self.peek() {
            if c == ';' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
            } else if c.is_whitespace() || c == ',' {
                self.bump();
            } else if self.text[self.pos..].starts_with("#_") {
                self.bump();
                self.bump();
                self.nested(|r| r.required_value("after #_"))?;
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Moves to `end` over text that holds no character this reader
    /// treats apart, counting lines and columns as [`Reader::bump`] does.
    fn advance_to(&mut self, end: usize) {
        for &b in &self.text.as_bytes()[self.pos..end] {
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if b & 0xC0 != 0x80 {
                // Not a UTF-8 continuation byte: a character starts.
                self.column += 1;
            }
        }
        self.pos = end;
    }

    /// Reads characters up to the next delimiter.
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = start;
        while let Some(&b) = bytes.get(end) {
            let c = match b.is_ascii() {
                true => char::from(b),
                false => self.text[end..].chars().next().unwrap_or_default(),
            };
            if is_delimiter(c) {
                break;
            }
            end += c.len_utf8();
        }
        self.advance_to(end);
        &self.text[start..end]
    }

    /// The next value, or `None` at the end of the text.
    fn next_value(&mut self) -> Result<Option<Edn>> {
        self.skip_blank()?;
        if self.peek().is_none() {
            return Ok(None);
        }
        self.value().map(Some)
    }

    /// A value that must be there (inside a collection or after a tag).
    fn required_value(&mut self, context: &str) -> Result<Edn> {
        self.skip_blank()?;
        match self.peek() {
            None => Err(self.error(format!("end of text {context}"))),
            Some(')' | ']' | '}') => Err(self.error(format!("expected a value {context}"))),
            Some(_) => self.value(),
        }
    }

    fn value(&mut self) -> Result<Edn> {
        let (line, column) = (self.line, self.column);
        let c = self.peek().ok_or_else(|| self.error("end of text"))?;
        match c {
            '(' | '[' | '{' => self.nested(|r| r.collection()),
            ')' | ']' | '}' => Err(self.error(format!("unmatched '{c}'"))),
            '"' => self.string().map(|s| Edn::String(Arc::from(&*s))),
            '\\' => self.character(),
            '#' => self.nested(|r| r.dispatch()),
            ':' => self.keyword(),
            _ => self.atom(line, column),
        }
    }

    fn nested(&mut self, read: impl FnOnce(&mut Self) -> Result<Edn>) -> Result<Edn> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH}")));
        }
        self.depth += 1;
        let result = read(self);
        self.depth -= 1;
        result
    }

    /// Reads the elements up to `close`, after the opening bracket.
    fn elements(&mut self, close: char) -> Result<Vec<Edn>> {
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            match self.peek() {
                None => return Err(self.error(format!("end of text, expected '{close}'"))),
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    fn collection(&mut self) -> Result<Edn> {
        let (line, column) = (self.line, self.column);
        match self.bump() {
            Some('(') => Ok(Edn::List(self.elements(')')?)),
            Some('[') => Ok(Edn::Vector(self.elements(']')?)),
            _ => {
                let items = self.elements('}')?;
                self.map(items, line, column)
            }
        }
    }

    fn map(&self, items: Vec<Edn>, line: usize, column: usize) -> Result<Edn> {
        let at = |message: String| Error::Syntax {
            line,
            column,
            message,
        };
        if !items.len().is_multiple_of(2) {
            return Err(at("a map needs an even number of forms".into()));
        }
        let mut map = BTreeMap::new();
        let mut iter = items.into_iter();
        while let (Some(k), Some(v)) = (iter.next(), iter.next()) {
            if map.contains_key(&k) {
                return Err(at(format!("duplicate map key {k}")));
            }
            map.insert(k, v);
        }
        Ok(Edn::Map(map))
    }

    fn set(&mut self) -> Result<Edn> {
        let (line, column) = (self.line, self.column);
        self.bump();
        let mut set = BTreeSet::new();
        for item in self.elements('}')? {
            if set.contains(&item) {
                return Err(Error::Syntax {
                    line,
                    column,
                    message: format!("duplicate set element {item}"),
                });
            }
            set.insert(item);
        }
        Ok(Edn::Set(set))
    }

    fn dispatch(&mut self) -> Result<Edn> {
        let at = (self.line, self.column);
        self.bump();
        match self.peek() {
            Some('{') => self.set(),
            Some('#') => {
                self.bump();
                match self.token() {
                    "Inf" => Ok(Edn::Double(f64::INFINITY)),
                    "-Inf" => Ok(Edn::Double(f64::NEG_INFINITY)),
                    "NaN" => Ok(Edn::Double(f64::NAN)),
                    other => Err(self.error(format!("unknown symbolic value ##{other}"))),
                }
            }
            Some(c) if c.is_alphabetic() => self.tagged(at),
            _ => Err(self.error("expected '{', '_', '#' or a tag after '#'")),
        }
    }

    /// A tagged literal; `at` is where its `#` stands.
    fn tagged(&mut self, (line, column): (usize, usize)) -> Result<Edn> {
        let tag = self.token();
        let value = self.required_value(&format!("after tag #{tag}"))?;
        let at = |message: String| Error::Syntax {
            line,
            column,
            message,
        };
        match (tag, &value) {
            ("inst", Edn::String(s)) => Instant::parse(s)
                .map(Edn::Inst)
                .map_err(|e| at(format!("bad #inst \"{s}\": {e}"))),
            ("uuid", Edn::String(s)) => uuid::Uuid::parse_str(s)
                .map(Edn::Uuid)
                .map_err(|e| at(format!("bad #uuid \"{s}\": {e}"))),
            ("inst" | "uuid", other) => Err(at(format!("#{tag} needs a string, got {other}"))),
            _ => Ok(Edn::Tagged(Symbol::new(tag), Box::new(value))),
        }
    }

    /// A string's text: borrowed from the input when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>> {
        self.bump();
        let mut out = Cow::Borrowed("");
        loop {
            let rest = &self.text.as_bytes()[self.pos..];
            let Some(plain) = rest.iter().position(|&b| b == b'"' || b == b'\\') else {
                self.advance_to(self.text.len());
                return Err(self.error("end of text inside a string"));
            };
            // Both stops are ASCII: `end` is a character boundary.
            let end = self.pos + plain;
            let run = &self.text[self.pos..end];
            match &mut out {
                Cow::Borrowed("") => out = Cow::Borrowed(run),
                out => out.to_mut().push_str(run),
            }
            self.advance_to(end);
            match self.bump() {
                Some('"') => return Ok(out),
                _ => {
                    let c = self.escape()?;
                    out.to_mut().push(c);
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char> {
        match self.bump() {
            Some('n') => Ok('\n'),
            Some('t') => Ok('\t'),
            Some('r') => Ok('\r'),
            Some('b') => Ok('\u{8}'),
            Some('f') => Ok('\u{c}'),
            Some('"') => Ok('"'),
            Some('\\') => Ok('\\'),
            Some('u') => self.unicode(),
            Some(c) => Err(self.error(format!("unknown escape \\{c} in a string"))),
            None => Err(self.error("end of text inside a string")),
        }
    }

    fn unicode(&mut self) -> Result<char> {
        let start = self.pos;
        for _ in 0..4 {
            if !self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                return Err(self.error("\\u needs four hex digits"));
            }
            self.bump();
        }
        u32::from_str_radix(&self.text[start..self.pos], 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| self.error("\\u names no character"))
    }

    fn character(&mut self) -> Result<Edn> {
        self.bump();
        let first = self
            .bump()
            .ok_or_else(|| self.error("end of text after \\"))?;
        let rest = self.token();
        let c = match (first, rest) {
            (c, "") => c,
            ('n', "ewline") => '\n',
            ('s', "pace") => ' ',
            ('t', "ab") => '\t',
            ('r', "eturn") => '\r',
            ('u', hex) if hex.len() == 4 => u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| self.error(format!("bad character \\u{hex}")))?,
            (c, rest) => return Err(self.error(format!("unknown character \\{c}{rest}"))),
        };
        Ok(Edn::Char(c))
    }

    fn keyword(&mut self) -> Result<Edn> {
        self.bump();
        let text = self.token();
        if text.is_empty() || text.starts_with(':') || text.ends_with('/') {
            return Err(self.error(format!("bad keyword :{text}")));
        }
        if let Some(known) = self.keywords.get(text) {
            return Ok(Edn::Keyword(known.clone()));
        }
        let keyword = Keyword::new(text);
        if self.keywords.len() < KEYWORDS_KEPT {
            self.keywords.insert(text, keyword.clone());
        }
        Ok(Edn::Keyword(keyword))
    }

    fn atom(&mut self, line: usize, column: usize) -> Result<Edn> {
        let text = self.token();
        let at = |message: String| Error::Syntax {
            line,
            column,
            message,
        };
        if text.is_empty() {
            let c = self.peek().unwrap_or(' ');
            return Err(at(format!("unexpected character '{c}'")));
        }
        let mut chars = text.chars();
        let first = chars.next().unwrap_or(' ');
        let second = chars.next();
        let numeric = first.is_ascii_digit()
            || (matches!(first, '+' | '-') && second.is_some_and(|c| c.is_ascii_digit()));
        if numeric {
            return number(text).map_err(at);
        }
        match text {
            "nil" => Ok(Edn::Nil),
            "true" => Ok(Edn::Boolean(true)),
            "false" => Ok(Edn::Boolean(false)),
            _ if text.ends_with('/') && text != "/" => Err(at(format!("bad symbol {text}"))),
            _ => Ok(Edn::Symbol(Symbol::new(text))),
        }
    }
}

/// Parses a numeric token: `42`, `-7`, `42N`, `1.5`, `1e9`, `1.50M`.
fn number(text: &str) -> std::result::Result<Edn, String> {
    let bad = || format!("bad number {text}");
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if let Some(digits) = unsigned.strip_suffix('N') {
        let n: BigInt = digits.parse().map_err(|_| bad())?;
        return Ok(Edn::BigInt(Arc::new(n)));
    }
    if let Some(digits) = unsigned.strip_suffix('M') {
        return BigDec::parse(digits)
            .map(|d| Edn::BigDec(Arc::new(d)))
            .map_err(|_| bad());
    }
    if unsigned.contains(['.', 'e', 'E']) {
        return unsigned.parse::<f64>().map(Edn::Double).map_err(|_| bad());
    }
    if !unsigned
        .trim_start_matches('-')
        .bytes()
        .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    match unsigned.parse::<i64>() {
        Ok(n) => Ok(Edn::Long(n)),
        Err(_) => unsigned
            .parse::<BigInt>()
            .map(|n| Edn::BigInt(Arc::new(n)))
            .map_err(|_| bad()),
    }
}

#[cfg(test)]
mod tx_forms_tests {
    use super::*;

    fn items(text: &str) -> Result<Vec<TxItem>> {
        let mut forms = TxForms::new(text);
        let mut out = Vec::new();
        while let Some(item) = forms.next_item()? {
            out.push(item);
        }
        Ok(out)
    }

    #[test]
    fn one_vector_and_a_stream_of_vectors_read_form_by_form() {
        let one = items("[{:a/b 1} [:db/add \"x\" :a/b 2]]").unwrap_or_default();
        assert_eq!(one.len(), 3);
        assert!(matches!(&one[1], TxItem::Form(Edn::Vector(v)) if v.len() == 4));
        assert_eq!(one[2], TxItem::EndOfTx);
        let stream = items("; comment\n[{:a/b 1}]\n[{:a/b 2} {:a/b 3}] ()").unwrap_or_default();
        let ends = stream.iter().filter(|i| **i == TxItem::EndOfTx).count();
        assert_eq!((stream.len(), ends), (6, 3));
    }

    #[test]
    fn bad_input_says_where() {
        let err = items("[{:a/b 1}\n{:a/b")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = items("{:a/b 1}").map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("expected a vector of tx data forms"), "{err}");
        let err = items("[{:a/b 1}").map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("expected ']'"), "{err}");
    }
}
