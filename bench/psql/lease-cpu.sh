#!/usr/bin/env bash
# PostgreSQL's CPU time for N executions of a lease statement (or a variant of it), read
# from the backend's /proc stat around them: a statement-level measurement beside the
# claims suite, for telling apart the parts of the lease (see BENCHMARKS.md "claims",
# session 21).
#
#   bench/psql/lease-cpu.sh STATEMENT.sql TEMPLATE_DB [N] [NOW_MS]
#
# STATEMENT.sql: the lease statement's text with its 22 parameters as $1..$22, in the
# order src/store/dialer.rs numbers them — e.g. the text PostgreSQL logs for it with
# `ALTER ROLE postgres SET log_min_duration_statement = 0` during a claims run (reset
# after). TEMPLATE_DB: a database kept by `CONTACTD_BENCH_KEEP_DB=1 ./target/release/bench
# --suite claims --backend pg` (optionally with `dial_state` truncated: the first-lease
# path the suite's measured drain takes). Each run copies the template, executes the
# statement on contacts 1..N*100 in batches of 100 (each batch's ids and row versions
# read first), prints the backend's CPU per statement, and drops the copy. The host's
# noise is ±20 % per run: alternate variants over several rounds and compare medians.
set -euo pipefail
sql=$1; template=$2; n=${3:-500}; now=${4:-1900000000000}
pg="psql -h 127.0.0.1 -U postgres -X"
db=lease_cpu_$$
work=$(mktemp -d)
trap 'rm -rf "$work"; $pg -d test -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
$pg -d test -qc "CREATE DATABASE $db TEMPLATE $template" >/dev/null
$pg -d "$db" -Atq > "$work/execute.sql" <<SQL
SELECT format('EXECUTE l(%L,%L,1000,$now,%L,%L,1,%L,1,%L,$now,%L,%L,%L,$now,$((now + 2000)),$now,50,$((now - 86400000)),50,$((now - 604800000)),%L);',
  'bench_claims', 'bench', ids, 'ACTIVE', 'bench_claims', 'bench_claims', 'bench_claims',
  'lease-cpu', 'bench', versions)
FROM (SELECT (id - 1) / 100 AS batch, array_agg(id ORDER BY id) AS ids,
             array_agg(xmin::text::bigint ORDER BY id) AS versions
      FROM contacts WHERE id <= $n * 100 GROUP BY 1 ORDER BY 1) s;
SQL
$pg -d "$db" -q > /dev/null <<SQL
PREPARE l(text, text, int, bigint, bigint[], text, int, text, int, text, bigint, text,
          text, text, bigint, bigint, bigint, int, bigint, int, bigint, bigint[])
  AS $(cat "$sql");
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
\! awk '{print \$14 + \$15}' /proc/\$PID/stat > $work/before
\i $work/execute.sql
\! awk '{print \$14 + \$15}' /proc/\$PID/stat > $work/after
SQL
ticks=$(( $(cat "$work/after") - $(cat "$work/before") ))
leased=$($pg -d "$db" -Atc "SELECT count(*) FROM dial_state WHERE lease_owner = 'lease-cpu'")
echo "$(basename "$sql") on $template: $(echo "scale=3; $ticks * 10 / $n" | bc) ms of backend CPU per statement ($n statements, $leased leased)"
