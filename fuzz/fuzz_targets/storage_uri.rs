//! Storage URIs on any text: the parser never panics, and no password
//! written into a URI shows in what accrete prints of it — its Display and
//! Debug, or the error that refuses it (a password of at least four
//! characters, without a `*`, that the URI holds once; shorter ones may
//! coincide with other text, and `***` is what replaces a password).
#![no_main]

use libfuzzer_sys::fuzz_target;
use storage_core::StorageUri;

/// The password of the URI's authority as written, as the parser and the
/// redaction find it: after `://`, before the first `/`, `?` or `#`, in the
/// userinfo before the last `@`, after the first `:`.
fn written_password(text: &str) -> Option<&str> {
    let start = text.find("://")? + 3;
    let rest = &text[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(userinfo.split_once(':')?.1)
}

fn assert_hidden(secret: &str, text: &str, printed: &str, what: &str) {
    // A "password" with a `*` may be made of the redaction's own `***`.
    if secret.len() >= 4 && !secret.contains('*') && text.matches(secret).count() == 1 {
        assert!(
            !printed.contains(secret),
            "{what} of {text:?} shows the password {secret:?}: {printed}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = accrete_fuzz::text(data) else {
        return;
    };
    let written = written_password(text);
    match StorageUri::parse(text) {
        Ok(uri) => {
            let shown = [uri.to_string(), format!("{uri:?}")];
            for printed in &shown {
                if let Some(p) = written {
                    assert_hidden(p, text, printed, "the URI");
                }
                if let Some(p) = uri.password() {
                    let p = p.expose();
                    if p.len() >= 4 && !text.contains(p) {
                        assert!(!printed.contains(p), "{text:?} shows its decoded password");
                    }
                }
            }
            let _ = uri.require_db();
            let _ = uri.check_params(&["schema", "consistency"]);
        }
        Err(e) => {
            if let Some(p) = written {
                assert_hidden(p, text, &e.to_string(), "the error");
            }
        }
    }
});
