#!/bin/sh
# Writes the compose stack's env files from their examples, each CHANGE_ME_<NAME> replaced by
# a fresh random value: deploy/.env (the aftersales processes), deploy/temporal.env (Temporal's
# database user), deploy/postgres.env (the database roles). A NAME repeated across files (a
# database password) gets one value, so the files agree with each other.
#
#   sh deploy/init-env.sh [OUTPUT_DIR]      # OUTPUT_DIR defaults to deploy/
#
# It never overwrites a file: rotating a secret is a deliberate edit (see README).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
files=".env temporal.env postgres.env"

for file in $files; do
    if [ -e "$out/$file" ]; then
        echo "$out/$file exists: nothing written (remove it first to make new secrets)" >&2
        exit 1
    fi
done

# Letters, digits, - and _ only: safe in a URL's userinfo, an env file and a sed replacement.
token() {
    head -c 32 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_'
}
# A base64 32-byte key, as AFTERSALES_PAYLOAD_KEY and AFTERSALES_SECRETS_KEY want.
key() {
    head -c 32 /dev/urandom | base64 | tr -d '\n'
}

POSTGRES_PASSWORD=$(token)
TEMPORAL_DB_PASSWORD=$(token)
READ_MODEL_DB_PASSWORD=$(token)
ADMIN_KEY=$(token)
CARRIER_SECRET=$(token)
PAYLOAD_KEY=$(key)
SECRETS_KEY=$(key)

umask 077
mkdir -p "$out"
# Each file is written beside its final name and moved there only once all three are whole.
for file in $files; do
    sed -e "s|CHANGE_ME_POSTGRES_PASSWORD|$POSTGRES_PASSWORD|g" \
        -e "s|CHANGE_ME_TEMPORAL_DB_PASSWORD|$TEMPORAL_DB_PASSWORD|g" \
        -e "s|CHANGE_ME_READ_MODEL_DB_PASSWORD|$READ_MODEL_DB_PASSWORD|g" \
        -e "s|CHANGE_ME_ADMIN_KEY|$ADMIN_KEY|g" \
        -e "s|CHANGE_ME_CARRIER_SECRET|$CARRIER_SECRET|g" \
        -e "s|CHANGE_ME_PAYLOAD_KEY|$PAYLOAD_KEY|g" \
        -e "s|CHANGE_ME_SECRETS_KEY|$SECRETS_KEY|g" \
        "$here/$file.example" > "$out/$file.partial"
    if grep -v '^#' "$out/$file.partial" | grep -q CHANGE_ME; then
        echo "$here/$file.example holds a placeholder this script does not fill" >&2
        for written in $files; do rm -f "$out/$written.partial"; done
        exit 1
    fi
done
for file in $files; do
    mv "$out/$file.partial" "$out/$file"
done
echo "wrote $out/.env, $out/temporal.env and $out/postgres.env (mode 0600)"
