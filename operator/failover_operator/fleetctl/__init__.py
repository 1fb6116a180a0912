"""The fleet commands of `failover-operator` (status, history, switchover, suspend, resume, preflight,
problems): DynamoDB only, no Kubernetes access, so they work when every cluster's API is down."""
