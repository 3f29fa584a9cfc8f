//! Scenario §6: authorization by recursive rules (the health-care
//! customer story). Clinic administrators write every resource of the
//! clinic's accounts; physicians read them and write only their active
//! patients' resources, granted through a group; a patient shares part of
//! their record with another user through a lightweight group; resources
//! form a hierarchy, so sharing a parent shares its children. A
//! transaction function makes sure the creator of a resource can write it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::edn::Edn;
use model::{Db, TxErrorKind, TxFunctions};
use query::{Input, Rules};
use std::collections::BTreeSet;
use std::sync::Arc;

const SCHEMA: &str = r#"[
 {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :clinic/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :clinic/admins :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :clinic/physicians :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :clinic/accounts :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :account/owner :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :account/resources :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :resource/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :resource/parent :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :resource/creator :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :group/owner :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :group/members :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :group/contains :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :group/access :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
]"#;

/// The authorization model as rules. `holds`: a container (account or
/// group) holds a resource directly or through an account it contains;
/// `under`: a resource is its top or below it; a grant through a group
/// counts only when the group's owner may write the resource.
const RULES: &str = r#"[
 [(holds ?c ?r) [?c :account/resources ?r]]
 [(holds ?c ?r) [?c :group/contains ?r] [?r :resource/name]]
 [(holds ?c ?r) [?c :group/contains ?acct] [?acct :account/resources ?r]]
 [(under ?r ?top) [?top :resource/name] [(identity ?top) ?r]]
 [(under ?r ?top) [?child :resource/parent ?top] (under ?r ?child)]
 [(covers ?c ?r) (holds ?c ?top) (under ?r ?top)]
 [(can-write ?u ?r) [?clinic :clinic/admins ?u] [?clinic :clinic/accounts ?acct] (covers ?acct ?r)]
 [(can-write ?u ?r) [?acct :account/owner ?u] (covers ?acct ?r)]
 [(can-write ?u ?r) [?r :resource/creator ?u]]
 [(can-write ?u ?r) [?g :group/members ?u] [?g :group/access :access/write] (covers ?g ?r)
                    [?g :group/owner ?o] (can-write ?o ?r)]
 [(can-read ?u ?r) (can-write ?u ?r)]
 [(can-read ?u ?r) [?clinic :clinic/physicians ?u] [?clinic :clinic/accounts ?acct] (covers ?acct ?r)]
 [(can-read ?u ?r) [?g :group/members ?u] [?g :group/access :access/read] (covers ?g ?r)
                   [?g :group/owner ?o] (can-write ?o ?r)]
]"#;

fn rules() -> Input {
    Input::Rules(Arc::new(Rules::parse(RULES).unwrap()))
}

fn clinic() -> Db {
    let db = tx(&Db::new(), SCHEMA).db_after;
    tx(
        &db,
        r#"[{:db/id "ada" :user/name "ada"} {:db/id "phil" :user/name "phil"}
            {:db/id "pat" :user/name "pat"} {:db/id "quinn" :user/name "quinn"}
            {:db/id "fred" :user/name "fred"} {:db/id "olga" :user/name "olga"}
            {:db/id "pat-record" :resource/name "pat-record"}
            {:db/id "pat-labs" :resource/name "pat-labs" :resource/parent "pat-record"}
            {:db/id "pat-labs-2024" :resource/name "pat-labs-2024" :resource/parent "pat-labs"}
            {:db/id "pat-notes" :resource/name "pat-notes" :resource/parent "pat-record"}
            {:db/id "quinn-record" :resource/name "quinn-record"}
            {:db/id "quinn-labs" :resource/name "quinn-labs" :resource/parent "quinn-record"}
            {:db/id "acct-pat" :account/owner "pat" :account/resources ["pat-record"]}
            {:db/id "acct-quinn" :account/owner "quinn" :account/resources ["quinn-record"]}
            {:db/id "clinic" :clinic/name "North" :clinic/admins ["ada"] :clinic/physicians ["phil"]
             :clinic/accounts ["acct-pat" "acct-quinn"]}
            {:db/id "active" :group/owner "ada" :group/members ["phil"] :group/access :access/write
             :group/contains ["acct-pat"]}
            {:db/id "share" :group/owner "pat" :group/members ["fred"] :group/access :access/read
             :group/contains ["pat-labs"]}
            {:db/id "bogus" :group/owner "olga" :group/members ["olga" "fred"] :group/access :access/write
             :group/contains ["quinn-record"]}]"#,
    )
    .db_after
}

/// The resources `user` may `access` (can-read or can-write), by name.
fn allowed(db: &Db, access: &str, user: &str) -> BTreeSet<String> {
    let query = format!(
        "[:find [?name ...] :in $ % ?user :where [?u :user/name ?user] ({access} ?u ?r) [?r :resource/name ?name]]"
    );
    let found = q(&query, &[Input::Db(db.clone()), rules(), val(user)]);
    found
        .column(0)
        .iter()
        .map(|f| f.as_value().unwrap().as_str().unwrap().to_string())
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const PAT: [&str; 4] = ["pat-record", "pat-labs", "pat-labs-2024", "pat-notes"];
const QUINN: [&str; 2] = ["quinn-record", "quinn-labs"];

fn all_resources() -> BTreeSet<String> {
    PAT.iter()
        .chain(QUINN.iter())
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn a_clinic_administrator_writes_every_resource_of_its_accounts() {
    let db = clinic();
    assert_eq!(allowed(&db, "can-write", "ada"), all_resources());
    assert_eq!(allowed(&db, "can-read", "ada"), all_resources());
}

#[test]
fn a_physician_reads_everything_and_writes_only_active_patients() {
    let db = clinic();
    assert_eq!(allowed(&db, "can-read", "phil"), all_resources());
    assert_eq!(allowed(&db, "can-write", "phil"), names(&PAT));
    // Pat is no longer an active patient: the group no longer grants.
    let group = q(
        "[:find ?g . :where [?g :group/members ?p] [?p :user/name \"phil\"]]",
        &[db_of(&db)],
    )
    .scalar()
    .unwrap()
    .as_entity()
    .unwrap();
    let account = q(
        "[:find ?a . :where [?a :account/owner ?p] [?p :user/name \"pat\"]]",
        &[db_of(&db)],
    )
    .scalar()
    .unwrap()
    .as_entity()
    .unwrap();
    let after = tx(
        &db,
        &format!("[[:db/retract {group} :group/contains {account}]]"),
    );
    let after = after.db_after;
    assert!(allowed(&after, "can-write", "phil").is_empty());
    assert_eq!(allowed(&after, "can-read", "phil"), all_resources());
}

fn db_of(db: &Db) -> Input {
    Input::Db(db.clone())
}

#[test]
fn patients_write_their_own_records() {
    let db = clinic();
    assert_eq!(allowed(&db, "can-write", "pat"), names(&PAT));
    assert_eq!(allowed(&db, "can-write", "quinn"), names(&QUINN));
    assert_eq!(allowed(&db, "can-read", "quinn"), names(&QUINN));
}

#[test]
fn sharing_a_parent_through_a_lightweight_group_shares_its_children() {
    let db = clinic();
    assert_eq!(
        allowed(&db, "can-read", "fred"),
        names(&["pat-labs", "pat-labs-2024"])
    );
    assert!(allowed(&db, "can-write", "fred").is_empty());
    // A group whose owner cannot write the resource grants nothing.
    assert!(allowed(&db, "can-read", "olga").is_empty());
}

#[test]
fn who_may_read_a_resource() {
    let db = clinic();
    let found = q(
        "[:find [?user ...] :in $ % ?name :where [?r :resource/name ?name] (can-read ?u ?r) [?u :user/name ?user]]",
        &[db_of(&db), rules(), val("pat-labs-2024")],
    );
    let users: BTreeSet<String> = found
        .column(0)
        .iter()
        .map(|f| f.as_value().unwrap().as_str().unwrap().to_string())
        .collect();
    assert_eq!(users, names(&["ada", "phil", "pat", "fred"]));
}

#[test]
fn the_whole_access_relation_agrees_with_the_per_user_answers() {
    let db = clinic();
    let found = q(
        "[:find ?user ?name :in $ % :where (can-write ?u ?r) [?u :user/name ?user] [?r :resource/name ?name]]",
        &[db_of(&db), rules()],
    );
    let mut expected = BTreeSet::new();
    for user in ["ada", "phil", "pat", "quinn", "fred", "olga"] {
        for name in allowed(&db, "can-write", user) {
            expected.insert(vec![Edn::string(user), Edn::string(&name)]);
        }
    }
    assert_eq!(rows(&found).into_iter().collect::<BTreeSet<_>>(), expected);
    assert_eq!(found.len(), 6 + 4 + 4 + 2);
}

/// `[:auth/create creator name parent]`: creates a resource under `parent`
/// and makes sure its creator can write it: when the creator cannot write
/// the parent (so would not inherit the right), the resource records its
/// creator. An unknown creator aborts the transaction.
fn tx_functions() -> TxFunctions {
    let mut fns = TxFunctions::new();
    fns.register(
        ":auth/create",
        Arc::new(|db: &Db, args: &[Edn]| {
            let [creator, name, parent] = args else {
                return Err(model::Error::tx(
                    TxErrorKind::TxFunction,
                    "takes creator, name, parent",
                    "[:auth/create]",
                ));
            };
            let known = query::q(
                "[:find ?u . :in $ ?u :where [?u :user/name]]",
                &[Input::Db(db.clone()), Input::Edn(creator.clone())],
            )
            .map_err(|e| model::Error::tx(TxErrorKind::TxFunction, e.to_string(), creator))?;
            if known.is_empty() {
                return Err(model::Error::tx(
                    TxErrorKind::TxFunction,
                    "no such user",
                    creator,
                ));
            }
            let inherits = query::q(
                "[:find ?r . :in $ % ?u ?r :where (can-write ?u ?r)]",
                &[
                    Input::Db(db.clone()),
                    rules(),
                    Input::Edn(creator.clone()),
                    Input::Edn(parent.clone()),
                ],
            )
            .map_err(|e| model::Error::tx(TxErrorKind::TxFunction, e.to_string(), parent))?;
            let mut entity = vec![
                (Edn::keyword(":db/id"), Edn::string("new-resource")),
                (Edn::keyword(":resource/name"), name.clone()),
                (Edn::keyword(":resource/parent"), parent.clone()),
            ];
            if inherits.is_empty() {
                entity.push((Edn::keyword(":resource/creator"), creator.clone()));
            }
            Ok(vec![Edn::map(entity)])
        }),
    );
    fns
}

#[test]
fn a_transaction_function_makes_sure_the_creator_can_write_what_they_create() {
    let db = clinic();
    let fns = tx_functions();
    let id = |name: &str| {
        q(
            "[:find ?e . :in $ ?n :where [?e :user/name ?n]]",
            &[db_of(&db), val(name)],
        )
        .scalar()
        .unwrap()
        .as_entity()
        .unwrap()
    };
    let resource = |name: &str| {
        q(
            "[:find ?e . :in $ ?n :where [?e :resource/name ?n]]",
            &[db_of(&db), val(name)],
        )
        .scalar()
        .unwrap()
        .as_entity()
        .unwrap()
    };
    // Pat writes her labs: the new result inherits the right.
    let by_pat = tx_with(
        &db,
        &format!(
            r#"[[:auth/create {} "pat-labs-2025" {}]]"#,
            id("pat"),
            resource("pat-labs")
        ),
        &fns,
    );
    assert!(allowed(&by_pat.db_after, "can-write", "pat").contains("pat-labs-2025"));
    let creator = q(
        "[:find ?c :where [?r :resource/name \"pat-labs-2025\"] [?r :resource/creator ?c]]",
        &[db_of(&by_pat.db_after)],
    );
    assert!(creator.is_empty(), "inherited, so no creator recorded");
    // Fred only reads pat-labs: his note records him as creator, so he
    // writes it (and still not pat-labs).
    let by_fred = tx_with(
        &db,
        &format!(
            r#"[[:auth/create {} "fred-note" {}]]"#,
            id("fred"),
            resource("pat-labs")
        ),
        &fns,
    );
    let fred_writes = allowed(&by_fred.db_after, "can-write", "fred");
    assert_eq!(fred_writes, names(&["fred-note"]));
    // Everyone who writes the parent also writes the new child.
    assert!(allowed(&by_fred.db_after, "can-write", "ada").contains("fred-note"));
    // An unknown creator aborts the whole transaction.
    let failed = db.with_edn(
        &format!(r#"[[:auth/create 999999 "x" {}]]"#, resource("pat-labs")),
        instant(&db),
        &fns,
    );
    assert_eq!(failed.unwrap_err().tx_kind(), Some(TxErrorKind::TxFunction));
}
