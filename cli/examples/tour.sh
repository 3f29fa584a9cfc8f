#!/bin/sh
# A tour of accrete on its embedded default storage (a local directory):
# create a database, transact a schema and data, read it back, ask it
# questions in Datalog, change a fact, and travel in time. Every step is a plain `accrete` command, printed
# before it runs, so you can type the same commands yourself.
#
# Run it from anywhere in the repository; it needs nothing but cargo:
#
#     sh cli/examples/tour.sh
#
# With --console it ends by serving the tour's database with the console on
# top (a web UI: schema, queries, entities and their history, the log) at
# http://127.0.0.1:4335/console/ until Ctrl-C (ACCRETE_CONSOLE_PORT picks
# another port):
#
#     sh cli/examples/tour.sh --console
#
# ACCRETE=/path/to/accrete uses an already built binary instead.
set -eu

if [ -t 1 ]; then bold='\033[1m' plain='\033[0m'; else bold='' plain=''; fi
step() { printf "\n${bold}== %s${plain}\n" "$*"; }
say() { printf '%s\n' "$*"; }
run() {
    printf '$ accrete'
    shift
    for arg in "$@"; do
        case $arg in
            *[!A-Za-z0-9_./:=-]*) printf " '%s'" "$arg" ;;
            *) printf ' %s' "$arg" ;;
        esac
    done
    printf '\n'
    "$ACCRETE" "$@"
}

if [ -z "${ACCRETE:-}" ]; then
    say "Building the accrete binary (cargo build -p cli)…"
    cargo build --quiet -p cli --bin accrete
    target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    ACCRETE="$target/debug/accrete"
fi

DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
DB="file://$DIR/data?db=news"

step "1. Create a database"
say "A storage URI names the backend, its address and the database: here a"
say "directory ($DIR/data) and the database 'news' in it."
run accrete create-db "$DB"
run accrete list-dbs "file://$DIR/data"

step "2. Transact a schema"
say "Attributes are data too: each is an entity with an ident, a type and a cardinality."
cat > "$DIR/schema.edn" <<'EDN'
[{:db/ident :user/email     :db/valueType :db.type/string :db/cardinality :db.cardinality/one
  :db/unique :db.unique/identity :db/doc "A user's email, unique"}
 {:db/ident :user/firstName :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :story/title    :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :story/author   :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one}]
EDN
cat "$DIR/schema.edn"
say "No transactor is running, so 'transact' runs one in this process for the"
say "call: it takes the database's lease, commits, and releases it."
run accrete transact "$DB" "$DIR/schema.edn"

step "3. Transact data"
cat > "$DIR/data.edn" <<'EDN'
[{:db/id "ed"  :user/email "editor@example.com" :user/firstName "Ed"}
 {:db/id "ada" :user/email "ada@example.com"    :user/firstName "Ada"}
 {:db/id "story" :story/title "Accretion-only databases" :story/author "ed"}
 {:story/title "Datalog in practice"      :story/author "ada"}
 {:story/title "Time travel for auditors" :story/author "ada"}]
EDN
cat "$DIR/data.edn"
say "Tempids (\"ed\", \"ada\", \"story\") resolve to new entity ids, reported back:"
# Captured, printed, then read: stdout stays one stream in order, whether it
# is a terminal or a file (`sh tour.sh > tour.log`).
report=$(run accrete transact "$DB" "$DIR/data.edn")
say "$report"
before=$(say "$report" | sed -n 's/^{:t \([0-9]*\) .*/\1/p')

step "4. Read it back"
say "The AEVT index by attribute, the EAVT index by entity (a lookup ref names"
say "the editor by a unique attribute), the VAET index for references to him:"
run accrete datoms "$DB" aevt :user/firstName
run accrete datoms "$DB" eavt '[:user/email "editor@example.com"]'
run accrete datoms "$DB" vaet '[:user/email "editor@example.com"]'

step "5. Ask questions in Datalog"
say "'q' runs a query against the latest value and prints EDN, a relation one"
say "row per line. Every user's email:"
run accrete q "$DB" '[:find [?email ...] :where [_ :user/email ?email]]'
say "A join, with the author given as an input after the query (\$ is the database):"
run accrete q "$DB" '[:find ?title :in $ ?email
  :where [?a :user/email ?email] [?s :story/author ?a] [?s :story/title ?title]]' '"ada@example.com"'
say "An aggregate: stories per author."
run accrete q "$DB" '[:find ?name (count ?s) :where [?s :story/author ?a] [?a :user/firstName ?name]]'
say "And 'pull' reads an entity as a map, following references both ways:"
run accrete pull "$DB" '[:user/firstName {:story/_author [:story/title]}]' '[:user/email "ada@example.com"]'

step "6. Change a fact"
say "Nothing is updated in place: asserting a new first name retracts the old one."
echo '[[:db/add [:user/email "editor@example.com"] :user/firstName "Edward"]]' > "$DIR/rename.edn"
cat "$DIR/rename.edn"
run accrete transact "$DB" "$DIR/rename.edn"
run accrete datoms "$DB" aevt :user/firstName

step "7. Travel in time"
say "As of t=$before, the transaction that added the editor, he was still Ed:"
run accrete datoms "$DB" aevt :user/firstName --as-of "$before"
say "Since t=$before, only the rename happened:"
run accrete datoms "$DB" aevt :user/firstName --since "$before"
say "And the history keeps every assertion and retraction (the last field):"
run accrete datoms "$DB" aevt :user/firstName --history
say "Queries travel too: who wrote what, as of t=$before:"
run accrete q "$DB" '[:find ?name ?title
  :where [?s :story/author ?a] [?a :user/firstName ?name] [?s :story/title ?title]]' --as-of "$before"

if [ "${1:-}" = "--console" ]; then
    port=${ACCRETE_CONSOLE_PORT:-4335}
    step "8. Look at it in the console"
    say "A transactor takes the writes (in the background), and 'accrete serve'"
    say "answers HTTP with the console on top. Open http://127.0.0.1:$port/console/"
    say "in a browser; Ctrl-C stops both."
    "$ACCRETE" transactor "$DB" --listen 127.0.0.1:0 2>"$DIR/transactor.log" &
    transactor=$!
    trap 'kill "$transactor" 2>/dev/null; rm -rf "$DIR"' EXIT
    trap 'exit 130' INT TERM
    run accrete serve "$DB" --listen "127.0.0.1:$port"
    exit 0
fi

step "Done"
say "Next: 'accrete transactor $DB' serves the database to other processes;"
say "'accrete transact' then sends to it. 'accrete --help' lists every command."
say "'sh cli/examples/tour.sh --console' ends with the console on this database."
