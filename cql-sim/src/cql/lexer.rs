//! Splits CQL text into tokens, each with the line and column where it
//! starts so syntax errors can point at it.

use crate::error::CqlError;

/// One lexical token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted identifier or keyword, lower-cased.
    Word(String),
    /// A double-quoted identifier, case kept.
    Quoted(String),
    /// A single-quoted string literal.
    Str(String),
    /// An integer or decimal literal, as written.
    Number(String),
    /// A `0x...` blob literal.
    Blob(Vec<u8>),
    /// A uuid literal.
    Uuid([u8; 16]),
    /// `?`
    Marker,
    /// `:name`
    NamedMarker(String),
    /// Punctuation and operators: `( ) , ; . * = < > <= >= != [ ] { } : + -`.
    Sym(&'static str),
}

/// A token and where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Spanned {
    pub(crate) tok: Tok,
    pub(crate) line: usize,
    pub(crate) col: usize,
}

const SYMBOLS: [&str; 17] = [
    "<=", ">=", "!=", "(", ")", ",", ";", ".", "*", "=", "<", ">", "[", "]", "{", "}", "+",
];

/// Tokenizes a whole statement.
pub(crate) fn lex(text: &str) -> Result<Vec<Spanned>, CqlError> {
    let mut lexer = Lexer {
        chars: text.char_indices().collect(),
        text,
        pos: 0,
        out: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.out)
}

struct Lexer<'a> {
    chars: Vec<(usize, char)>,
    text: &'a str,
    pos: usize,
    out: Vec<Spanned>,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).map(|(_, c)| *c)
    }

    fn rest(&self) -> &str {
        self.chars
            .get(self.pos)
            .map_or("", |(i, _)| &self.text[*i..])
    }

    fn location(&self) -> (usize, usize) {
        let consumed = self.chars.get(..self.pos).unwrap_or(&self.chars);
        let line = 1 + consumed.iter().filter(|(_, c)| *c == '\n').count();
        let col = consumed
            .iter()
            .rev()
            .take_while(|(_, c)| *c != '\n')
            .count();
        (line, col)
    }

    fn error(&self, message: &str) -> CqlError {
        error_at(self.location(), message)
    }

    fn run(&mut self) -> Result<(), CqlError> {
        while let Some(c) = self.peek(0) {
            if c.is_whitespace() {
                self.pos += 1;
                continue;
            }
            if self.rest().starts_with("--") || self.rest().starts_with("//") {
                self.skip_line();
                continue;
            }
            let (line, col) = self.location();
            let tok = self.token(c)?;
            self.out.push(Spanned { tok, line, col });
        }
        Ok(())
    }

    fn skip_line(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.pos += 1;
        }
    }

    fn token(&mut self, c: char) -> Result<Tok, CqlError> {
        if let Some(uuid) = self.uuid() {
            return Ok(uuid);
        }
        match c {
            '\'' => self.quoted('\'').map(Tok::Str),
            '"' => self.quoted('"').map(Tok::Quoted),
            '?' => {
                self.pos += 1;
                Ok(Tok::Marker)
            }
            ':' if self.peek(1).is_some_and(is_word_start) => {
                self.pos += 1;
                Ok(Tok::NamedMarker(self.word()))
            }
            ':' => {
                self.pos += 1;
                Ok(Tok::Sym(":"))
            }
            '0' if matches!(self.peek(1), Some('x' | 'X')) => self.blob(),
            '-' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => Ok(self.number()),
            '-' => {
                self.pos += 1;
                Ok(Tok::Sym("-"))
            }
            d if d.is_ascii_digit() => Ok(self.number()),
            w if is_word_start(w) => Ok(Tok::Word(self.word().to_ascii_lowercase())),
            _ => self.symbol(),
        }
    }

    fn symbol(&mut self) -> Result<Tok, CqlError> {
        let rest = self.rest();
        let sym = SYMBOLS
            .iter()
            .find(|s| rest.starts_with(**s))
            .ok_or_else(|| {
                self.error(&format!(
                    "unexpected character '{}'",
                    rest.chars().next().unwrap_or(' ')
                ))
            })?;
        self.pos += sym.len();
        Ok(Tok::Sym(sym))
    }

    fn quoted(&mut self, quote: char) -> Result<String, CqlError> {
        let start = self.location();
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek(0) {
                None => return Err(error_at(start, "unterminated quoted text")),
                Some(c) if c == quote && self.peek(1) == Some(quote) => {
                    out.push(quote);
                    self.pos += 2;
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self
            .peek(0)
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().map(|(_, c)| c).collect()
    }

    fn number(&mut self) -> Tok {
        let start = self.pos;
        self.pos += 1;
        while self
            .peek(0)
            .is_some_and(|c| c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E')
        {
            self.pos += 1;
        }
        Tok::Number(self.chars[start..self.pos].iter().map(|(_, c)| c).collect())
    }

    fn blob(&mut self) -> Result<Tok, CqlError> {
        self.pos += 2;
        let start = self.pos;
        while self.peek(0).is_some_and(|c| c.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        let hex: String = self.chars[start..self.pos].iter().map(|(_, c)| c).collect();
        if !hex.len().is_multiple_of(2) {
            return Err(self.error("blob literal with an odd number of hex digits"));
        }
        Ok(Tok::Blob(hex_bytes(&hex)))
    }

    /// A uuid literal (`8-4-4-4-12` hex digits) at the current position.
    fn uuid(&mut self) -> Option<Tok> {
        let candidate = self.rest().get(..36)?;
        let groups: Vec<&str> = candidate.split('-').collect();
        let shape_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
        let boundary = !self.rest()[36..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if !shape_ok || !boundary {
            return None;
        }
        let bytes = hex_bytes(&groups.concat());
        self.pos += 36;
        bytes.try_into().ok().map(Tok::Uuid)
    }
}

fn error_at((line, col): (usize, usize), message: &str) -> CqlError {
    CqlError::Syntax(format!("line {line}:{col} {message}"))
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            digit(pair[0]) << 4 | pair.get(1).map_or(0, |b| digit(*b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        lex(text).unwrap().into_iter().map(|s| s.tok).collect()
    }

    #[test]
    fn lexes_literals_markers_and_symbols() {
        let t = toks(
            "SELECT \"Mixed\", x FROM t WHERE k = 'it''s' AND b = 0xcafe AND n >= -12 AND m = :name AND q = ?",
        );
        assert!(t.contains(&Tok::Word("select".into())));
        assert!(t.contains(&Tok::Quoted("Mixed".into())));
        assert!(t.contains(&Tok::Str("it's".into())));
        assert!(t.contains(&Tok::Blob(vec![0xca, 0xfe])));
        assert!(t.contains(&Tok::Number("-12".into())));
        assert!(t.contains(&Tok::Sym(">=")));
        assert!(t.contains(&Tok::NamedMarker("name".into())));
        assert!(t.contains(&Tok::Marker));
    }

    #[test]
    fn lexes_uuids_and_reports_positions() {
        let t = toks("x = 123e4567-e89b-12d3-a456-426614174000");
        assert!(matches!(t[2], Tok::Uuid(u) if u[0] == 0x12 && u[15] == 0x00));
        let err = lex("SELECT\n  'open").unwrap_err();
        assert_eq!(
            err,
            CqlError::Syntax("line 2:2 unterminated quoted text".into())
        );
    }
}
