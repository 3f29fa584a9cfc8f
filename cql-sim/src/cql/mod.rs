//! The CQL subset: lexer, statement AST and parser.

pub(crate) mod ast;
mod lexer;
mod parser;

pub(crate) use parser::parse;

#[cfg(test)]
mod tests;
