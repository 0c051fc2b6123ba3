#!/bin/sh
# The temporal-schema job (temporalio/admin-tools), as Temporal's reference compose sets up
# PostgreSQL: create each database, set up its schema at 0.0, then apply every versioned
# update. It runs on every `docker compose up`: setup-schema keeps a newer version it finds,
# update-schema applies only what is missing, so a Temporal upgrade (a newer admin-tools and
# server image) migrates the schema here before the server starts.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS names the PostgreSQL host}"
: "${POSTGRES_USER:?POSTGRES_USER is Temporal's database user (deploy/temporal.env)}"
: "${POSTGRES_PWD:?POSTGRES_PWD is its password (deploy/temporal.env)}"
DB_PORT=${DB_PORT:-5432}
DBNAME=${DBNAME:-temporal}
VISIBILITY_DBNAME=${VISIBILITY_DBNAME:-temporal_visibility}
SCHEMA_DIR=${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}
# temporal-sql-tool reads the password from here, so it never shows in the process list.
SQL_PASSWORD=$POSTGRES_PWD
export SQL_PASSWORD

sql() {
    temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
        -u "$POSTGRES_USER" "$@"
}

attempt=1
until nc -z -w 5 "$POSTGRES_SEEDS" "$DB_PORT"; do
    if [ "$attempt" -ge 30 ]; then
        echo "PostgreSQL at $POSTGRES_SEEDS:$DB_PORT did not open its port" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 2
done

for pair in "$DBNAME:temporal" "$VISIBILITY_DBNAME:visibility"; do
    db=${pair%%:*}
    schema=${pair#*:}
    # After the first run the database exists and `create` refuses; any other fault (a wrong
    # password, no CREATEDB) makes setup-schema below fail the job.
    if ! sql --db "$db" create; then
        echo "temporal-sql-tool create $db refused (it exists after the first run); going on" >&2
    fi
    sql --db "$db" setup-schema -v 0.0
    sql --db "$db" update-schema -d "$SCHEMA_DIR/$schema/versioned"
    echo "schema of $db is up to date"
done
