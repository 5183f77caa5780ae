#!/usr/bin/env bash
# shellcheck disable=SC2016 # backticks in single quotes are JMESPath literals (aws --query), not shell
# Deploys the ANB Rising Stars Showcase to AWS: builds and pushes the image, makes sure the auth signing key
# and the collector config exist, packages the nested CloudFormation templates and deploys the root stack.
# See infra/README.md for what gets created and what it costs.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh [options] [-- Key=Value ...]

Builds the service image, pushes it to ECR, and creates or updates the CloudFormation stack.

Options:
  --prefix NAME            environment prefix of every resource name (default: anb-prod; 2-20 of a-z 0-9 -)
  --region REGION          AWS region (default: $AWS_REGION, else the CLI's configured region)
  --stack-name NAME        root stack name (default: the prefix)
  --certificate-arn ARN    ACM certificate: HTTPS on the ALB, HTTP redirects to it (default: HTTP only)
  --alarm-email ADDRESS    subscribe this address to the alarm topic
  --arch amd64|arm64       image platform; arm64 runs on Graviton, about 20% cheaper (default: amd64)
  --image-tag TAG          tag to build/push/run (default: git commit, +"-dirty-<time>" for uncommitted changes)
  --skip-build             do not build or push; the tag must already be in ECR
  --artifacts-bucket NAME  S3 bucket for the packaged nested templates (default: <prefix>-cfn-<account>-<region>)
  -h, --help               this help

Anything after "--" is passed to the stack as a parameter override, e.g.
  scripts/deploy.sh --prefix anb-demo -- GatewayMaxTasks=2 DatabaseDeletionProtection=false

Needs: aws CLI v2 (or v1 >= 1.27) with credentials, docker (with buildx for --arch other than the host's),
openssl, git. Idempotent: run it again to roll out a new version.
EOF
}

die() { echo "deploy: $*" >&2; exit 1; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

prefix=anb-prod
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
stack_name=""
certificate_arn=""
alarm_email=""
arch=amd64
image_tag=""
skip_build=false
artifacts_bucket=""
overrides=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --stack-name) stack_name="${2:?--stack-name needs a value}"; shift 2 ;;
    --certificate-arn) certificate_arn="${2:?--certificate-arn needs a value}"; shift 2 ;;
    --alarm-email) alarm_email="${2:?--alarm-email needs a value}"; shift 2 ;;
    --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
    --image-tag) image_tag="${2:?--image-tag needs a value}"; shift 2 ;;
    --skip-build) skip_build=true; shift ;;
    --artifacts-bucket) artifacts_bucket="${2:?--artifacts-bucket needs a value}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; overrides=("$@"); break ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

[[ "$prefix" =~ ^[a-z][a-z0-9-]{1,19}$ ]] || die "--prefix must be 2-20 lowercase letters, digits or dashes, starting with a letter"
case "$arch" in
  amd64) cpu_architecture=X86_64 ;;
  arm64) cpu_architecture=ARM64 ;;
  *) die "--arch must be amd64 or arm64" ;;
esac
stack_name="${stack_name:-$prefix}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

# ── prerequisites ────────────────────────────────────────────────────────────────────────────────────
command -v aws >/dev/null 2>&1 || die "the aws CLI is required: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
command -v openssl >/dev/null 2>&1 || die "openssl is required (to generate the JWT signing key once)"
if [[ "$skip_build" == false ]]; then
  command -v docker >/dev/null 2>&1 || die "docker is required to build the image (or pass --skip-build with an --image-tag already in ECR)"
  docker info >/dev/null 2>&1 || die "docker is installed but its daemon does not answer"
fi
if [[ -z "$region" ]]; then
  region="$(aws configure get region 2>/dev/null || true)"
fi
[[ -n "$region" ]] || die "no region: pass --region or set AWS_REGION"
export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"

account="$(aws sts get-caller-identity --query Account --output text)" || die "no AWS credentials (aws sts get-caller-identity failed)"
registry="${account}.dkr.ecr.${region}.amazonaws.com"
repository="$prefix"
artifacts_bucket="${artifacts_bucket:-${prefix}-cfn-${account}-${region}}"

if [[ -z "$image_tag" ]]; then
  image_tag="$(git rev-parse --short=12 HEAD 2>/dev/null || echo manual)"
  if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then
    image_tag="${image_tag}-dirty-$(date -u +%Y%m%d%H%M%S)"
  fi
fi

echo "stack ${stack_name} · prefix ${prefix} · account ${account} · region ${region} · image ${repository}:${image_tag} (${arch})"

# ── image ────────────────────────────────────────────────────────────────────────────────────────────
step "ECR repository ${repository}"
if ! aws ecr describe-repositories --repository-names "$repository" >/dev/null 2>&1; then
  aws ecr create-repository --repository-name "$repository" \
    --image-scanning-configuration scanOnPush=true \
    --image-tag-mutability IMMUTABLE \
    --encryption-configuration encryptionType=AES256 >/dev/null
  # keep the registry small: untagged layers go after a day, only the last 20 images stay
  aws ecr put-lifecycle-policy --repository-name "$repository" --lifecycle-policy-text '{"rules":[
    {"rulePriority":1,"description":"untagged","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}},
    {"rulePriority":2,"description":"keep 20","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":20},"action":{"type":"expire"}}]}' >/dev/null
  echo "created"
else
  echo "exists"
fi

if [[ "$skip_build" == false ]]; then
  if aws ecr describe-images --repository-name "$repository" --image-ids imageTag="$image_tag" >/dev/null 2>&1; then
    step "image ${image_tag} is already in ECR (tags are immutable): not rebuilding"
  else
    step "build and push ${registry}/${repository}:${image_tag}"
    aws ecr get-login-password | docker login --username AWS --password-stdin "$registry"
    docker build --platform "linux/${arch}" --tag "${registry}/${repository}:${image_tag}" "$repo_root"
    docker push "${registry}/${repository}:${image_tag}"
  fi
else
  aws ecr describe-images --repository-name "$repository" --image-ids imageTag="$image_tag" >/dev/null 2>&1 \
    || die "--skip-build: ${repository}:${image_tag} is not in ECR"
fi

# ── secrets and config that CloudFormation cannot make ───────────────────────────────────────────────
jwt_secret_name="${prefix}/auth/jwt-private-key"
step "auth signing key (Secrets Manager ${jwt_secret_name})"
if jwt_secret_arn="$(aws secretsmanager describe-secret --secret-id "$jwt_secret_name" --query ARN --output text 2>/dev/null)"; then
  # a teardown schedules it for deletion with a recovery window: a redeploy takes it back
  if [[ "$(aws secretsmanager describe-secret --secret-id "$jwt_secret_name" --query DeletedDate --output text)" != None ]]; then
    aws secretsmanager restore-secret --secret-id "$jwt_secret_name" >/dev/null
    echo "restored from its scheduled deletion"
  fi
  echo "exists (kept: replacing it would invalidate every issued token)"
else
  (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$scratch/jwt.pem")
  jwt_secret_arn="$(aws secretsmanager create-secret --name "$jwt_secret_name" \
    --description "ANB ${prefix}: auth's RSA-2048 JWT signing key (PKCS8 PEM, RS256), generated by scripts/deploy.sh" \
    --secret-string "file://$scratch/jwt.pem" --query ARN --output text)"
  rm -f "$scratch/jwt.pem"
  echo "generated"
fi

collector_config="observability/collector/adot-config.yaml"
collector_parameter=""
collector_version="default"
step "ADOT collector config"
if [[ -f "$collector_config" ]]; then
  collector_parameter="/${prefix}/adot-collector-config"
  collector_version="$(openssl dgst -sha256 -r "$collector_config" | cut -c1-16)"
  # Advanced tier: up to 8 KB (Standard stops at 4 KB)
  aws ssm put-parameter --name "$collector_parameter" --type String --tier Advanced --overwrite \
    --description "ANB ${prefix}: ${collector_config}" --value "file://${collector_config}" >/dev/null
  echo "${collector_config} → SSM ${collector_parameter} (sha256 ${collector_version})"
else
  echo "${collector_config} not found: the sidecars use the collector image's default ECS config"
fi

# ── templates ────────────────────────────────────────────────────────────────────────────────────────
step "check the generated templates are current"
if command -v node >/dev/null 2>&1 && [[ -d node_modules ]]; then
  node --import tsx infra/src/cfn/generate.ts --check
else
  echo "node_modules missing: skipped (CI checks it)"
fi

step "artifacts bucket ${artifacts_bucket}"
if ! aws s3api head-bucket --bucket "$artifacts_bucket" >/dev/null 2>&1; then
  if [[ "$region" == us-east-1 ]]; then
    aws s3api create-bucket --bucket "$artifacts_bucket" >/dev/null
  else
    aws s3api create-bucket --bucket "$artifacts_bucket" --create-bucket-configuration "LocationConstraint=${region}" >/dev/null
  fi
  aws s3api put-public-access-block --bucket "$artifacts_bucket" \
    --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  aws s3api put-bucket-encryption --bucket "$artifacts_bucket" \
    --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
  echo "created"
else
  echo "exists"
fi

packaged="$scratch/packaged.yaml"
step "package nested templates"
aws cloudformation package \
  --template-file infra/cloudformation/main.yaml \
  --s3-bucket "$artifacts_bucket" \
  --s3-prefix "$stack_name" \
  --output-template-file "$packaged" >/dev/null
echo "uploaded to s3://${artifacts_bucket}/${stack_name}/"

parameters=(
  "Prefix=${prefix}"
  "EcrRepository=${repository}"
  "ImageTag=${image_tag}"
  "CpuArchitecture=${cpu_architecture}"
  "JwtPrivateKeySecretArn=${jwt_secret_arn}"
  "CertificateArn=${certificate_arn}"
  "AlarmEmail=${alarm_email}"
  "CollectorConfigParameter=${collector_parameter}"
  "CollectorConfigVersion=${collector_version}"
)
if [[ ${#overrides[@]} -gt 0 ]]; then
  parameters+=("${overrides[@]}")
fi

step "deploy stack ${stack_name} (first run: ~25 minutes, mostly RDS and NAT)"
# `deploy` creates a change set, executes it and waits for CREATE/UPDATE_COMPLETE; CloudFormation itself
# waits for the ECS services to reach a steady state (or the circuit breaker rolls them back)
if ! aws cloudformation deploy \
  --stack-name "$stack_name" \
  --template-file "$packaged" \
  --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset \
  --tags "project=anb-rising-stars" "environment=${prefix}" \
  --parameter-overrides "${parameters[@]}"; then
  echo "deploy failed; the first failures (nested stacks name their own stack in the reason):" >&2
  aws cloudformation describe-stack-events --stack-name "$stack_name" \
    --query 'StackEvents[?contains(ResourceStatus, `FAILED`)].[Timestamp,LogicalResourceId,ResourceStatusReason]' \
    --output table --max-items 10 >&2 || true
  exit 1
fi

step "done"
aws cloudformation describe-stacks --stack-name "$stack_name" \
  --query 'Stacks[0].Outputs[?OutputKey==`ApplicationUrl` || OutputKey==`ClusterName` || OutputKey==`VideosBucketName` || OutputKey==`AlarmTopicArn`].[OutputKey,OutputValue]' \
  --output table
url="$(aws cloudformation describe-stacks --stack-name "$stack_name" --query 'Stacks[0].Outputs[?OutputKey==`ApplicationUrl`].OutputValue' --output text)"
echo
echo "API:      ${url}/api"
echo "Swagger:  ${url}/api/docs"
echo "Health:   ${url}/health"
