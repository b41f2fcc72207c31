#!/usr/bin/env bash
# Push the image archives `make images` wrote (bin/images/<name>.tar) to a
# registry as <registry>/layering-detection-<name>:<tag> with crane
# (go-containerregistry, pinned in tools/go.mod), then give the same image
# every extra tag. Registry credentials are crane's (docker config.json):
# CI logs in to ECR before.
#
#   .github/scripts/push-images.sh REGISTRY TAG [EXTRA_TAG...]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 2 ]; then
	echo "usage: $0 REGISTRY TAG [EXTRA_TAG...]   (e.g. 111122223333.dkr.ecr.us-east-1.amazonaws.com \$GITHUB_SHA 1.4.2)" >&2
	exit 2
fi
registry=$1 tag=$2
shift 2
shopt -s nullglob
archives=("$PWD"/bin/images/*.tar)
if [ ${#archives[@]} -eq 0 ]; then
	echo "no image archives in bin/images: run make images first" >&2
	exit 2
fi
crane() { go -C tools tool crane "$@"; }
for archive in "${archives[@]}"; do
	ref=$registry/layering-detection-$(basename "$archive" .tar):$tag
	crane push "$archive" "$ref"
	for extra in "$@"; do
		crane tag "$ref" "$extra"
	done
done
