#!/bin/sh
# Egress rules for networked actors (ABACO_CONTAINER_NETWORK=bridge; runners/pipeline/network.py).
# Run as root before the Docker engine starts (abaco-actor-network.service) and on every boot: whatever
# comes in on the actors' bridge interface may not reach the instance metadata service, link-local,
# carrier-grade NAT, the private ranges or the VPC's own ranges (forwarded: DOCKER-USER), nor the runner
# host itself (INPUT). Idempotent: a rule already present is not added twice. IPv6 is off on the bridge;
# every IPv6 packet from it is dropped anyway.
set -eu
IFACE="${ABACO_CONTAINER_BRIDGE_INTERFACE:-abaco-actors0}"
BLOCKED="169.254.0.0/16 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10"
# The VPC's own ranges, read from the instance metadata service by the host (never by a container).
TOKEN=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token || true)
if [ -n "$TOKEN" ]; then
  MAC=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/mac || true)
  if [ -n "$MAC" ]; then
    VPC=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" \
      "http://169.254.169.254/latest/meta-data/network/interfaces/macs/$MAC/vpc-ipv4-cidr-blocks" || true)
    BLOCKED="$BLOCKED $VPC"
  fi
fi

rule() {  # rule TABLE-CHAIN ARGS...: insert once
  chain="$1"; shift
  iptables -C "$chain" "$@" 2>/dev/null || iptables -I "$chain" 1 "$@"
}

iptables -N DOCKER-USER 2>/dev/null || true  # Docker keeps a chain that exists before it starts
for net in $BLOCKED; do
  rule DOCKER-USER -i "$IFACE" -d "$net" -j DROP
done
# The host itself: only replies to connections the host opened (Docker's embedded DNS runs inside the
# container's namespace and forwards from the host's, so it needs nothing here).
rule INPUT -i "$IFACE" -j DROP
rule INPUT -i "$IFACE" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ip6tables -N DOCKER-USER 2>/dev/null || true
ip6tables -C DOCKER-USER -i "$IFACE" -j DROP 2>/dev/null || ip6tables -I DOCKER-USER 1 -i "$IFACE" -j DROP
ip6tables -C INPUT -i "$IFACE" -j DROP 2>/dev/null || ip6tables -I INPUT 1 -i "$IFACE" -j DROP
