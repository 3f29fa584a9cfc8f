//! The customer story (issue 19), with real `accrete` processes: the
//! clinic/physician/patient/group/share authorization model of
//! `examples/customer`, its rules as commit-time checks (`:db/ensure`
//! specs whose predicates are Datalog queries over the rules), and
//! transaction functions installed as data, run by a standalone
//! `accrete transactor --auth` for clients of `accrete transact` who
//! authenticate with tokens, on file and on PostgreSQL storage.
//! `ACCRETE_BLESS=1` rewrites `examples/customer/install.edn` from its
//! sources.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use model::edn::Edn;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/customer")
}

/// The functions of the example: ident and source file.
const FUNCTIONS: [(&str, &str); 2] = [
    (":resource/create", "functions/resource-create.rhai"),
    (":group/create-shared", "functions/group-create-shared.rhai"),
];

/// The tx data installing the rules and the functions, built from their
/// sources (what `install.edn` holds).
fn install_tx() -> String {
    let read = |file: &str| std::fs::read_to_string(example().join(file)).unwrap();
    let entity = |ident: &str, attr: &str, text: String| {
        Edn::Map(
            [
                (Edn::keyword(":db/ident"), Edn::keyword(ident)),
                (Edn::keyword(attr), Edn::String(text.into())),
            ]
            .into_iter()
            .collect(),
        )
    };
    let mut forms = vec![entity(":auth/rules", ":db/rules", read("rules.edn"))];
    for (ident, file) in FUNCTIONS {
        forms.push(entity(ident, ":db/fn", read(file)));
    }
    let mut text = String::from(
        ";; Generated from rules.edn and functions/*.rhai by cli/tests/customer.rs\n;; (ACCRETE_BLESS=1 cargo test -p cli --test customer): do not edit.\n[",
    );
    for (i, form) in forms.iter().enumerate() {
        if i > 0 {
            text.push_str("\n ");
        }
        text.push_str(&form.to_string());
    }
    text.push_str("]\n");
    text
}

#[test]
fn install_edn_is_built_from_its_sources() {
    let path = example().join("install.edn");
    let built = install_tx();
    if std::env::var("ACCRETE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &built).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == built,
        "examples/customer/install.edn is out of date: run ACCRETE_BLESS=1 cargo test -p cli --test customer"
    );
}

/// The database at `uri`, set up as the example says, served by a
/// standalone transactor with authentication, and a token per user.
struct Clinic {
    dir: tempfile::TempDir,
    uri: String,
    _transactor: TransactorProcess,
    tokens: Vec<(String, String)>,
}

impl Clinic {
    async fn open(uri: String) -> Clinic {
        ok(&["create-db", &uri], "");
        for file in ["schema.edn", "install.edn", "specs.edn", "data.edn"] {
            let path = example().join(file);
            ok(&["transact", &uri, path.to_str().unwrap()], "");
        }
        // A long lease: a loaded test machine must not make it lapse.
        let transactor = TransactorProcess::start(&uri, &["--auth", "--lease-ttl", "10"]);
        transactor.until_active(&uri).await;
        // Cuddy runs the clinic and its database: she alone may change
        // the functions, specs and rules (the admin role); the others write.
        let tokens = [
            ("cuddy", "admin"),
            ("house", "write"),
            ("wilson", "write"),
            ("pat", "write"),
        ]
        .iter()
        .map(|(name, role)| {
            let out = ok(
                &["token", "create", &uri, "--name", name, "--role", role],
                "",
            );
            (name.to_string(), out.trim().to_string())
        })
        .collect();
        Clinic {
            dir: tempfile::tempdir().unwrap(),
            uri,
            _transactor: transactor,
            tokens,
        }
    }

    /// `accrete transact` of `tx` as user `who` (with their token).
    fn transact_as(&self, who: &str, tx: &str) -> Output {
        let token = &self.tokens.iter().find(|(n, _)| n == who).unwrap().1;
        let file = self
            .dir
            .path()
            .join(format!("tx-{}.edn", uuid::Uuid::new_v4()));
        std::fs::write(&file, tx).unwrap();
        accrete_env(
            &[
                "transact",
                &self.uri,
                file.to_str().unwrap(),
                "--lease-wait",
                "5",
            ],
            &[("ACCRETE_TOKEN", token)],
        )
    }

    fn committed(&self, who: &str, tx: &str) -> String {
        let out = self.transact_as(who, tx);
        assert_eq!(code(&out), 0, "{who}: {tx}\n{}", stderr(&out));
        stdout(&out)
    }

    /// Asserts `who`'s `tx` was refused with a message saying each of `says`.
    fn refused(&self, who: &str, tx: &str, says: &[&str]) -> String {
        let out = self.transact_as(who, tx);
        let err = stderr(&out);
        assert_ne!(code(&out), 0, "{who} committed {tx}");
        for s in says {
            assert!(err.contains(s), "stderr lacks {s:?}: {err}");
        }
        err
    }

    /// `accrete q` with `args` (and the example's rules when it takes `%`).
    fn q(&self, query: &str, args: &[&str], history: bool) -> String {
        let rules = example().join("rules.edn");
        let mut argv = vec!["q", &self.uri, query];
        argv.extend_from_slice(args);
        if query.contains(" % ") {
            argv.extend(["--rules", rules.to_str().unwrap()]);
        }
        if history {
            argv.push("--history");
        }
        ok(&argv, "")
    }

    /// The names of the resources `who` may `access` (`can-read`, `can-write`).
    fn may(&self, who: &str, access: &str) -> String {
        let query = format!(
            "[:find [?n ...] :in $ % ?who :where [?u :user/principal ?who] [?r :resource/name ?n] ({access} ?u ?r)]"
        );
        self.q(&query, &[&format!("\"{who}\"")], false)
            .trim()
            .to_string()
    }
}

async fn story(uri: String) {
    let clinic = Clinic::open(uri).await;
    let lab = r#"[[:resource/create {:resource/name "pat/lab-1" :resource/parent [:resource/name "pat/record"] :resource/text "CBC normal"}]]"#;

    // House, a physician, reads Pat's record but may not write it: the
    // spec refuses what he would create there, naming spec, entity and
    // predicate, and nothing is committed.
    assert_eq!(
        clinic.may("house", "can-read"),
        r#"["pat/history" "pat/record"]"#
    );
    clinic.refused(
        "house",
        lab,
        &[
            ":db.error/entity-pred",
            "fails spec :resource/created-by-writer",
            "predicate :resource.pred/creator-can-write does not hold",
            ":resource/create",
        ],
    );
    assert_eq!(
        clinic.may("house", "can-read"),
        r#"["pat/history" "pat/record"]"#
    );

    // House cannot give himself write access: the function checks that
    // whoever shares holds the access being shared.
    clinic.refused(
        "house",
        r#"[[:group/create-shared "house/active" :group.access/write ["house"] [[:resource/name "pat/record"]]]]"#,
        &[
            ":group/create-shared failed",
            "house may not share",
            "needs can-write",
        ],
    );
    // Cuddy, the administrator, can: the group and its members appear at
    // once, in one transaction.
    clinic.committed(
        "cuddy",
        r#"[[:group/create-shared "house/active" :group.access/write ["house"] [[:resource/name "pat/record"]]]]"#,
    );
    assert_eq!(
        clinic.q(
            r#"[:find ?owner ?member :where [?g :group/name "house/active"] [?g :group/owner ?o] [?o :user/principal ?owner] [?g :group/member ?m] [?m :user/principal ?member]]"#,
            &[],
            false
        )
        .trim(),
        r#"["cuddy" "house"]"#
    );
    // Now House's lab result commits, with him as its creator.
    clinic.committed("house", lab);
    assert_eq!(
        clinic
            .q(
                r#"[:find ?who . :where [?r :resource/name "pat/lab-1"] [?r :resource/creator ?u] [?u :user/principal ?who]]"#,
                &[],
                false
            )
            .trim(),
        "\"house\""
    );

    // Pat shares the lab result (not the whole record) with Wilson, who
    // works elsewhere: he then reads that and nothing else.
    assert_eq!(clinic.may("wilson", "can-read"), "[]");
    clinic.committed(
        "pat",
        r#"[[:group/create-shared "pat/share-wilson" :group.access/read ["wilson"] [[:resource/name "pat/lab-1"]]]]"#,
    );
    assert_eq!(clinic.may("wilson", "can-read"), r#"["pat/lab-1"]"#);
    assert_eq!(clinic.may("wilson", "can-write"), "[]");
    // Reading is not writing: Wilson cannot add under it, nor reshare it
    // for writing.
    clinic.refused(
        "wilson",
        r#"[[:resource/create {:resource/name "pat/lab-1/note" :resource/parent [:resource/name "pat/lab-1"]}]]"#,
        &["fails spec :resource/created-by-writer"],
    );
    clinic.refused(
        "wilson",
        r#"[[:group/create-shared "wilson/more" :group.access/write ["wilson"] [[:resource/name "pat/lab-1"]]]]"#,
        &["wilson may not share"],
    );
    // Required attributes: a resource without its creator fails the spec.
    clinic.refused(
        "pat",
        r#"[{:resource/name "pat/diary" :resource/parent [:resource/name "pat/record"] :db/ensure :resource/created-by-writer}]"#,
        &[
            ":db.error/entity-attrs",
            "fails spec :resource/created-by-writer",
            "required attribute :resource/creator",
        ],
    );
    // The creator gets write access in the same transaction: Pat creates
    // a record of her own and its first entry at once.
    clinic.committed(
        "pat",
        r#"[{:db/id "r2" :resource/name "pat/record-2" :resource/owner [:user/principal "pat"]}
            [:resource/create {:resource/name "pat/record-2/entry" :resource/parent "r2"}]]"#,
    );

    // Functions are data: Cuddy changes one, and history says who changed
    // it and when. A writer may not: whoever could change the code or the
    // specs could switch off the checks that bind writers.
    let v2 = std::fs::read_to_string(example().join("functions/resource-create.rhai"))
        .unwrap()
        .replace("needs the principal", "needs the principal (v2)");
    let needs_admin = "which needs the admin role";
    clinic.refused(
        "pat",
        r#"[{:db/ident :resource/create :db/fn "fn main(db, r) { [r] }"}]"#,
        &["`pat` may not commit", "(:db/fn)", needs_admin],
    );
    clinic.refused(
        "house",
        r#"[[:db/retract :resource/created-by-writer :db.entity/preds :resource.pred/creator-can-write]]"#,
        &["`house` may not commit", needs_admin],
    );
    clinic.committed(
        "cuddy",
        &format!(
            "[{{:db/ident :resource/create :db/fn {}}}]",
            Edn::String(v2.into())
        ),
    );
    let versions = clinic.q(
        "[:find ?who ?added :where [?f :db/ident :resource/create] [?f :db/fn _ ?tx ?added] [?tx :tx/principal ?who] [?tx :db/txInstant _]]",
        &[],
        true,
    );
    assert!(versions.contains(r#"["cuddy" true]"#), "{versions}");
    assert!(versions.contains(r#"["cuddy" false]"#), "{versions}");
    assert!(versions.contains("local"), "{versions}");

    // A function over its limits fails only its own transaction: the
    // transactor goes on serving the next one.
    clinic.committed(
        "cuddy",
        r#"[{:db/ident :evil/spin :db/fn "fn main(db) { loop { } }"}
            {:db/ident :evil/recurse :db/fn "fn main(db) { main(db) }"}
            {:db/ident :evil/hog :db/fn "fn main(db) { let s = \"x\"; loop { s += s; } }"}]"#,
    );
    for (call, says) in [
        ("[[:evil/spin]]", "over its limit of 1000000 operations"),
        ("[[:evil/recurse]]", "over its recursion limit"),
        ("[[:evil/hog]]", "over its memory limit"),
    ] {
        clinic.refused("cuddy", call, &[says]);
    }
    clinic.committed(
        "pat",
        r#"[[:resource/create {:resource/name "pat/record-2/after" :resource/parent [:resource/name "pat/record-2"]}]]"#,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_customer_story_on_file_storage() {
    let dir = tempfile::tempdir().unwrap();
    story(file_uri(dir.path(), "clinic")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_customer_story_on_postgres_storage() {
    story(postgres_uri("clinic").await).await;
}
