"""The project's test harness: real and emulated Kubernetes API servers, a local DynamoDB, a fault proxy,
multi-cluster fleets of operators, and the demo. Dev-only: not part of the installed package (it needs the
`test` extra and the repository's top level on the path, as `make test` and `make demo` run it).

- cluster.py      a handle on any API server (HTTP helpers), kubeconfig and client factories
- apiserver.py    real kube-apiserver + etcd (envtest binaries), certificates, tokens, audit log
- emulator.py     an emulated API server (kmock), for faults a real server cannot be made to produce
- kopf_runner.py  real kopf operators in-process, several per event loop
- controllers.py  stand-ins for the Deployment/StatefulSet controllers (ready status after a delay)
- fleet.py        several clusters, each with the real operator, sharing one DynamoDB
- processes.py    `failover-operator run` as a real process per cluster
- dynamo.py       moto in server mode, its requests serialized like DynamoDB's
- faults.py       an HTTP fault proxy in front of DynamoDB (throttling, 5xx, lost answers, outages)
- demo.py         `make demo`
"""
