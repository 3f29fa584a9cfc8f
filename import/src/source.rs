//! The input of an import: files of tx data, read form by form and cut
//! into batches on a thread of their own.

use std::path::Path;
use std::sync::Arc;

use model::edn::{Edn, TxForms, TxItem};
use tokio::sync::mpsc;

use crate::Error;

/// How a source writes its tx data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// EDN: one vector of forms, or a stream of them (`[…] […] …`).
    Edn,
    /// JSON lines: one transaction per line, each a JSON array of forms in
    /// the documented JSON mapping (`model::json`).
    JsonLines,
}

impl Format {
    /// The format a file name suggests: JSON lines for `.jsonl`, `.ndjson`
    /// and `.json`, EDN otherwise.
    pub fn of_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson" | "json") => Format::JsonLines,
            _ => Format::Edn,
        }
    }
}

/// One input of an import: its name for messages, its text, its format.
#[derive(Clone, Debug)]
pub struct Source {
    /// How messages name it (a file's path).
    pub name: String,
    /// The tx data.
    pub text: Arc<str>,
    /// How it is written.
    pub format: Format,
}

impl Source {
    /// A source read from the file at `path`, in the format its name
    /// suggests ([`Format::of_path`]).
    pub fn read(path: &Path) -> Result<Source, Error> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Input(format!("reading {name}: {e}")))?;
        Ok(Source {
            name,
            text: Arc::from(text),
            format: Format::of_path(path),
        })
    }
}

/// A batch of forms, committed as one transaction.
#[derive(Debug)]
pub(crate) struct Batch {
    /// Its number in the import, from 0.
    pub(crate) number: u64,
    pub(crate) forms: Vec<Edn>,
    /// Where its forms are, for messages: `file, lines a–b`.
    pub(crate) place: String,
    /// Bytes of input read up to its end, over all sources.
    pub(crate) read_to: u64,
}

/// Cuts `sources` into batches of about `budget` bytes of text each
/// (whole forms; a form larger than the budget is a batch of its own) and
/// sends them in order; stops at the first bad form, sending its error.
/// Runs on a thread of its own: parsing overlaps applying and writing.
pub(crate) fn cut(sources: &[Source], budget: usize, out: &mpsc::Sender<Result<Batch, Error>>) {
    let mut cutter = Cutter {
        budget,
        out,
        number: 0,
        forms: Vec::new(),
        bytes: 0,
        base: 0,
        first_line: None,
        holds_schema: false,
        lines: Lines::default(),
    };
    for source in sources {
        cutter.lines = Lines::default();
        let read = match source.format {
            Format::Edn => cutter.edn(source),
            Format::JsonLines => cutter.json_lines(source),
        };
        let sent = read.and_then(|()| cutter.flush(source, source.text.len()));
        if let Err(e) = sent {
            // The receiver may have gone (the import failed): nothing to tell.
            let _ = out.blocking_send(Err(e));
            return;
        }
        cutter.base += source.text.len() as u64;
    }
}

struct Cutter<'a> {
    budget: usize,
    out: &'a mpsc::Sender<Result<Batch, Error>>,
    number: u64,
    forms: Vec<Edn>,
    /// Bytes of text of the forms held.
    bytes: usize,
    /// Bytes of the sources before the current one.
    base: u64,
    /// The line the held forms start on.
    first_line: Option<usize>,
    /// The held forms install attributes: the batch ends with their
    /// transaction of the input, since an attribute cannot be used in
    /// the transaction that installs it.
    holds_schema: bool,
    lines: Lines,
}

/// Error to stop cutting because the import went away.
const GONE: &str = "the import stopped";

impl Cutter<'_> {
    fn edn(&mut self, source: &Source) -> Result<(), Error> {
        let text = &source.text;
        let mut forms = TxForms::new(text);
        loop {
            let before = forms.offset();
            let item = forms
                .next_item()
                .map_err(|e| Error::Input(format!("{}: {e}", source.name)))?;
            match item {
                None => return Ok(()),
                Some(TxItem::EndOfTx) if self.holds_schema => {
                    self.flush(source, forms.offset())?;
                }
                Some(TxItem::EndOfTx) => {}
                Some(TxItem::Form(form)) => {
                    // Bytes count from the end of the previous item (the
                    // blanks and brackets between forms included), the
                    // lines from where the form starts.
                    let (start, end) = (forms.form_start(), forms.offset());
                    self.add(source, form, (before, start), end)?;
                }
            }
        }
    }

    fn json_lines(&mut self, source: &Source) -> Result<(), Error> {
        let mut offset = 0;
        for (i, line) in source.text.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += line.len();
            if line.trim().is_empty() {
                continue;
            }
            let at = |message: String| {
                Error::Input(format!("{}, line {}: {message}", source.name, i + 1))
            };
            let forms = match model::json::parse(line).map_err(|e| at(e.to_string()))? {
                Edn::Vector(forms) | Edn::List(forms) => forms,
                _ => return Err(at("a line must be a JSON array of tx data forms".into())),
            };
            let count = forms.len().max(1);
            for (k, form) in forms.into_iter().enumerate() {
                // The line's bytes, shared among its forms.
                let from = start + line.len() * k / count;
                let to = start + line.len() * (k + 1) / count;
                self.add(source, form, (from, from), to)?;
            }
            if self.holds_schema {
                self.flush(source, offset)?;
            }
        }
        Ok(())
    }

    /// Adds a form of the source's text that ends at `end`: its bytes
    /// count from `from`, and it starts at `start`.
    fn add(
        &mut self,
        source: &Source,
        form: Edn,
        (from, start): (usize, usize),
        end: usize,
    ) -> Result<(), Error> {
        if self.first_line.is_none() {
            self.first_line = Some(self.lines.at(&source.text, start));
        }
        self.holds_schema |= installs_attribute(&form);
        self.forms.push(form);
        self.bytes += end - from;
        match self.bytes >= self.budget {
            true => self.flush(source, end),
            false => Ok(()),
        }
    }

    /// Sends the held forms as a batch, `end` being where they end.
    fn flush(&mut self, source: &Source, end: usize) -> Result<(), Error> {
        if self.forms.is_empty() {
            return Ok(());
        }
        let first = self.first_line.take().unwrap_or(1);
        let last = self.lines.at(&source.text, end.saturating_sub(1));
        let place = match first == last {
            true => format!("{}, line {first}", source.name),
            false => format!("{}, lines {first}–{last}", source.name),
        };
        let batch = Batch {
            number: self.number,
            forms: std::mem::take(&mut self.forms),
            place,
            read_to: self.base + end as u64,
        };
        self.number += 1;
        self.bytes = 0;
        self.holds_schema = false;
        self.out
            .blocking_send(Ok(batch))
            .map_err(|_| Error::Input(GONE.into()))
    }
}

/// True for a map form that installs an attribute (`:db/valueType`).
fn installs_attribute(form: &Edn) -> bool {
    match form {
        Edn::Map(map) => map.contains_key(&Edn::keyword(":db/valueType")),
        _ => false,
    }
}

/// Line numbers of byte offsets that only move forward.
#[derive(Default)]
struct Lines {
    offset: usize,
    line: usize,
}

impl Lines {
    /// The 1-based line of byte `at` (at or after the last one asked).
    fn at(&mut self, text: &str, at: usize) -> usize {
        let at = at.min(text.len());
        if at > self.offset {
            let newlines = text.as_bytes()[self.offset..at]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines;
            self.offset = at;
        }
        self.line + 1
    }
}
