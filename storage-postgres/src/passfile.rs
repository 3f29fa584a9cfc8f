//! The libpq password file (`~/.pgpass`, `PGPASSFILE`, `passfile=`):
//! lines of `hostname:port:database:username:password`, where `*` matches
//! anything, `\:` and `\\` escape, and `#` starts a comment line.

use std::path::Path;

/// What a password lookup is matched against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) database: &'a str,
    pub(crate) user: &'a str,
}

/// Why a password file was not used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PassfileError {
    #[error("cannot read password file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "password file {path} is readable by group or others (mode {mode:o}); like libpq, accrete only uses it with permissions u=rw (0600) or less"
    )]
    TooOpen { path: String, mode: u32 },
}

/// The password of the first line of the file at `path` that matches
/// `target`; `Ok(None)` when the file does not exist or nothing matches.
pub(crate) fn lookup(path: &Path, target: Target<'_>) -> Result<Option<String>, PassfileError> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PassfileError::Read {
                path: shown,
                source,
            });
        }
    };
    check_mode(&meta, &shown)?;
    let text = std::fs::read_to_string(path).map_err(|source| PassfileError::Read {
        path: shown.clone(),
        source,
    })?;
    Ok(find(&text, target))
}

#[cfg(unix)]
fn check_mode(meta: &std::fs::Metadata, shown: &str) -> Result<(), PassfileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if meta.is_file() && mode & 0o077 != 0 {
        return Err(PassfileError::TooOpen {
            path: shown.to_string(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_: &std::fs::Metadata, _: &str) -> Result<(), PassfileError> {
    Ok(())
}

/// The password of the first line of `text` matching `target`.
pub(crate) fn find(text: &str, target: Target<'_>) -> Option<String> {
    let port = target.port.to_string();
    let wanted = [target.host, &port, target.database, target.user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(split_fields)
        .find(|fields| {
            fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want)
        })
        .map(|mut fields| fields.swap_remove(4))
}

/// The five fields of a line, unescaped; `None` for a malformed line.
fn split_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    (fields.len() == 5).then_some(fields)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn target(host: &str) -> Target<'_> {
        Target {
            host,
            port: 5432,
            database: "accrete",
            user: "app",
        }
    }

    #[test]
    fn matches_fields_wildcards_and_escapes() {
        let text = "\
# a comment:*:*:*:nope
other:5432:accrete:app:wrong-host
db1:5432:accrete:app:pa\\:ss\\\\word
*:*:*:app:fallback
malformed line
";
        assert_eq!(find(text, target("db1")).unwrap(), "pa:ss\\word");
        assert_eq!(find(text, target("db2")).unwrap(), "fallback");
        let mut other_user = target("db1");
        other_user.user = "someone";
        assert_eq!(find(text, other_user), None);
        let t = Target {
            host: "h",
            port: 5432,
            database: "d",
            user: "u",
        };
        assert_eq!(find("h:5432:d:u:has:colons", t).unwrap(), "has:colons");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_open_permissions_and_ignores_missing_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("accrete-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pgpass");
        std::fs::write(&path, "*:*:*:*:secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = lookup(&path, target("h")).unwrap_err().to_string();
        assert!(err.contains("0600") && err.contains("644"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(&path, target("h")).unwrap().unwrap(), "secret");
        assert!(lookup(&dir.join("missing"), target("h")).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
