#!/usr/bin/env bash
# Figures for `kubectl layering rollback --to-ecs` against the local AWS
# (issue 14): from 100 % on EKS with the ECS services scaled in to 0 (their
# capacity recorded on their tags, as cutover --scale-in-ecs leaves them), the
# time from the start until every rule sends all traffic to ECS, against the
# ECS services' own time to stable (their "has reached a steady state" events).
# Goal: at most stable + 2 s. Needs the local AWS (make aws) and Debian's AWS
# CLI; no cluster (the way back to ECS must not depend on one).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f .local-aws/env ] || { echo "no local AWS: run make aws first" >&2; exit 2; }
# shellcheck source=/dev/null
. .local-aws/env
make -s build
runs=${RUNS:-3}
cli() { aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; } # Debian's AWS CLI 2.9 does not read AWS_ENDPOINT_URL
cluster=layering-detection-cluster
services=(orchestrator layering wash-trading aggregator)
declare -A desired=([orchestrator]=1 [layering]=2 [wash-trading]=2 [aggregator]=1) min=([orchestrator]=1 [layering]=1 [wash-trading]=1 [aggregator]=1) \
  max=([orchestrator]=5 [layering]=10 [wash-trading]=10 [aggregator]=5)

curl -fsS -X POST "$AWS_ENDPOINT_URL/_local-aws/reset" >/dev/null
lb=$(cli elbv2 describe-load-balancers --names layering-detection-alb --query 'LoadBalancers[0].LoadBalancerArn' --output text)
declare -A tg svc_arn
for s in "${services[@]}"; do
  svc_arn[$s]=$(cli ecs describe-services --cluster "$cluster" --services "layering-detection-$s" --query 'services[0].serviceArn' --output text)
  for side in tg eks-tg; do
    tg[$s-$side]=$(cli elbv2 describe-target-groups --names "layering-detection-$s-$side" --query 'TargetGroups[0].TargetGroupArn' --output text)
  done
done
# rule ARN (or listener ARN for its default action) → service
declare -A rules
for l in $(cli elbv2 describe-listeners --load-balancer-arn "$lb" --query 'Listeners[].ListenerArn' --output text); do
  while read -r arn isdefault target; do
    for s in "${services[@]}"; do
      if [ "$target" = "${tg[$s-tg]}" ]; then
        if [ "$isdefault" = True ]; then rules[$l]=$s; else rules[$arn]=$s; fi
      fi
    done
  done < <(cli elbv2 describe-rules --listener-arn "$l" --query 'Rules[].[RuleArn,IsDefault,Actions[0].ForwardConfig.TargetGroups[0].TargetGroupArn]' --output text)
done

# 100 % on EKS, ECS scaled in with its capacity recorded: where a cutover with --scale-in-ecs ends.
all_on_eks() {
  for arn in "${!rules[@]}"; do
    s=${rules[$arn]}
    action="Type=forward,ForwardConfig={TargetGroups=[{TargetGroupArn=${tg[$s-tg]},Weight=0},{TargetGroupArn=${tg[$s-eks-tg]},Weight=100}]}"
    case $arn in
      *:listener/*) cli elbv2 modify-listener --listener-arn "$arn" --default-actions "$action" >/dev/null ;;
      *) cli elbv2 modify-rule --rule-arn "$arn" --actions "$action" >/dev/null ;;
    esac
  done
  for s in "${services[@]}"; do
    cli ecs tag-resource --resource-arn "${svc_arn[$s]}" \
      --tags "[{\"key\":\"kubectl-layering/capacity-before-scale-in\",\"value\":\"desired=${desired[$s]},min=${min[$s]},max=${max[$s]}\"}]"
    cli application-autoscaling register-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount \
      --resource-id "service/$cluster/layering-detection-$s" --min-capacity 0 --max-capacity 0 >/dev/null
    cli ecs update-service --cluster "$cluster" --service "layering-detection-$s" --desired-count 0 >/dev/null
  done
  # every ECS task stopped (the CLI's own waiter polls every 15 s)
  until [ "$(cli ecs describe-services --cluster "$cluster" --services "${services[@]/#/layering-detection-}" --query 'sum(services[].runningCount)' --output text)" = 0 ]; do
    sleep 1
  done
}

now() { date +%s.%N; }
printf '%3s %14s %16s %16s %10s\n' run "ECS stable (s)" "all on ECS (s)" "after stable" "goal ≤ 2 s"
for i in $(seq "$runs"); do
  all_on_eks
  t0=$(now)
  out=$(bin/kubectl-layering rollback --to-ecs --env prod --kubeconfig /dev/null -o json 2>/dev/null)
  t1=$(now)
  # When ECS itself reported each service steady, after t0: the slowest one.
  # shellcheck disable=SC2016 # backquotes are JMESPath literals
  stable=$(cli ecs describe-services --cluster "$cluster" --services "${services[@]/#/layering-detection-}" \
    --query 'services[].events[?contains(message, `steady state`)] | [].createdAt' --output text | tr '\t' '\n' |
    awk -v t0="$t0" '$1 >= t0 && $1 > m { m = $1 } END { printf "%.3f", m - t0 }')
  weights=$(cli elbv2 describe-rules --listener-arn "$(cli elbv2 describe-listeners --load-balancer-arn "$lb" --query 'Listeners[0].ListenerArn' --output text)" \
    --query 'Rules[].Actions[0].ForwardConfig.TargetGroups[0].Weight' --output text)
  [ "$(echo "$weights" | tr -s '\t ' '\n' | sort -u)" = 100 ] || { echo "run $i: not every rule is on ECS: $weights" >&2; exit 1; }
  echo "$out" | grep -q '"outcome": "all traffic on ECS"' || { echo "run $i: $out" >&2; exit 1; }
  all=$(echo "$t1 - $t0" | bc)
  printf '%3d %14s %16.3f %16.3f %10s\n' "$i" "$stable" "$all" "$(echo "$all - $stable" | bc)" "$(echo "$all - $stable <= 2" | bc | sed 's/1/yes/;s/0/no/')"
done
echo "(all on ECS: the command's wall time, from start to exit; ECS stable: the last service's steady-state event after the start)"
