#!/bin/sh
# PostgreSQL's first start (docker-entrypoint-initdb.d, only while the data volume is empty):
# one login role per consumer, so Temporal and the read model never share credentials.
#   - Temporal's role may create databases: the temporal-schema job creates `temporal` and
#     `temporal_visibility` with it (temporal-sql-tool create) and so owns them.
#   - The read model's role owns its one database and nothing else; `aftersales migrate`
#     builds the tables as that owner.
# Values come from deploy/postgres.env. They travel as psql variables (:'x' quotes a literal,
# :"x" an identifier), so no password is ever spliced into SQL text.
set -eu

: "${TEMPORAL_DB_USER:?set TEMPORAL_DB_USER in deploy/postgres.env}"
: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD in deploy/postgres.env}"
: "${READ_MODEL_DB_USER:?set READ_MODEL_DB_USER in deploy/postgres.env}"
: "${READ_MODEL_DB_PASSWORD:?set READ_MODEL_DB_PASSWORD in deploy/postgres.env}"
: "${READ_MODEL_DB_NAME:?set READ_MODEL_DB_NAME in deploy/postgres.env}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set=temporal_user="$TEMPORAL_DB_USER" \
    --set=temporal_password="$TEMPORAL_DB_PASSWORD" \
    --set=app_user="$READ_MODEL_DB_USER" \
    --set=app_password="$READ_MODEL_DB_PASSWORD" \
    --set=app_db="$READ_MODEL_DB_NAME" <<'SQL'
CREATE ROLE :"temporal_user" LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
-- Only its owner connects to the read model (PUBLIC may connect to a new database by default).
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
SQL
