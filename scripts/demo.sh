#!/usr/bin/env bash
# The main job on the local cloud: burst the Double-11 example, show the fleet, send traffic
# through the load balancer, give everything back, show the cost. With
# SPEC=examples/double11-aws-emulated.yml EVENT=d11aws (make demo-aws) the same story runs on
# the emulated AWS path.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
export HYBRIDBURST_STATE_DIR=${HYBRIDBURST_STATE_DIR:-$PWD/.hybridburst}
# SPEC and EVENT choose the story: `make demo-aws` runs the emulated AWS one.
SPEC=${SPEC:-examples/double11-local.yml}
EVENT=${EVENT:-double11}
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "plan: what the event needs and what it will cost"
hybridburst plan "$SPEC"

if grep -Eq '^provider: *local *$' "$SPEC" && ! grep -Eq '^emulated: *true' "$SPEC"; then
  say "bake: each pool's image once (baseline and release on one builder host, captured), unless current"
  hybridburst bake "$SPEC"
  hybridburst images "$SPEC"
  say "up: provision from the baked images, validate (one host carries a hardware fault), authorize, verify each host's baseline in one probe, deploy"
else
  say "up: provision, validate (one host carries a hardware fault), authorize, baseline, deploy"
fi
hybridburst up "$SPEC" || echo "(up reported a problem; the status below says where)"

say "status: every host, its state and why"
hybridburst status "$EVENT"

say "the fleet as Ansible sees it (strict host key checking)"
ansible-inventory -i "$HYBRIDBURST_STATE_DIR/events/$EVENT/fleet.yml" --graph burst

say "access: a real TCP connection from each burst host to the private service"
python3 - "$HYBRIDBURST_STATE_DIR/events/$EVENT" <<'PY'
import json, subprocess, sys
d = sys.argv[1]
m = json.load(open(f"{d}/manifest.json"))
for h in m["hosts"]:
    proc = subprocess.run(["ssh", "-i", m["ssh"]["private_key_file"], "-o", "BatchMode=yes",
                           "-o", f"UserKnownHostsFile={m['ssh']['known_hosts_file']}",
                           "-o", "StrictHostKeyChecking=yes", f"{m['ssh']['user']}@{h['address']}",
                           "curl -s -m 3 http://10.200.0.20:8081/health >/dev/null && echo reached || echo refused"],
                          capture_output=True, text=True)
    print(f"  {h['name']:<22} {h['address']:<14} private service: {proc.stdout.strip() or proc.stderr.strip()}")
PY

say "traffic: 200 product requests through the load balancer (10.200.0.10), who answered"
python3 - <<'PY'
import collections, http.client, json
seen, failed = collections.Counter(), 0
for i in range(200):
    try:
        conn = http.client.HTTPConnection("10.200.0.10", 80, timeout=5)
        conn.request("GET", f"/products/{i % 50 + 1}")
        resp = conn.getresponse()
        body = json.loads(resp.read() or b"{}")
        if resp.status == 200:
            seen[(body.get("host"), body.get("release"))] += 1
        else:
            failed += 1
    except OSError:
        failed += 1
    finally:
        conn.close()
for (host, release), n in sorted(seen.items()):
    print(f"  {host:<22} release {release:<8} {n:>4} answers")
print(f"  failed requests: {failed}")
PY

say "down: drain, revoke, destroy, settle"
hybridburst down "$EVENT"

say "afterwards: what still runs of $EVENT (nothing)"
CONTAINERS_CONF=$PWD/src/hybridburst/providers/local/data/containers.conf \
  podman ps -a --filter "label=hybridburst.event=$EVENT" --format '  {{.Names}} {{.Status}}'
echo "  containers of $EVENT left: $(CONTAINERS_CONF=$PWD/src/hybridburst/providers/local/data/containers.conf \
  podman ps -aq --filter "label=hybridburst.event=$EVENT" | wc -l)"
