#!/bin/sh
# The temporal-namespace job (temporalio/admin-tools): registers the namespace the API and the
# worker use, with a retention that keeps a closed case's history (and its replay) for
# TEMPORAL_RETENTION, 30 days unless set. On later runs it sets the retention again, so a
# changed TEMPORAL_RETENTION takes effect on the next `docker compose up`.
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS names the Temporal frontend}"
: "${TEMPORAL_NAMESPACE:?TEMPORAL_NAMESPACE names the namespace to register}"
RETENTION=${TEMPORAL_RETENTION:-30d}
ATTEMPTS=${TEMPORAL_SETUP_ATTEMPTS:-60}
PAUSE=${TEMPORAL_SETUP_PAUSE:-2}

attempt=1
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
    if [ "$attempt" -ge "$ATTEMPTS" ]; then
        echo "Temporal at $TEMPORAL_ADDRESS is not serving after $ATTEMPTS tries" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep "$PAUSE"
done

attempt=1
while :; do
    if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" \
        --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
        if temporal operator namespace update --namespace "$TEMPORAL_NAMESPACE" \
            --address "$TEMPORAL_ADDRESS" --retention "$RETENTION"; then
            echo "namespace $TEMPORAL_NAMESPACE: retention $RETENTION"
            break
        fi
    elif temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" \
        --address "$TEMPORAL_ADDRESS" --retention "$RETENTION" \
        --description "aftersales cases"; then
        echo "namespace $TEMPORAL_NAMESPACE created: retention $RETENTION"
        break
    fi
    # A fresh cluster refuses for a moment while its system namespace settles, and an update
    # right after a create can miss the namespace until the server's cache refreshes.
    if [ "$attempt" -ge "$ATTEMPTS" ]; then
        echo "could not register namespace $TEMPORAL_NAMESPACE after $ATTEMPTS tries" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep "$PAUSE"
done
