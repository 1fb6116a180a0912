"""A KubeClient that counts its GETs of single objects: what a test asserts when it says "read nothing"."""

from __future__ import annotations

from typing import Any

from failover_operator.workloads import KubeClient


class CountingKube(KubeClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gets = 0

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        self.gets += 1
        return await super().get(*args, **kwargs)
