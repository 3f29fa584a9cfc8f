//! The small things a newcomer tripped over (issue 21.5): what `help uris`
//! documents, shell completions, a mem:// database that is gone when its
//! command exits, and a `transact` that says what it waits for.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn help_uris_documents_every_backend_and_credential() {
    for args in [&["help", "uris"][..], &["uris"][..]] {
        let out = accrete(args, "");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let text = stdout(&out);
        for needle in [
            "mem://",
            "file:///ABS/PATH?db=DB",
            "sslrootcert",
            "PGPASSWORD",
            "table_prefix",
            "ACCRETE_CASSANDRA_PASSWORD_FILE",
            "ACCRETE_TOKEN",
            "ACCRETE_TLS_CA",
        ] {
            assert!(
                text.contains(needle),
                "{needle} missing from {args:?}:\n{text}"
            );
        }
    }
}

#[test]
fn completions_for_each_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        // Scripts are larger than a pipe holds: `output` reads as it goes.
        let out = std::process::Command::new(ACCRETE)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let script = stdout(&out);
        for command in ["transactor", "list-dbs", "metrics-listen"] {
            assert!(script.contains(command), "{shell}: no {command}");
        }
    }
    let out = accrete(&["completions", "tcsh"], "");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

#[test]
fn a_mem_database_is_said_to_vanish_with_its_process() {
    let out = accrete(&["create-db", "mem://x"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("created database x"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("gone now that this command exits"),
        "{}",
        stderr(&out)
    );
    let out = accrete(&["create-db", "file:data?db=x"], "");
    assert_eq!(stderr(&out), "", "a lasting storage gets no note");
}

#[test]
fn transact_says_what_it_waits_for_after_a_transactor_crash() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "x");
    ok(&["create-db", &uri], "");
    let mut holder = TransactorProcess::start(&uri, &["--lease-ttl", "60"]);
    holder.wait_active(&uri);
    holder.kill9();
    let out = accrete(
        &["transact", &uri, "--lease-wait", "2"],
        "[{:db/ident :n/v :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]",
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let err = stderr(&out);
    let note = err
        .lines()
        .find(|l| l.starts_with("accrete transact: "))
        .unwrap_or_else(|| panic!("no note of the wait:\n{err}"));
    assert!(note.contains(&holder.endpoint), "{note}");
    assert!(note.contains("does not answer"), "{note}");
    assert!(note.contains("lease to lapse (ttl 60s)"), "{note}");
    assert!(
        err.lines().last().unwrap().starts_with("accrete: "),
        "{err}"
    );
}
