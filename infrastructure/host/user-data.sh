# Runner host bootstrap (Debian 12). Rendered by infrastructure/abaco_infra/runners.py: @@NAME@@ placeholders
# are replaced by stack values (bucket, key, region, SSM path, secret name), never by hard-coded settings.
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends docker.io python3-venv awscli unzip ca-certificates curl iptables
systemctl enable --now docker
id abaco >/dev/null 2>&1 || useradd --system --home-dir /opt/abaco --shell /usr/sbin/nologin abaco
usermod -aG docker abaco
install -d -m 0755 /opt/abaco /etc/abaco
aws s3 cp "s3://@@BUNDLE_BUCKET@@/@@BUNDLE_KEY@@" /opt/abaco/runner.zip --region "@@REGION@@"
rm -rf /opt/abaco/app && mkdir -p /opt/abaco/app && unzip -q /opt/abaco/runner.zip -d /opt/abaco/app
python3 -m venv /opt/abaco/venv
/opt/abaco/venv/bin/pip install -q --no-cache-dir -r /opt/abaco/app/requirements-runner.txt
cat > /etc/abaco/host.env <<ENV
AWS_DEFAULT_REGION=@@REGION@@
ABACO_SSM_PATH=@@SSM_PATH@@
ABACO_SECRET_ID=@@SECRET_ID@@
ABACO_BUNDLE_VERSION=@@VERSION@@
ENV
install -m 0644 /opt/abaco/app/host/abaco-runner.service /etc/systemd/system/abaco-runner.service
install -m 0644 /opt/abaco/app/host/abaco-actor-network.service /etc/systemd/system/abaco-actor-network.service
systemctl daemon-reload
systemctl enable --now abaco-actor-network  # egress rules of networked actors, before any container runs
systemctl enable --now abaco-runner
