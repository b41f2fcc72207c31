#!/usr/bin/env bash
# The deploy step of .github/workflows/deploy-env.yml for one environment, with
# kubectl's context and the AWS credentials already set: deploy the images of
# TAG (rolled back to the previous revision if it does not become healthy),
# verify the environment, then bring its CloudWatch alarms and dashboard in
# line. Any failing step fails the job, so the next environment is not deployed.
#
#   .github/scripts/deploy.sh ENV IMAGE_TAG
# The e2e runs it against the local cluster (test/e2e/workflow_test.go):
# deploy.sh local <tag>. The local environment has no Container Insights, so
# no alarms sync there (its alarms are proven against the local AWS by the
# alarms e2e).
set -euo pipefail
if [ $# -ne 2 ]; then
	echo "usage: $0 ENV IMAGE_TAG   (ENV: dev, staging, prod or local)" >&2
	exit 2
fi
env=$1 tag=$2
run() {
	echo "+ $*"
	"$@"
}

run kubectl layering deploy --env "$env" --image-tag "$tag" --atomic --wait-for-metrics  # verify (next) proves the autoscalers read metrics: wait for their first
run kubectl layering verify --env "$env"
if [ "$env" != local ]; then
	run kubectl layering alarms sync --env "$env"
fi
