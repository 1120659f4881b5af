#!/usr/bin/env bash
# The README's main job (`make demo`): the whole flow on a real, published
# program. gofmt as the Go 1.26.8 distribution ships it is rebuilt from the
# distribution's source in a hermetic container, compared bit for bit with the
# shipped binary, attested, and verified the way a customer would.
#
# The attestations are published to a transparency centre the demo starts on
# localhost (reprove serve, SQLite under demo/centre), and the customer
# checks the download offline against the log's signed checkpoint.
#
# The keys, the review and the policy are made up for the demo (a demo
# auditor, a demo rebuilder); the rebuild, the comparison, the log and the
# verification are real. Everything lands in ./demo (or $REPROVE_DEMO_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

reprove=bin/reprove
recipe=recipes/catalogue/gofmt-go1.26.8.yaml
demo=${REPROVE_DEMO_DIR:-demo}
# Demo keys only: a real key's password stays out of scripts.
export REPROVE_PASSWORD=${REPROVE_PASSWORD:-reprove-demo}

rm -rf "$demo"
mkdir -p "$demo/keys"
# The customer's memory of the demo log (the newest tree verify has seen)
# stays in the demo directory too, not in ~/.local/state.
export REPROVE_STATE="$demo/state"

step() { printf '\n=== %s\n' "$*"; }

step "keys for a demo auditor and a demo rebuilder (cosign format)"
$reprove key generate --output-key-prefix "$demo/keys/auditor"
$reprove key generate --output-key-prefix "$demo/keys/rebuilder"

step "a transparency centre on localhost, which logs what the two keys sign"
$reprove serve keys add --data "$demo/centre" "Demo auditor" "$demo/keys/auditor.pub" --role reviewer
$reprove serve keys add --data "$demo/centre" "Demo rebuilder" "$demo/keys/rebuilder.pub" --role rebuilder
$reprove serve --data "$demo/centre" --addr 127.0.0.1:0 --addr-file "$demo/centre/addr" --origin demo.reprove.invalid/log >"$demo/centre/serve.log" 2>&1 &
centre_pid=$!
trap 'kill "$centre_pid" 2>/dev/null; wait "$centre_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$demo/centre/addr" ] && break; sleep 0.1; done
[ -s "$demo/centre/addr" ] || { cat "$demo/centre/serve.log" >&2; echo "demo: the centre did not start" >&2; exit 1; }
centre=$(cat "$demo/centre/addr")
echo "centre at $centre, log key $(cat "$demo/centre/log.pub")"

step "the auditor signs a review of the source: golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64"
sum=$(sed -n 's/^ *sum: *//p' "$recipe" | head -n1)
$reprove review --key "$demo/keys/auditor.key" \
	--go-module golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64 --go-sum "$sum" \
	--reviewer mailto:auditor@demo.reprove.invalid --reviewer-name "Demo auditor" \
	--verdict approved --notes "demo review: not an actual audit" \
	-o "$demo/gofmt.review.intoto.json"

step "the rebuilder rebuilds gofmt in a container, compares it with the shipped binary, signs, publishes"
$reprove rebuild "$recipe" -o "$demo/rebuild" \
	--key "$demo/keys/rebuilder.key" --builder-id https://demo.reprove.invalid/rebuilder \
	--review "$demo/gofmt.review.intoto.json" \
	--publish "$centre" --log-key "$demo/centre/log.pub"

step "the customer's download: bin/gofmt from the distribution zip, with the published attestations"
cp "$demo/rebuild/shipped/gofmt" "$demo/gofmt"
cat "$demo/gofmt.review.intoto.json" "$demo"/rebuild/attestations/*.intoto.json >"$demo/gofmt.intoto.jsonl"
cat >"$demo/policy.yaml" <<YAML
version: 1
reviewers:
  threshold: 1
  keys:
    - name: Demo auditor
      key: keys/auditor.pub
rebuilders:
  threshold: 1
  keys:
    - name: Demo rebuilder
      key: keys/rebuilder.pub
YAML
# The same policy, naming the log: only what the log proves counts.
cp "$demo/policy.yaml" "$demo/policy-logged.yaml"
printf 'log:\n  key: centre/log.pub\n' >>"$demo/policy-logged.yaml"

step "reprove verify gofmt"
$reprove verify "$demo/gofmt" --policy "$demo/policy.yaml" -a "$demo/gofmt.intoto.jsonl"

step "reprove verify gofmt against the log: the bundle the rebuild kept, offline"
$reprove verify "$demo/gofmt" --policy "$demo/policy-logged.yaml" -a "$demo/rebuild/gofmt.log-bundle.json"

step "reprove verify gofmt, fetching what the centre holds for its digest"
$reprove verify "$demo/gofmt" --policy "$demo/policy-logged.yaml" --server "$centre"

step "a monitor checks that the log only grows"
$reprove log monitor --server "$centre" --key "$demo/centre/log.pub" --state "$demo/monitor"

step "a tampered download (one byte changed) is refused"
cp "$demo/gofmt" "$demo/gofmt-tampered"
printf '\x00' | dd of="$demo/gofmt-tampered" bs=1 seek=4096 conv=notrunc status=none
if $reprove verify "$demo/gofmt-tampered" --policy "$demo/policy.yaml" -a "$demo/gofmt.intoto.jsonl"; then
	echo "demo: a tampered file was verified" >&2
	exit 1
fi
if $reprove verify "$demo/gofmt-tampered" --policy "$demo/policy-logged.yaml" --server "$centre" 2>/dev/null; then
	echo "demo: a tampered file was verified against the log" >&2
	exit 1
fi
digest=sha256:$(sha256sum "$demo/gofmt" | cut -d' ' -f1)
echo
echo "demo: done; everything is in $demo/"
echo "demo: the release page: $centre/artifacts/$digest (the log: $centre/log)"
if [ -t 0 ]; then
	read -r -p "demo: the centre keeps running until you press Enter " _
fi
