"""Stand-ins for the demo, the tests and the benchmarks: a local DynamoDB (moto) and Kubernetes API (kmock).

Needs the `test` extra (moto, flask, kmock). Nothing in the operator itself imports this package.
"""
