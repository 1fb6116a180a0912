"""The store's exceptions. Callers catch these, never botocore's."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: something went wrong talking to, or reading from, the DynamoDB table."""


class NotFoundError(StoreError):
    """The group (its config record) does not exist."""


class ConflictError(StoreError):
    """A conditional write lost a race: the version, epoch, owner or lease changed under us."""


class SupersededError(ConflictError):
    """A write of ours arrived after a newer write of ours: it was (rightly) not applied."""


class DeposedError(ConflictError):
    """Another replica of this cluster's operator leads now (a later leader term wrote the cluster's records): this
    process no longer speaks for the cluster, and must stop acting for it."""


class LockHeldError(StoreError):
    """The group's lock is held by someone else, whose lease is still live."""

    def __init__(self, holder: str, message: str | None = None) -> None:
        self.holder = holder
        super().__init__(message or f"lock is held by {holder}")


class PreconditionError(StoreError):
    """A failover was refused; `reason` says why in words a person understands."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class CorruptRecordError(StoreError):
    """A record in the table cannot be parsed. Readers skip it and report it as a problem."""

    def __init__(self, pk: str, sk: str, detail: str) -> None:
        self.pk = pk
        self.sk = sk
        self.detail = detail
        super().__init__(f"corrupt record {pk} / {sk}: {detail}")
