//! The social-news and orders scenarios (`integration-tests/scenarios.md`
//! §1–§3) as tx data in steps, the scenario queries, and a reference: the same steps applied
//! to an all-in-memory `model::Db`, whose answers a durable database must
//! give exactly.

use std::fmt;

use model::edn::{self, Instant};
use model::schema::bootstrap::{TX_ID, TX_PRINCIPAL};
use model::{Db, TxFunctions, TxReport, Value};
use query::{Input, QueryResult};

/// The schema of both scenarios.
pub const SCHEMA: &str = concat!(
    "[",
    model::social_schema_attrs!(),
    r#"
 {:db/ident :product/description :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :order/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :order/lineItems :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/isComponent true}
 {:db/ident :lineItem/product :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :lineItem/quantity :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :lineItem/price :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/one}
]"#
);

/// The social-news data after the schema: users (the editor first named
/// "Ed"), stories with comments nested as component maps (ten by the
/// editor, two by Stu), the editor renamed "Edward", then upvotes built by
/// concatenating list forms.
pub const SOCIAL: [&str; 5] = [
    r#"[{:db/id "ed" :user/email "editor@example.com" :user/firstName "Ed" :user/lastName "Itor"}
        {:db/id "stu" :user/email "stu@example.com" :user/firstName "Stu" :user/lastName "Dent"}]"#,
    r#"[{:db/id "s1" :story/title "Teach Yourself Programming in Ten Years" :story/url "http://norvig.com/21-days.html"
         :comments [{:comment/body "editor remark 1" :comment/author [:user/email "editor@example.com"]
                     :comments [{:comment/body "editor remark 5" :comment/author [:user/email "editor@example.com"]}
                                {:comment/body "editor remark 6" :comment/author [:user/email "editor@example.com"]}]}
                    {:comment/body "editor remark 2" :comment/author [:user/email "editor@example.com"]}
                    {:comment/body "stu remark 1" :comment/author [:user/email "stu@example.com"]
                     :comments [{:comment/body "editor remark 7" :comment/author [:user/email "editor@example.com"]
                                 :comments [{:comment/body "stu remark 2" :comment/author [:user/email "stu@example.com"]
                                             :comments [{:comment/body "editor remark 8" :comment/author [:user/email "editor@example.com"]}]}]}]}]}
        {:db/id "s2" :story/title "Clojure Rationale" :story/url "http://clojure.org/rationale"
         :comments [{:comment/body "editor remark 3" :comment/author [:user/email "editor@example.com"]
                     :comments [{:comment/body "editor remark 9" :comment/author [:user/email "editor@example.com"]}]}]}]"#,
    r#"[{:db/id "s3" :story/title "Beating the Averages" :story/url "http://www.paulgraham.com/avg.html"
         :comments [{:comment/body "editor remark 4" :comment/author [:user/email "editor@example.com"]
                     :comments [{:comment/body "editor remark 10" :comment/author [:user/email "editor@example.com"]}]}]}]"#,
    r#"[[:db/add [:user/email "editor@example.com"] :user/firstName "Edward"]]"#,
    r#"[[:db/add [:user/email "stu@example.com"] :user/upVotes [:story/url "http://norvig.com/21-days.html"]]
        [:db/add [:user/email "stu@example.com"] :user/upVotes [:story/url "http://clojure.org/rationale"]]
        [:db/add [:user/email "editor@example.com"] :user/upVotes [:story/url "http://clojure.org/rationale"]]
        {:db/id [:user/email "editor@example.com"] :user/lastName "Itor"}]"#,
];

/// The orders data after the schema: two products, two orders given as
/// nested maps (line items without tempids), and the first order retracted
/// with `:db.fn/retractEntity` (its line items go with it).
pub const ORDERS: [&str; 4] = [
    r#"[{:db/id "choc" :product/description "Expensive Chocolate"}
        {:db/id "whisky" :product/description "Cheap Whisky"}]"#,
    r#"[{:db/id "o1" :order/id 1
         :order/lineItems [{:lineItem/product [:product/description "Expensive Chocolate"] :lineItem/quantity 1 :lineItem/price 48.00M}
                           {:lineItem/product [:product/description "Cheap Whisky"] :lineItem/quantity 2 :lineItem/price 38.00M}]}]"#,
    r#"[{:db/id "o2" :order/id 2
         :order/lineItems [{:lineItem/product [:product/description "Cheap Whisky"] :lineItem/quantity 6 :lineItem/price 38.00M}]}]"#,
    r#"[[:db.fn/retractEntity [:order/id 1]]]"#,
];

/// Every step of both scenarios in order, the schema first.
pub fn steps() -> Vec<&'static str> {
    let mut steps = vec![SCHEMA];
    steps.extend(SOCIAL);
    steps.extend(ORDERS);
    steps
}

/// The rules of the thread query: a story or comment reaches every comment
/// below it.
const THREAD_RULES: &str = r#"[[(thread ?top ?c) [?top :comments ?c]]
                               [(thread ?top ?c) [?top :comments ?mid] (thread ?mid ?c)]]"#;

/// One scenario query and its inputs after `$` (EDN text).
#[derive(Clone, Copy, Debug)]
pub struct Query {
    /// The query.
    pub text: &'static str,
    /// Its inputs after the database, as EDN.
    pub inputs: &'static [&'static str],
}

const fn query(text: &'static str, inputs: &'static [&'static str]) -> Query {
    Query { text, inputs }
}

/// The scenario queries (§1, §2 and §3), each meaningful on a current,
/// as-of, since and history database.
pub const QUERIES: &[Query] = &[
    query("[:find ?e :where [?e :user/email]]", &[]),
    query(
        "[:find ?e :in $ ?email :where [?e :user/email ?email]]",
        &[r#""editor@example.com""#],
    ),
    query(
        "[:find ?e :in $ [?email ...] :where [?e :user/email ?email]]",
        &[r#"["editor@example.com" "stu@example.com"]"#],
    ),
    query(
        "[:find ?comment :in $ ?email :where [?user :user/email ?email] [?comment :comment/author ?user]]",
        &[r#""editor@example.com""#],
    ),
    query(
        "[:find (count ?comment) :in $ ?email :where [?user :user/email ?email] [?comment :comment/author ?user]]",
        &[r#""editor@example.com""#],
    ),
    query(
        "[:find (count ?comment) :where [?comment :comment/author] [?commentable :comments ?comment] [?commentable :user/email]]",
        &[],
    ),
    query(
        "[:find ?attr-name :where [?ref :comments] [?ref ?attr] [?attr :db/ident ?attr-name]]",
        &[],
    ),
    query(
        "[:find ?name ?tx :in $ ?email :where [?e :user/email ?email] [?e :user/firstName ?name ?tx]]",
        &[r#""editor@example.com""#],
    ),
    query(
        "[:find ?tx ?v ?op :in $ ?email :where [?e :user/email ?email] [?e :user/firstName ?v ?tx ?op]]",
        &[r#""editor@example.com""#],
    ),
    query(
        "[:find ?inst :in $ ?email :where [?e :user/email ?email] [?e :user/firstName _ ?tx] [?tx :db/txInstant ?inst]]",
        &[r#""editor@example.com""#],
    ),
    query(
        "[:find ?title (count ?u) :where [?u :user/upVotes ?s] [?s :story/title ?title]]",
        &[],
    ),
    query(
        "[:find ?body :in $ % ?url :where [?s :story/url ?url] (thread ?s ?c) [?c :comment/body ?body]]",
        &[THREAD_RULES, r#""http://norvig.com/21-days.html""#],
    ),
    query(
        "[:find ?order ?qty :in $ ?desc :where [?p :product/description ?desc] [?li :lineItem/product ?p] [?order :order/lineItems ?li] [?li :lineItem/quantity ?qty]]",
        &[r#""Cheap Whisky""#],
    ),
    query(
        "[:find (pull ?o [* {:order/lineItems [* {:lineItem/product [:product/description]}]}]) :where [?o :order/id]]",
        &[],
    ),
    query("[:find (count ?e) :where [?e :order/lineItems]]", &[]),
    query("[:find (count ?p) :where [?p :product/description]]", &[]),
    query(
        "[:find (sum ?price) :with ?li :where [?li :lineItem/price ?price]]",
        &[],
    ),
    query(
        "[:find ?ident (count ?e) :where [?e ?a] [?a :db/ident ?ident]]",
        &[],
    ),
];

/// What a query answered, printed canonically: rows sorted, so that two
/// databases holding the same facts print the same whatever order their
/// indexes yield rows in; errors print as errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Answer(pub String);

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Answer {
    fn of(result: query::Result<QueryResult>) -> Answer {
        match result {
            Err(e) => Answer(format!("error: {e}")),
            Ok(found) => {
                let mut rows: Vec<String> = found
                    .rows()
                    .iter()
                    .map(|row| {
                        let cells: Vec<String> = row.iter().map(|c| c.to_string()).collect();
                        format!("[{}]", cells.join(" "))
                    })
                    .collect();
                rows.sort();
                Answer(rows.join(" "))
            }
        }
    }
}

/// Runs `query` over `db` (reads may block on storage: call it on a
/// blocking thread).
pub fn answer(db: &Db, query: &Query) -> Answer {
    let mut inputs = vec![Input::Db(db.clone())];
    for text in query.inputs {
        inputs.push(Input::Edn(
            edn::parse(text).expect("the scenario inputs are valid EDN"),
        ));
    }
    Answer::of(query::q(query.text, &inputs))
}

/// Every scenario query's answer over `db`, labelled with the query.
pub fn answers(db: &Db) -> Vec<(&'static str, Answer)> {
    QUERIES.iter().map(|q| (q.text, answer(db, q))).collect()
}

/// The views of a database the comparisons cover: the value itself, its
/// history, and as of and since every t in `ts`.
pub fn views(db: &Db, ts: &[u64]) -> Vec<(String, Db)> {
    let mut views = vec![
        ("current".to_string(), db.clone()),
        ("history".to_string(), db.history()),
    ];
    for &t in ts {
        views.push((format!("as-of {t}"), db.as_of(t).expect("as_of of a t")));
        views.push((format!("since {t}"), db.since(t).expect("since of a t")));
        views.push((
            format!("history as-of {t}"),
            db.as_of(t).expect("as_of of a t").history(),
        ));
    }
    views
}

/// The first difference between the scenario answers of `durable` and
/// `reference` over every view of [`views`], or `None` when every answer
/// is identical. Also returns how many answers were compared.
pub fn first_difference(durable: &Db, reference: &Db, ts: &[u64]) -> (Option<String>, usize) {
    let mut compared = 0;
    for ((view, d), (_, r)) in views(durable, ts).iter().zip(views(reference, ts).iter()) {
        for query in QUERIES {
            let (got, want) = (answer(d, query), answer(r, query));
            compared += 1;
            if got != want {
                return (
                    Some(format!(
                        "{view}: {}\n  durable:   {got:?}\n  reference: {want:?}",
                        query.text
                    )),
                    compared,
                );
            }
        }
    }
    (None, compared)
}

/// The all-in-memory reference database: the same tx data applied with
/// the same instants the transactor stamped.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The reference value after every step applied so far.
    pub db: Db,
}

impl Default for Reference {
    fn default() -> Self {
        Reference { db: Db::new() }
    }
}

impl Reference {
    /// Applies `tx` (EDN text) as the transactor did in `committed` (with
    /// its instant, transaction id and principal), and checks that it gave the same t
    /// and tempids.
    pub fn apply(&mut self, tx: &str, committed: &TxReport) {
        let forms = transactor::parse_tx(tx).expect("scenario tx data parses");
        let report = self
            .db
            .with_provenance(
                &forms,
                instant_of(committed),
                &TxFunctions::new(),
                tx_id_of(committed),
                principal_of(committed).as_deref(),
            )
            .expect("the reference accepts what the transactor committed");
        assert_eq!(report.t(), committed.t(), "the reference's t for {tx}");
        assert_eq!(
            report.tempids, committed.tempids,
            "the reference's tempids for {tx}"
        );
        self.db = report.db_after;
    }
}

/// The `:tx/id` of a committed transaction, if it has one.
pub fn tx_id_of(report: &TxReport) -> Option<uuid::Uuid> {
    report.tx_data.iter().find_map(|d| match d.v() {
        Value::Uuid(id) if d.e() == report.tx() && d.a() == TX_ID => Some(*id),
        _ => None,
    })
}

/// The `:tx/principal` of a committed transaction, if it has one.
pub fn principal_of(report: &TxReport) -> Option<String> {
    report.tx_data.iter().find_map(|d| match d.v() {
        Value::String(p) if d.e() == report.tx() && d.a() == TX_PRINCIPAL => Some(p.to_string()),
        _ => None,
    })
}

/// The `:db/txInstant` of a committed transaction.
pub fn instant_of(report: &TxReport) -> Instant {
    report
        .tx_data
        .iter()
        .find(|d| d.e() == report.tx())
        .and_then(|d| match d.v() {
            Value::Instant(i) => Some(*i),
            _ => None,
        })
        .expect("every transaction carries its :db/txInstant")
}
