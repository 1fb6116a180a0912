"""The fleet commands of `failover-operator` and of the kubectl plugin `kubectl failover` (status, history,
show-config, switchover, cancel, suspend, resume, preflight, problems): DynamoDB only, no Kubernetes access, so
they work when every cluster's API is down."""
