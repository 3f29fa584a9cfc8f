//! Storage URIs on any text: the parser never panics, and no password
//! written into a URI shows in what accrete prints of it — its Display and
//! Debug, or the error that refuses it. A password of at least four
//! characters counts as shown when the printed text holds it and the same
//! URI with another password of the same shape prints without it (so that text
//! which holds the password's characters anyway, around it or in the
//! message's own words, is no false alarm).
#![no_main]

use libfuzzer_sys::fuzz_target;
use storage_core::StorageUri;

/// Where the password of the URI's authority stands, as the parser and the
/// redaction find it: after `://`, before the first `/`, `?` or `#`, in the
/// userinfo before the last `@`, after the first `:`.
fn written_password(text: &str) -> Option<std::ops::Range<usize>> {
    let start = text.find("://")? + 3;
    let rest = &text[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let colon = userinfo.find(':')?;
    Some(start + colon + 1..start + userinfo.len())
}

/// Another password of the same shape as `secret`: each letter and digit
/// replaced by another of its class, `%` escapes and everything else kept.
/// The URI stays as valid as it was (the same characters where the parser
/// looks at them, the same bytes behind every escape), so its printed text
/// differs only where the password shows. Two false alarms shaped this: a
/// replacement by `PW` took a password's space away and turned "contains
/// whitespace" into another error, whose words lacked the "put: s" of
/// "invalid input: storage"; replacing the hex digits of `%72` made `%83`,
/// a byte that is not UTF-8, and another error again.
fn other_password(secret: &str) -> String {
    let mut out = String::with_capacity(secret.len());
    let mut escape = 0;
    for c in secret.chars() {
        if escape > 0 {
            escape -= 1;
            out.push(c);
            continue;
        }
        out.push(match c {
            '%' => {
                escape = 2;
                c
            }
            'a'..='y' | 'A'..='Y' | '0'..='8' => (c as u8 + 1) as char,
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            other => other,
        });
    }
    out
}

/// Everything accrete prints of `text` as a URI.
fn printed(text: &str) -> String {
    match StorageUri::parse(text) {
        Ok(uri) => {
            let _ = uri.require_db();
            let _ = uri.check_params(&["schema", "consistency"]);
            format!("{uri}\n{uri:?}")
        }
        Err(e) => e.to_string(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = accrete_fuzz::text(data) else {
        return;
    };
    let shown = printed(text);
    let Some(range) = written_password(text) else {
        return;
    };
    let secret = &text[range.clone()];
    if secret.len() < 4 || !shown.contains(secret) {
        return;
    }
    let without = format!(
        "{}{}{}",
        &text[..range.start],
        other_password(secret),
        &text[range.end..]
    );
    assert!(
        printed(&without).contains(secret),
        "{text:?} shows its password {secret:?}: {shown}"
    );
});
