use super::ast::*;
use super::parse;
use crate::error::CqlError;
use crate::types::CqlType;

#[test]
fn parses_the_storage_backend_statements() {
    let create = parse(
        "CREATE TABLE IF NOT EXISTS ks.accrete_segments (id text, chunk int, data blob, PRIMARY KEY (id, chunk)) WITH comment = 'x' AND compaction = {'class': 'LeveledCompactionStrategy'}",
    )
    .unwrap();
    let Statement::CreateTable(t) = create else {
        panic!("{create:?}")
    };
    assert_eq!(t.partition_key, vec!["id"]);
    assert_eq!(t.clustering, vec!["chunk"]);
    assert_eq!(t.columns[2], ("data".to_owned(), CqlType::Blob));

    let update =
        parse("UPDATE ks.accrete_roots SET rev = ?, value = ? WHERE name = ? IF rev = ?").unwrap();
    let Statement::Update(u) = update else {
        panic!()
    };
    assert_eq!(u.assignments.len(), 2);
    let Some(Condition::Columns(conds)) = &u.condition else {
        panic!()
    };
    assert_eq!(
        conds[0].rhs,
        Rhs::Term(Term::Marker {
            index: 3,
            name: None
        })
    );

    let scan =
        parse("SELECT DISTINCT id, token(id) FROM ks.t WHERE token(id) > ? LIMIT ?").unwrap();
    let Statement::Select(s) = scan else { panic!() };
    assert!(s.distinct);
    assert_eq!(s.relations[0].lhs, RelationTarget::Token(vec!["id".into()]));
    assert_eq!(
        s.limit,
        Some(Term::Marker {
            index: 1,
            name: None
        })
    );

    let insert =
        parse("INSERT INTO t (a, b) VALUES (:a, 0x00ff) IF NOT EXISTS USING TTL 10").unwrap();
    let Statement::Insert(i) = insert else {
        panic!()
    };
    assert_eq!(i.condition, Some(Condition::NotExists));
    assert!(i.using.ttl.is_some());

    let ordered = parse("SELECT data FROM ks.segments WHERE id = ? ORDER BY chunk ASC").unwrap();
    assert!(matches!(ordered, Statement::Select(_)));
    assert!(matches!(
        parse("SELECT data FROM t WHERE id = ? ORDER BY chunk DESC"),
        Err(CqlError::Invalid(_))
    ));

    let delete = parse("DELETE FROM ks.t WHERE id = ? IF EXISTS;").unwrap();
    assert!(matches!(
        delete,
        Statement::Delete(Delete {
            condition: Some(Condition::Exists),
            ..
        })
    ));
}

#[test]
fn parses_keyspaces_batches_and_in_lists() {
    let ks = parse("create keyspace if not exists KS with replication = {'class': 'SimpleStrategy', 'replication_factor': 3} and durable_writes = false").unwrap();
    let Statement::CreateKeyspace(k) = ks else {
        panic!()
    };
    assert_eq!(k.name, "ks");
    assert_eq!(k.replication["replication_factor"], "3");
    assert!(!k.durable_writes);

    let batch = parse(
        "BEGIN UNLOGGED BATCH INSERT INTO t (a) VALUES (1); DELETE FROM t WHERE a = 2; APPLY BATCH",
    )
    .unwrap();
    let Statement::Batch(b) = batch else { panic!() };
    assert!(!b.logged);
    assert_eq!(b.statements.len(), 2);

    let sel =
        parse("SELECT keyspace_name FROM system_schema.tables where keyspace_name in ?").unwrap();
    let Statement::Select(s) = sel else { panic!() };
    assert!(matches!(s.relations[0].rhs, Rhs::ListMarker(_)));
}

#[test]
fn unsupported_and_malformed_statements_say_where() {
    let alter = parse("ALTER TABLE t ADD c int").unwrap_err();
    assert!(
        matches!(&alter, CqlError::Syntax(m) if m.starts_with("line 1:0 mismatched input 'alter'")),
        "{alter:?}"
    );
    let missing = parse("SELECT * FROM").unwrap_err();
    assert!(
        matches!(&missing, CqlError::Syntax(m) if m.contains("<EOF>")),
        "{missing:?}"
    );
    let desc = parse(
        "CREATE TABLE t (a int, b int, PRIMARY KEY (a, b)) WITH CLUSTERING ORDER BY (b DESC)",
    );
    assert!(matches!(desc, Err(CqlError::Invalid(_))));
}
