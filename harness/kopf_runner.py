"""kopf in-process: several real kopf operators in one event loop, against any API server, stoppable in any order.

kopf is built to own its process. Tests run several operators (one per cluster) in one loop, so this module
keeps each one to its own tasks, gives each its own login, and stops it promptly (see :func:`start_kopf`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import signal
import threading
import weakref
from collections.abc import Collection, Generator, Iterable, Iterator
from typing import Any

import kopf

from .cluster import Cluster

__all__ = ["KOPF_FINALIZER", "KopfOperator", "fast_kopf_settings", "run_kopf", "start_kopf"]

logger = logging.getLogger(__name__)

KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


# kopf's run_tasks(), when cancelled, cancels every task created in the loop after the operator started ("hung
# tasks"): a second operator, server connections, the test's own tasks. We record which operator created which
# task (through a context variable inherited by tasks, and a task factory) and let kopf cancel only its own.
_TASK_OWNER: contextvars.ContextVar[object | None] = contextvars.ContextVar("kube_harness_task_owner", default=None)
_LOGIN: contextvars.ContextVar[kopf.ConnectionInfo | None] = contextvars.ContextVar("kube_harness_login", default=None)
_task_owners: weakref.WeakKeyDictionary[asyncio.Future[Any], object] = weakref.WeakKeyDictionary()
_running_operators: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()
_LOGIN_MARK = "_kube_harness_login_registered"


def _install_task_tracking(loop: asyncio.AbstractEventLoop) -> None:
    previous = loop.get_task_factory()
    if getattr(previous, "_kube_harness", False):
        return

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future[Any]:
        context = kwargs.get("context")
        owner = context.get(_TASK_OWNER) if context is not None else _TASK_OWNER.get()
        if previous is None:
            task: asyncio.Future[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        else:
            task = previous(loop, coro, **kwargs)
        if owner is not None:
            _task_owners[task] = owner
        return task

    factory._kube_harness = True  # type: ignore[attr-defined]
    factory._kube_harness_previous = previous  # type: ignore[attr-defined]
    loop.set_task_factory(factory)


def _uninstall_task_tracking(loop: asyncio.AbstractEventLoop) -> None:
    factory = loop.get_task_factory()
    if getattr(factory, "_kube_harness", False):
        loop.set_task_factory(getattr(factory, "_kube_harness_previous", None))


class _ForeignTasks(Collection[asyncio.Task[Any]]):
    """For kopf's ``run_tasks(ignored=...)``: every task not created by this operator."""

    def __init__(self, owner: object) -> None:
        self._owner = owner

    def __contains__(self, task: object) -> bool:
        return not isinstance(task, asyncio.Future) or _task_owners.get(task) is not self._owner

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _ensure_login_handler(registry: kopf.OperatorRegistry) -> None:
    # One handler per registry; the server comes from a context variable of the operator's task, so the same
    # registry can run against several clusters at once.
    if getattr(registry, _LOGIN_MARK, False):
        return

    @kopf.on.login(registry=registry, id="kube-harness-login")
    async def _kube_harness_login(**_: Any) -> kopf.ConnectionInfo | None:
        return _LOGIN.get()

    setattr(registry, _LOGIN_MARK, True)


def fast_kopf_settings() -> kopf.OperatorSettings:
    """kopf settings for tests: standalone, quick retries and reconnects, no SIGKILL on exit, events posted."""
    settings = kopf.OperatorSettings()
    settings.peering.standalone = True
    settings.posting.enabled = True
    settings.process.ultimate_exiting_timeout = None  # kopf would SIGKILL the test process 10 min after a cancel
    settings.watching.server_timeout = 30
    settings.watching.client_timeout = 40
    settings.watching.connect_timeout = 2
    settings.watching.reconnect_backoff = 0.1
    settings.networking.request_timeout = 10
    settings.networking.connect_timeout = 2
    settings.networking.error_backoffs = [0.1, 0.2, 0.5, 1.0]
    settings.queueing.exit_timeout = 0.5
    settings.background.cancellation_polling = 0.5
    return settings


@dataclasses.dataclass
class KopfOperator:
    """A kopf operator running in a task of the current loop. ``task, ready_flag = operator`` also works."""

    task: asyncio.Task[None]
    ready_flag: asyncio.Event
    stop_flag: asyncio.Event
    settings: kopf.OperatorSettings
    url: str

    def __iter__(self) -> Iterator[Any]:
        return iter((self.task, self.ready_flag))

    async def stop(self, *, grace: float = 10.0, check: bool = True) -> None:
        """Cancel the operator (a stop flag alone would wait ~5 s) and wait for it; idempotent."""
        loop = asyncio.get_running_loop()
        if not self.task.done():
            self.stop_flag.set()  # also tells kopf this is an intended exit
            self.task.cancel()
            done, _ = await asyncio.wait({self.task}, timeout=grace)
            if not done:
                logger.warning("The kopf operator for %s did not stop in %s s.", self.url, grace)
        if not getattr(self, "_released", False):
            self._released = True
            _running_operators[loop] = _running_operators.get(loop, 1) - 1
            if _running_operators[loop] <= 0:
                _uninstall_task_tracking(loop)
                if threading.current_thread() is threading.main_thread():
                    for signum in (signal.SIGINT, signal.SIGTERM):  # kopf's handlers would outlive it
                        with contextlib.suppress(Exception):
                            loop.remove_signal_handler(signum)
        if check and self.task.done() and not self.task.cancelled() and self.task.exception() is not None:
            raise RuntimeError(f"The kopf operator for {self.url} has failed.") from self.task.exception()


def _connection(target: str | Cluster) -> kopf.ConnectionInfo:
    """How kopf logs in to ``target``: a bare URL (the emulator: no auth), or a cluster handle's identity."""
    if isinstance(target, str):
        return kopf.ConnectionInfo(server=target.rstrip("/"), insecure=True, priority=1_000_000)
    return kopf.ConnectionInfo(
        server=target.url,
        token=target.token,
        ca_path=str(target.ca_file) if target.ca_file else None,
        insecure=target.ca_file is None,
        priority=1_000_000,
    )


async def _operator_main(owner: object, login: kopf.ConnectionInfo, **kwargs: Any) -> None:
    _TASK_OWNER.set(owner)
    _LOGIN.set(login)
    tasks = await kopf.spawn_tasks(**kwargs)
    await kopf.run_tasks(tasks, ignored=_ForeignTasks(owner))


async def start_kopf(
    registry: kopf.OperatorRegistry,
    url: str | Cluster,
    *,
    namespaces: Iterable[str] | None = None,
    settings: kopf.OperatorSettings | None = None,
    memo: object | None = None,
    ready_timeout: float = 10.0,
) -> KopfOperator:
    """Start ``kopf`` against an API server and wait until it is ready (startup handlers done).

    ``url``: a cluster handle (its URL, token and CA), or a bare URL of an unauthenticated (emulated) server.
    Cluster-wide unless ``namespaces`` is given. A ``@kopf.on.login`` handler is added to the registry once
    (it answers the connection of the operator that runs it). ``settings`` default to :func:`fast_kopf_settings`
    (a new object per operator: kopf mutates it). Stop with ``await operator.stop()`` -- always, or use
    ``async with run_kopf(...)``.
    """
    login = _connection(url)
    url = login.server
    loop = asyncio.get_running_loop()
    _install_task_tracking(loop)
    _running_operators[loop] = _running_operators.get(loop, 0) + 1
    _ensure_login_handler(registry)
    settings = settings if settings is not None else fast_kopf_settings()
    settings.process.ultimate_exiting_timeout = None
    ready_flag = asyncio.Event()
    stop_flag = asyncio.Event()
    namespaces = list(namespaces) if namespaces is not None else None
    task = asyncio.create_task(
        _operator_main(
            object(),
            login,
            registry=registry,
            settings=settings,
            memo=memo,
            standalone=True,
            clusterwide=namespaces is None,
            namespaces=namespaces or (),
            ready_flag=ready_flag,
            stop_flag=stop_flag,
        ),
        name=f"kopf operator for {url}",
    )
    operator = KopfOperator(task=task, ready_flag=ready_flag, stop_flag=stop_flag, settings=settings, url=url)
    ready_waiter = asyncio.create_task(ready_flag.wait())
    try:
        await asyncio.wait({task, ready_waiter}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            exc = None if task.cancelled() else task.exception()
            raise RuntimeError(f"The kopf operator for {url} exited before it was ready.") from exc
        if not ready_flag.is_set():
            raise TimeoutError(f"The kopf operator for {url} was not ready in {ready_timeout} s.")
    except BaseException:
        await operator.stop(check=False)
        raise
    finally:
        ready_waiter.cancel()
    return operator


class run_kopf:  # used like a function: `await run_kopf(...)` or `async with run_kopf(...)`
    """``operator = await run_kopf(registry, url)`` (stop it yourself) or ``async with run_kopf(...) as operator``.

    See :func:`start_kopf` for the arguments.
    """

    def __init__(self, registry: kopf.OperatorRegistry, url: str | Cluster, **kwargs: Any) -> None:
        self._args = (registry, url)
        self._kwargs = kwargs
        self._operator: KopfOperator | None = None

    def __await__(self) -> Generator[Any, None, KopfOperator]:
        return start_kopf(*self._args, **self._kwargs).__await__()

    async def __aenter__(self) -> KopfOperator:
        self._operator = await start_kopf(*self._args, **self._kwargs)
        return self._operator

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        if self._operator is not None:
            await self._operator.stop(check=exc_type is None)
