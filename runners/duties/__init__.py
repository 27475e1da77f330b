"""Cluster duties under DynamoDB leases: reconciler, autoscaler, cron, events, and their scheduler."""
