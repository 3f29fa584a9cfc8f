//! The EDN reader and printer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use model::Error;
use model::edn::{self, Edn, Instant};

fn round_trip(text: &str) -> String {
    let value = edn::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let printed = value.to_string();
    assert_eq!(edn::parse(&printed).unwrap(), value, "re-reading {printed}");
    printed
}

fn syntax_error(text: &str) -> (usize, usize, String) {
    match edn::parse_all(text) {
        Err(Error::Syntax {
            line,
            column,
            message,
        }) => (line, column, message),
        other => panic!("expected a syntax error for {text:?}, got {other:?}"),
    }
}

#[test]
fn scalars() {
    assert_eq!(round_trip("nil"), "nil");
    assert_eq!(round_trip("true"), "true");
    assert_eq!(round_trip("-42"), "-42");
    assert_eq!(round_trip("+7"), "7");
    assert_eq!(round_trip("42N"), "42N");
    assert_eq!(
        round_trip("123456789012345678901234567890"),
        "123456789012345678901234567890N"
    );
    assert_eq!(round_trip("1.5"), "1.5");
    assert_eq!(round_trip("1e3"), "1000.0");
    assert_eq!(round_trip("2.50M"), "2.50M");
    assert_eq!(round_trip("##Inf"), "##Inf");
    assert_eq!(edn::parse("##NaN").unwrap().to_string(), "##NaN");
    assert_eq!(
        round_trip(r#""tab\there \"q\" \\ \u00e9""#),
        "\"tab\\there \\\"q\\\" \\\\ é\""
    );
    assert_eq!(round_trip(r"\a"), r"\a");
    assert_eq!(round_trip(r"\newline"), r"\newline");
    assert_eq!(round_trip(r"\u0041"), r"\A");
    assert_eq!(round_trip(":db/ident"), ":db/ident");
    assert_eq!(round_trip("?e"), "?e");
    assert_eq!(round_trip("$"), "$");
    assert_eq!(round_trip("..."), "...");
    assert_eq!(round_trip("clojure.core/+"), "clojure.core/+");
}

#[test]
fn collections_and_tags() {
    assert_eq!(
        round_trip("[1 (2 3) {:a 1, :b [4]} #{5 6}]"),
        "[1 (2 3) {:a 1, :b [4]} #{5 6}]"
    );
    assert_eq!(
        round_trip("#db/id [:db.part/user -1]"),
        "#db/id [:db.part/user -1]"
    );
    assert_eq!(
        round_trip("#db/id[:db.part/user]"),
        "#db/id [:db.part/user]"
    );
    assert_eq!(
        round_trip(r#"#inst "2012""#),
        r#"#inst "2012-01-01T00:00:00.000-00:00""#
    );
    assert_eq!(
        edn::parse(r#"#inst "2012""#).unwrap(),
        Edn::Inst(Instant::parse("2012").unwrap())
    );
    assert_eq!(
        round_trip(r#"#uuid "0b5e2a48-0c3c-4a0e-9e1f-1c2d3e4f5a6b""#),
        r#"#uuid "0b5e2a48-0c3c-4a0e-9e1f-1c2d3e4f5a6b""#
    );
    assert_eq!(round_trip("#my/tag {:x 1}"), "#my/tag {:x 1}");
}

#[test]
fn comments_commas_and_discard() {
    let forms =
        edn::parse_all("; a comment\n[1, 2 #_ 3 4] ; trailing\n#_ {:gone 1} :kept").unwrap();
    assert_eq!(
        forms,
        vec![edn::parse("[1 2 4]").unwrap(), Edn::keyword("kept")]
    );
    let query = edn::parse("[:find ?e :in $ [?email ...] :where [?e :user/email ?email]]").unwrap();
    assert_eq!(query.as_sequence().unwrap().len(), 7);
}

#[test]
fn maps_and_sets_compare_by_content() {
    assert_eq!(
        edn::parse("{:a 1 :b 2}").unwrap(),
        edn::parse("{:b 2, :a 1}").unwrap()
    );
    assert_eq!(edn::parse("#{1 2}").unwrap(), edn::parse("#{2 1}").unwrap());
    assert_ne!(edn::parse("[1 2]").unwrap(), edn::parse("(1 2)").unwrap());
}

#[test]
fn errors_give_line_and_column() {
    assert_eq!(
        syntax_error("[1 2\n 3"),
        (2, 3, "end of text, expected ']'".into())
    );
    assert_eq!(syntax_error("\n  )").0, 2);
    assert_eq!(syntax_error("\n  )").1, 3);
    let (line, column, message) = syntax_error("[:a\n  #inst \"2012-13-01\"]");
    assert_eq!((line, column), (2, 3));
    assert!(message.contains("bad #inst"), "{message}");
    assert!(
        syntax_error("{:a 1 :a 2}")
            .2
            .contains("duplicate map key :a")
    );
    assert!(syntax_error("#{1 1}").2.contains("duplicate set element 1"));
    assert!(syntax_error("{:a}").2.contains("even number"));
    assert!(syntax_error("\"open").2.contains("inside a string"));
    assert!(syntax_error(r#""\q""#).2.contains("unknown escape"));
    assert!(syntax_error("#uuid \"nope\"").2.contains("bad #uuid"));
    assert!(syntax_error("1.2.3").2.contains("bad number"));
    assert!(syntax_error("::a").2.contains("bad keyword"));
    assert!(
        syntax_error("[1 #_]")
            .2
            .contains("expected a value after #_")
    );
    assert!(
        syntax_error("##Whatever")
            .2
            .contains("unknown symbolic value")
    );
    let deep = "[".repeat(300) + &"]".repeat(300);
    assert!(syntax_error(&deep).2.contains("nesting deeper than"));
    let e = edn::parse("1 2").unwrap_err();
    assert!(
        e.to_string().starts_with("EDN syntax error at line 1"),
        "{e}"
    );
    assert!(edn::parse("").is_err());
}

/// A `#_` discard may stand wherever a blank may, also last in a
/// collection or in the text (issue 25: `[1 #_ 2]` was refused with
/// "nothing left after #_ discard").
#[test]
fn discard_before_a_closing_bracket_or_the_end() {
    let p = |t: &str| edn::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
    assert_eq!(p("[1 #_ 2]"), p("[1]"));
    assert_eq!(p("{:a 1 #_ :b}"), p("{:a 1}"));
    assert_eq!(p("(#_ x)"), p("()"));
    assert_eq!(p("#_ #_ 1 2 3"), p("3"));
    assert_eq!(p("1 #_ 2"), p("1"));
    assert_eq!(p("#{1 #_ 1}"), p("#{1}"));
    assert_eq!(p("#my/tag #_ 1 2"), p("#my/tag 2"));
    assert_eq!(edn::parse_all("#_ 1").unwrap(), vec![]);
    assert!(
        syntax_error("[1 #_]")
            .2
            .contains("expected a value after #_")
    );
    assert!(syntax_error("#_").2.contains("end of text after #_"));
    let deep = "#_ ".repeat(300) + "1";
    assert!(syntax_error(&deep).2.contains("nesting deeper than"));
}

/// Printing then reading gives back every value the reader reads, also
/// decimals of far apart scales and instants beyond the years 0000–9999
/// (issue 25, found by fuzzing).
#[test]
fn extreme_decimals_and_instants_round_trip() {
    for text in [
        "1e-999999999M",
        "#{1M 1e-999999999M -1e999999999M}",
        "0.000000123M",
        r#"#inst "0000-01-01T00:00+01:00""#,
        r#"#inst "9999-12-31T23:59-01:00""#,
        r#"#inst "-0001-12-31T23:00:00.000-00:00""#,
        r#"#inst "+10000-01-01T00:59:00.000-00:00""#,
    ] {
        round_trip(text);
    }
}

/// Strings and tokens are read by bytes, not characters: lines and
/// columns after multi-line strings, multibyte characters and escapes
/// still count characters, and escapes at the start, middle and end of a
/// string read as before.
#[test]
fn positions_after_strings_and_multibyte_text_count_characters() {
    let s = |text: &str| match edn::parse(text).unwrap() {
        Edn::String(s) => s.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(s(r#""\nab\"cd\\""#), "\nab\"cd\\");
    assert_eq!(s(r#""""#), "");
    assert_eq!(s("\"é\u{1F600}\\t\""), "é\u{1F600}\t");
    // Two lines inside a string, then ten characters (two of them
    // multibyte) before the error.
    let (line, column, message) = syntax_error("[\"a\nb\nçé\" :k/é ]]");
    assert_eq!((line, column), (3, 11), "{message}");
    // An unterminated string fails at the end of the text.
    let (line, column, _) = syntax_error("\"ab\nçd");
    assert_eq!((line, column), (2, 3));
    // A token with a multibyte character, then a bad token.
    let (line, column, message) = syntax_error("[:ä/ö 1.2.3]");
    assert_eq!((line, column), (1, 7), "{message}");
    assert!(message.contains("bad number"), "{message}");
    // The same keyword read twice is one value.
    assert_eq!(
        edn::parse("[:a/b :a/b]").unwrap(),
        Edn::Vector(vec![Edn::keyword("a/b"), Edn::keyword("a/b")])
    );
}
