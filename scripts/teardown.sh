#!/usr/bin/env bash
# shellcheck disable=SC2016 # backticks in single quotes are JMESPath literals (aws --query), not shell
# Removes a deployment made by scripts/deploy.sh. Destroys data: every uploaded and processed video, the job
# ledger, and the database (RDS keeps a final snapshot, which you delete yourself when you no longer want it).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/teardown.sh [options]

Deletes the CloudFormation stack of an environment and what deploy.sh made beside it.

Options:
  --prefix NAME            environment prefix used at deploy time (default: anb-prod)
  --region REGION          AWS region (default: $AWS_REGION, else the CLI's configured region)
  --stack-name NAME        root stack name (default: the prefix)
  --keep-image             keep the ECR repository and its images
  --keep-signing-key       keep auth's JWT signing key secret (a redeploy then accepts old tokens)
  --yes                    do not ask (for scripts; you accept the data loss described below)
  -h, --help               this help

Order: the videos bucket is emptied first (CloudFormation cannot delete a non-empty bucket), RDS deletion
protection is lifted, then the root stack is deleted — CloudFormation removes the nested stacks in reverse
dependency order (services → database, storage, messaging, edge → observability, network) — and last
the ECR repository, the signing key, the collector config parameter and the templates bucket.
EOF
}

die() { echo "teardown: $*" >&2; exit 1; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

prefix=anb-prod
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
stack_name=""
keep_image=false
keep_key=false
assume_yes=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --stack-name) stack_name="${2:?--stack-name needs a value}"; shift 2 ;;
    --keep-image) keep_image=true; shift ;;
    --keep-signing-key) keep_key=true; shift ;;
    --yes) assume_yes=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[[ "$prefix" =~ ^[a-z][a-z0-9-]{1,19}$ ]] || die "--prefix must be 2-20 lowercase letters, digits or dashes"
stack_name="${stack_name:-$prefix}"

command -v aws >/dev/null 2>&1 || die "the aws CLI is required"
if [[ -z "$region" ]]; then
  region="$(aws configure get region 2>/dev/null || true)"
fi
[[ -n "$region" ]] || die "no region: pass --region or set AWS_REGION"
export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"
account="$(aws sts get-caller-identity --query Account --output text)" || die "no AWS credentials"

output() {
  aws cloudformation describe-stacks --stack-name "$stack_name" \
    --query "Stacks[0].Outputs[?OutputKey==\`$1\`].OutputValue" --output text 2>/dev/null || true
}

stack_exists=false
if aws cloudformation describe-stacks --stack-name "$stack_name" >/dev/null 2>&1; then
  stack_exists=true
fi
bucket="$(output VideosBucketName)"
[[ -n "$bucket" && "$bucket" != None ]] || bucket="${prefix}-videos"
database="${prefix}-postgres"
artifacts_bucket="${prefix}-cfn-${account}-${region}"

cat <<EOF

About to DELETE environment "${prefix}" (stack ${stack_name}, account ${account}, region ${region}):
  - every video in s3://${bucket} (originals and processed) — gone for good
  - the database ${database}: its data survives only in the final snapshot RDS takes (it costs storage
    until you delete it: aws rds describe-db-snapshots --db-instance-identifier ${database})
  - queues (and any message still in them or in their DLQs), topics, the job ledger, logs, alarms
  - the network, the load balancer and the ECS services: the API goes offline
$( [[ "$keep_image" == true ]] && echo "  (keeping ECR repository ${prefix})" || echo "  - ECR repository ${prefix} and its images" )
$( [[ "$keep_key" == true ]] && echo "  (keeping the JWT signing key)" || echo "  - the JWT signing key ${prefix}/auth/jwt-private-key (7-day recovery window)" )
EOF
if [[ "$assume_yes" != true ]]; then
  [[ -t 0 ]] || die "not a terminal: pass --yes to confirm non-interactively"
  read -r -p "Type the prefix (${prefix}) to confirm: " answer
  [[ "$answer" == "$prefix" ]] || die "not confirmed; nothing was deleted"
fi

empty_bucket() {
  if aws s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
    aws s3 rm "s3://${bucket}" --recursive --only-show-errors
    # unfinished multipart uploads (an upload cut off mid-way) hold storage too
    aws s3api list-multipart-uploads --bucket "$bucket" --query 'Uploads[].[Key,UploadId]' --output text 2>/dev/null \
      | while read -r key upload_id; do
          [[ -n "$key" && "$key" != None ]] || continue
          aws s3api abort-multipart-upload --bucket "$bucket" --key "$key" --upload-id "$upload_id"
        done
  fi
}

# ── 1. empty the bucket (a non-empty bucket makes the stack delete fail) ───────────────────────────
step "empty s3://${bucket}"
if aws s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  empty_bucket
  echo "emptied"
else
  echo "no such bucket"
fi

# ── 2. lift RDS deletion protection (on by default) so the stack can take the final snapshot and delete it
step "database ${database}"
protected="$(aws rds describe-db-instances --db-instance-identifier "$database" \
  --query 'DBInstances[0].DeletionProtection' --output text 2>/dev/null || echo none)"
if [[ "$protected" == True || "$protected" == true ]]; then
  aws rds modify-db-instance --db-instance-identifier "$database" --no-deletion-protection --apply-immediately >/dev/null
  aws rds wait db-instance-available --db-instance-identifier "$database"
  echo "deletion protection lifted"
else
  echo "not protected (or not found)"
fi

# ── 3. the stack (CloudFormation deletes the nested stacks in reverse dependency order) ───────────────
if [[ "$stack_exists" == true ]]; then
  step "delete stack ${stack_name} (about 15 minutes)"
  # The services run until their nested stack is gone, so a video may land in the bucket after step 1 and
  # fail the storage stack's delete: then the bucket is emptied again (the services are gone by then) and
  # the delete retried once.
  for attempt in 1 2; do
    aws cloudformation delete-stack --stack-name "$stack_name"
    if aws cloudformation wait stack-delete-complete --stack-name "$stack_name"; then
      echo "deleted"
      break
    fi
    if [[ "$attempt" == 2 ]]; then
      echo "the delete did not complete; the failures:" >&2
      aws cloudformation describe-stack-events --stack-name "$stack_name" \
        --query 'StackEvents[?ResourceStatus==`DELETE_FAILED`].[LogicalResourceId,ResourceStatusReason]' \
        --output table --max-items 10 >&2 || true
      die "fix the cause and run teardown again"
    fi
    echo "delete failed once; emptying the bucket again and retrying"
    empty_bucket
  done
else
  step "stack ${stack_name} does not exist"
fi

# ── 4. what deploy.sh created outside CloudFormation ──────────────────────────────────────────────────
step "leftovers made by deploy.sh"
if [[ "$keep_image" != true ]] && aws ecr describe-repositories --repository-names "$prefix" >/dev/null 2>&1; then
  aws ecr delete-repository --repository-name "$prefix" --force >/dev/null
  echo "ECR repository ${prefix} deleted"
fi
if [[ "$keep_key" != true ]] && aws secretsmanager describe-secret --secret-id "${prefix}/auth/jwt-private-key" >/dev/null 2>&1; then
  aws secretsmanager delete-secret --secret-id "${prefix}/auth/jwt-private-key" --recovery-window-in-days 7 >/dev/null
  echo "JWT signing key scheduled for deletion (restore within 7 days with: aws secretsmanager restore-secret)"
fi
if aws ssm get-parameter --name "/${prefix}/adot-collector-config" >/dev/null 2>&1; then
  aws ssm delete-parameter --name "/${prefix}/adot-collector-config"
  echo "collector config parameter deleted"
fi
if aws s3api head-bucket --bucket "$artifacts_bucket" >/dev/null 2>&1; then
  aws s3 rb "s3://${artifacts_bucket}" --force >/dev/null
  echo "templates bucket ${artifacts_bucket} deleted"
fi
echo
echo "Environment ${prefix} is gone. Remaining on purpose: the final RDS snapshot (if any)."
