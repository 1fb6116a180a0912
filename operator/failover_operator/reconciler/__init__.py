"""Decisions per group per tick, and the execution of Failover requests. Joins store/ and workloads/;
imports no kopf: handlers/ hand it the objects and carry its results back to Kubernetes."""
