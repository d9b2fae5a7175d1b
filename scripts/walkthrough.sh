#!/usr/bin/env bash
# Runs the ClusterIP Service walkthrough against the CURRENT kube context and
# checks every step, printing PASS/FAIL/SKIP per step.
#
# For people with a real cluster (kind, minikube, ...) and the images
# snackbar/order:1.0 and snackbar/payment:1.0 loaded into it. CI has no
# cluster and does not run this script; test/k8s checks the manifests offline.
#
# Usage: scripts/walkthrough.sh [--with-delivery] [--no-apply] [--cleanup]
#   --with-delivery  also apply k8s/fancy-snackbar/ (delivery.fancy-snackbar)
#   --no-apply       check what is already deployed, change nothing
#   --cleanup        delete what k8s/ (and k8s/fancy-snackbar/) created, at the end
# Environment: KUBECTL (default kubectl), LOCAL_PORT (8080, for port-forward),
#   CLUSTER_DOMAIN (cluster.local), ROLLOUT_TIMEOUT (180s).
#
# No `set -e`: a failed step is reported and the following steps still run,
# so one run shows everything that is wrong.
set -u -o pipefail

KUBECTL=${KUBECTL:-kubectl}
LOCAL_PORT=${LOCAL_PORT:-8080}
CLUSTER_DOMAIN=${CLUSTER_DOMAIN:-cluster.local}
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-180s}
NS=snackbar

with_delivery=false apply=true cleanup=false
for arg in "$@"; do
  case "$arg" in
    --with-delivery) with_delivery=true ;;
    --no-apply) apply=false ;;
    --cleanup) cleanup=true ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.." || exit 2

passed=0 failed=0 skipped=0
pass() { printf 'PASS  %s\n' "$1"; passed=$((passed + 1)); }
fail() {
  printf 'FAIL  %s\n' "$1"
  if [ -n "${2:-}" ]; then printf '      %s\n' "$2"; fi
  failed=$((failed + 1))
}
skip() { printf 'SKIP  %s (%s)\n' "$1" "$2"; skipped=$((skipped + 1)); }
# check NAME CONDITION-EXIT-STATUS [HINT]
check() { if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "${3:-}"; fi; }

# Shows a command as people type it, runs it, keeps its output in $out and
# prints it indented. run_shown takes the text to show first.
out=''
run_shown() {
  printf '\n$ %s\n' "$1"
  shift
  out=$("$@" 2>&1)
  local rc=$?
  if [ -n "$out" ]; then printf '%s\n' "$out" | sed 's/^/    /'; fi
  return $rc
}
run() { run_shown "$*" "$@"; }
k() { "$KUBECTL" "$@"; }

pf_pid=''
stop_port_forward() {
  # Only the port-forward this script started, by its pid.
  if [ -n "$pf_pid" ]; then kill "$pf_pid" 2>/dev/null; wait "$pf_pid" 2>/dev/null; pf_pid=''; fi
}
trap stop_port_forward EXIT

# --- 0. Which cluster -------------------------------------------------------
if ! command -v "$KUBECTL" >/dev/null 2>&1; then
  echo "FAIL  $KUBECTL not found"; exit 1
fi
if ! context=$(k config current-context 2>/dev/null); then
  echo "FAIL  no current kube context (kind create cluster / minikube start first)"; exit 1
fi
echo "kube context: $context"

# --- 1. Apply: namespace, then Services, then Deployments ---------------------
if $apply; then
  run "$KUBECTL" apply -k k8s/
  check "kubectl apply -k k8s/" $? "are the images loaded? see README, Deploy to a real cluster"
  if $with_delivery; then
    run "$KUBECTL" apply -k k8s/fancy-snackbar/
    check "kubectl apply -k k8s/fancy-snackbar/" $?
  fi
else
  skip "kubectl apply -k k8s/" "--no-apply"
fi

for d in payment order; do
  run "$KUBECTL" -n "$NS" rollout status "deployment/$d" --timeout="$ROLLOUT_TIMEOUT"
  check "deployment/$d rolled out" $? "kubectl -n $NS describe pods -l service=$d; kubectl -n $NS get events"
done

# --- 2. Services and endpoints ---------------------------------------------
run "$KUBECTL" -n "$NS" get services
for s in order payment; do
  got=$(k -n "$NS" get service "$s" -o jsonpath='{.spec.type} {.spec.ports[0].port}->{.spec.ports[0].targetPort}' 2>&1)
  [ "$got" = "ClusterIP 80->http" ]
  check "service/$s is ClusterIP 80 -> http (got: $got)" $?
done

run "$KUBECTL" -n "$NS" get endpoints
payment_ips=$(k -n "$NS" get endpoints payment -o jsonpath='{range .subsets[*].addresses[*]}{.ip}{"\n"}{end}' 2>/dev/null | grep -c .)
payment_ports=$(k -n "$NS" get endpoints payment -o jsonpath='{.subsets[*].ports[*].port}' 2>/dev/null)
[ "$payment_ips" -eq 2 ] && [ "$payment_ports" = "8080" ]
check "endpoints/payment lists 2 pod IPs on port 8080 (got $payment_ips on '$payment_ports')" $?

# --- 3. port-forward to the order Service ------------------------------------
if command -v curl >/dev/null 2>&1; then
  printf '\n$ %s -n %s port-forward service/order %s:80 &\n' "$KUBECTL" "$NS" "$LOCAL_PORT"
  # Called directly, not through k(): $! must be the port-forward itself, not a subshell.
  "$KUBECTL" -n "$NS" port-forward service/order "$LOCAL_PORT:80" >/dev/null 2>&1 &
  pf_pid=$!
  answer=''
  for _ in $(seq 1 20); do
    if answer=$(curl -s --max-time 2 "localhost:$LOCAL_PORT" 2>/dev/null) && [ -n "$answer" ]; then break; fi
    sleep 0.5
  done
  printf '$ curl localhost:%s\n    %s\n' "$LOCAL_PORT" "$answer"
  [[ "$answer" == "order "* ]]
  check "curl localhost:$LOCAL_PORT through port-forward answers from an order pod" $? \
    "is port $LOCAL_PORT free? set LOCAL_PORT=18080"
  stop_port_forward
else
  skip "port-forward + curl localhost:$LOCAL_PORT" "no curl on this machine"
fi

# --- 4. Inside an order pod --------------------------------------------------
order_pod=$(k -n "$NS" get pods -l service=order,project=snackbar --field-selector=status.phase=Running \
  -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
if [ -z "$order_pod" ]; then
  fail "find a running order pod" "kubectl -n $NS get pods -l service=order"
  order_pod=missing
fi
kx() { k -n "$NS" exec "$order_pod" -- "$@"; }
# in_order CMD...: run CMD inside the order pod, shown as the kubectl exec line people type.
in_order() { run_shown "$KUBECTL -n $NS exec $order_pod -- $*" kx "$@"; }

printf '\n$ %s -n %s exec %s -- env | grep PAYMENT\n' "$KUBECTL" "$NS" "$order_pod"
env_out=$(kx env 2>&1 | grep PAYMENT | sort)
printf '%s\n' "$env_out" | sed 's/^/    /'
cluster_ip=$(k -n "$NS" get service payment -o jsonpath='{.spec.clusterIP}' 2>/dev/null)
grep -qx "PAYMENT_SERVICE_HOST=$cluster_ip" <<<"$env_out" && grep -qx 'PAYMENT_SERVICE_PORT=80' <<<"$env_out"
check "order sees PAYMENT_SERVICE_HOST=$cluster_ip (the payment ClusterIP) and PAYMENT_SERVICE_PORT=80" $? \
  "service links are injected only into pods created after the Service: kubectl -n $NS rollout restart deployment/order"

# Ten new connections through the ClusterIP: kube-proxy picks a payment pod for each.
# shellcheck disable=SC2016 # expanded inside the pod, on purpose
loop='for i in 1 2 3 4 5 6 7 8 9 10; do curl -s --max-time 3 $PAYMENT_SERVICE_HOST:$PAYMENT_SERVICE_PORT; done'
run_shown "$KUBECTL -n $NS exec $order_pod -- sh -c '$loop'" kx sh -c "$loop"
answers=$(grep -c '^payment ' <<<"$out")
distinct=$(grep -o 'pod=[^ ]*' <<<"$out" | sort -u | grep -c .)
[ "$answers" -eq 10 ] && [ "$distinct" -eq 2 ]
check "10 curls to \$PAYMENT_SERVICE_HOST:\$PAYMENT_SERVICE_PORT answered by both payment pods ($answers answers, $distinct pods)" $? \
  "with random balancing all 10 land on one pod about 1 run in 512; run again"

for target in payment:80 payment.snackbar "payment.snackbar.svc.$CLUSTER_DOMAIN"; do
  in_order curl -s --max-time 5 "$target"
  [[ "$out" == "payment "*"namespace=snackbar"* ]]
  check "curl -s $target answers from a payment pod" $?
done

in_order cat /etc/resolv.conf
grep -q "^search $NS.svc.$CLUSTER_DOMAIN svc.$CLUSTER_DOMAIN $CLUSTER_DOMAIN" <<<"$out" && grep -q 'ndots:5' <<<"$out"
check "resolv.conf searches $NS.svc.$CLUSTER_DOMAIN svc.$CLUSTER_DOMAIN $CLUSTER_DOMAIN with ndots:5" $? \
  "set CLUSTER_DOMAIN if your cluster uses another domain"

# --- 5. Another namespace (optional) -----------------------------------------
if k -n fancy-snackbar get deployment delivery >/dev/null 2>&1; then
  run "$KUBECTL" -n fancy-snackbar rollout status deployment/delivery --timeout="$ROLLOUT_TIMEOUT"
  check "deployment/delivery rolled out" $?
  in_order curl -s --max-time 5 delivery.fancy-snackbar
  [[ "$out" == "delivery "*"namespace=fancy-snackbar"* ]]
  check "curl delivery.fancy-snackbar reaches the Service in namespace fancy-snackbar" $?
  # The short name only searches the pod's own namespace, so this must fail.
  in_order curl -s --max-time 5 delivery
  grep -q 'exit code 6' <<<"$out"
  check "curl delivery (short name) does not resolve from namespace snackbar (curl exit 6)" $?
else
  skip "curl delivery.fancy-snackbar" "apply k8s/fancy-snackbar/ or pass --with-delivery"
fi

# --- 6. Clean up (optional) ----------------------------------------------------
if $cleanup; then
  run "$KUBECTL" delete -k k8s/fancy-snackbar/ --ignore-not-found
  deleted_delivery=$?
  run "$KUBECTL" delete -k k8s/ --ignore-not-found
  check "deleted what the walkthrough applied" $(($? | deleted_delivery))
fi

printf '\n%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
