"""Wiring: the stores and queues a process uses, built once from the settings (never at import)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from chalicelib.adapters.payloads import PayloadStore
from chalicelib.adapters.queues import Queues
from chalicelib.adapters.storage.actors import ActorStore
from chalicelib.adapters.storage.aliases import AliasStore
from chalicelib.adapters.storage.configs import ConfigStore
from chalicelib.adapters.storage.duties import DutyLeases
from chalicelib.adapters.storage.executions import ExecutionStore
from chalicelib.adapters.storage.hosts import HostStore
from chalicelib.adapters.storage.logs import LogStore
from chalicelib.adapters.storage.metrics import MetricsStore
from chalicelib.adapters.storage.nonces import NonceStore
from chalicelib.adapters.storage.permissions import PermissionStore
from chalicelib.adapters.storage.ratelimits import RateLimitStore
from chalicelib.adapters.storage.results import ResultStore
from chalicelib.adapters.storage.roles import RoleStore
from chalicelib.adapters.storage.workers import WorkerStore
from chalicelib.wiring.settings import Settings, get_settings


@dataclass(frozen=True)
class Backend:
    settings: Settings
    actors: ActorStore
    executions: ExecutionStore
    workers: WorkerStore
    logs: LogStore
    queues: Queues
    hosts: HostStore
    duties: DutyLeases
    aliases: AliasStore
    configs: ConfigStore
    metrics: MetricsStore
    results: ResultStore
    payloads: PayloadStore
    permissions: PermissionStore
    nonces: NonceStore
    roles: RoleStore
    rate_limits: RateLimitStore

    @classmethod
    def from_settings(cls, settings: Settings) -> Backend:
        return cls(settings=settings, actors=ActorStore(settings), executions=ExecutionStore(settings),
                   workers=WorkerStore(settings), logs=LogStore(settings), queues=Queues(settings),
                   hosts=HostStore(settings), duties=DutyLeases(settings), aliases=AliasStore(settings),
                   configs=ConfigStore(settings), metrics=MetricsStore(settings),
                   results=ResultStore(settings), payloads=PayloadStore(settings),
                   permissions=PermissionStore(settings), nonces=NonceStore(settings),
                   roles=RoleStore(settings), rate_limits=RateLimitStore(settings))


@functools.lru_cache(maxsize=1)
def get_backend() -> Backend:
    return Backend.from_settings(get_settings())
