"""failover-operator: move applications between Kubernetes clusters, coordinated through DynamoDB."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("failover-operator")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
