#!/usr/bin/env bash
# A real Slurm cluster on 127.0.0.1 (munged, slurmctld and one slurmd with 4 CPUs, from Debian's
# packages, configured in a scratch directory) runs scripts/slurm/keval-array.sbatch as a 4-element
# array job against the mock server. One element fails on its first submission (a stand-in binary
# exits 1 for shard 2); it is re-submitted alone and the merge completes. The merged results must
# equal the same run made on one machine, ids and timings aside.
# Usage: slurm_test.sh BUILD_DIR SOURCE_DIR. Exit 77 (skipped) when Slurm is not installed.
set -euo pipefail
build="$(cd "$1" && pwd)"
source_dir="$(cd "$2" && pwd)"
keval="$build/keval"
mock="$build/keval-mock-server"

for tool in munged slurmctld slurmd sbatch squeue scontrol sinfo python3; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool is missing (scripts/setup.sh --test installs Slurm)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: slurmd runs jobs as root here; run the tests as root"; exit 77; }

work="$(mktemp -d /tmp/keval-slurm.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -f "$work/munge/munged.pid" ]; then kill "$(cat "$work/munge/munged.pid")" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAILED: $*"; for f in "$work"/*.log "$work"/out/*.out; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done; exit 1; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# munge: a fresh key and socket of the test's own.
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/out"
chmod 755 "$work/munge"  # munged wants its socket directory searchable by all
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge.log" --seed-file="$work/munge/seed"

cat >"$work/slurm.conf" <<CONF
ClusterName=kevaltest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=4 RealMemory=2000 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >"$work/slurmctld.stdout.log" 2>&1 &
pids+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$work/slurmd.stdout.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  state="$(sinfo -h -n localhost -o %T 2>/dev/null || true)"
  [ "$state" = "idle" ] && break
  sleep 0.2
done
[ "$state" = "idle" ] || fail "the Slurm node did not come up (state '$state')"

# The model: the mock OpenAI-compatible server.
"$mock" --port 0 >"$work/port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port="$(head -1 "$work/port")"
args=(--tasks kobest_copa,kmmlu_accounting,korquad_v1,korsts --limit 40 --backend openai-chat --model mock
      --base-url "http://127.0.0.1:$port/v1" --concurrency 4)

# One machine.
"$keval" run "${args[@]}" --name one --db "$work/one.db" --no-progress >/dev/null || fail "the one-machine run failed"

# The array job, with a stand-in binary that fails shard 2 before keval starts.
cat >"$work/flaky-keval" <<SH
#!/usr/bin/env bash
[ "\${SLURM_ARRAY_TASK_ID:-}" = 2 ] && { echo "simulated node failure" >&2; exit 1; }
exec "$keval" "\$@"
SH
chmod +x "$work/flaky-keval"
submit() {  # array keval-binary
  KEVAL="$2" KEVAL_SHARDS=4 KEVAL_OUT="$work/shards" KEVAL_NAME=nightly \
    sbatch --parsable --chdir="$work/out" --output="$work/out/keval-%A_%a.out" --array="$1" \
    "$source_dir/scripts/slurm/keval-array.sbatch" "${args[@]}" | cut -d';' -f1
}
wait_job() {  # job id: until squeue no longer lists it
  for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  fail "job $1 did not finish in 5 minutes"
}
element_state() {  # job id, index
  scontrol show job "$1_$2" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1
}

job="$(submit 0-3 "$work/flaky-keval")"
wait_job "$job"
for i in 0 1 3; do [ "$(element_state "$job" "$i")" = COMPLETED ] || fail "element $i: $(element_state "$job" "$i")"; done
[ "$(element_state "$job" 2)" = FAILED ] || fail "element 2 should have failed: $(element_state "$job" 2)"

"$keval" merge --db "$work/merged.db" "$work"/shards/shard-*.db --json >"$work/merge1.json" || fail "the first merge failed"
python3 - "$work/merge1.json" <<'PY' || fail "the partial merge is not reported as incomplete"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["run"]["status"] == "incomplete", m["run"]["status"]
assert m["merge"]["missing_shards"] == [2], m["merge"]
PY

job2="$(submit 2 "$keval")"
wait_job "$job2"
[ "$(element_state "$job2" 2)" = COMPLETED ] || fail "the re-submitted element: $(element_state "$job2" 2)"
"$keval" merge --db "$work/merged.db" "$work"/shards/shard-*.db --json >"$work/merge2.json" || fail "the second merge failed"
"$keval" results --db "$work/one.db" --run one --json >"$work/one.json"
"$keval" results --db "$work/merged.db" --run nightly --json >"$work/merged.json"
python3 - "$work/one.json" "$work/merged.json" "$work/merge2.json" <<'PY' || fail "the merged results differ from the one-machine run"
import json, sys
one, merged, merge2 = (json.load(open(p)) for p in sys.argv[1:])
assert merge2["merge"]["imported"] == [2] and merge2["merge"]["unchanged"] == [0, 1, 3], merge2["merge"]
assert merged["run"]["status"] == "complete", merged["run"]
assert len(one["tasks"]) >= 7, one["tasks"]
assert one["tasks"] == merged["tasks"], [(a, b) for a, b in zip(one["tasks"], merged["tasks"]) if a != b][:2]
print("merged run equals the one-machine run:", len(one["tasks"]), "task results")
PY
echo "slurm: 4-shard array job, one element re-submitted, merged exactly"
