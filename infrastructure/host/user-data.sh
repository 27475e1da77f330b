# Runner host start (Debian 12, baked by EC2 Image Builder: infrastructure/abaco_infra/image.py). Rendered by
# infrastructure/abaco_infra/runners.py: @@NAME@@ placeholders are replaced by stack values. Everything the
# host runs is already in the image (Docker, busybox-static, the runner's venv, the SSM and CloudWatch agents,
# the ECR credential helper): no apt, no pip, no download here, so a host serves seconds after boot.
set -euo pipefail
cat > /etc/abaco/host.env <<ENV
AWS_DEFAULT_REGION=@@REGION@@
ABACO_SSM_PATH=@@SSM_PATH@@
ABACO_SECRET_ID=@@SECRET_ID@@
ABACO_BUNDLE_VERSION=@@VERSION@@
ENV
# Pulls from this account's ECR (and its pull-through cache) authenticate with the instance role.
install -d -o abaco -g abaco -m 0700 /opt/abaco/.docker
cat > /opt/abaco/.docker/config.json <<JSON
{"credHelpers": {"@@ECR_REGISTRY@@": "ecr-login"}}
JSON
chown abaco:abaco /opt/abaco/.docker/config.json
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
  -c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
systemctl enable --now abaco-actor-network  # egress rules of networked actors, before any container runs
systemctl enable --now abaco-runner
