"""Wiring: the stores and queues a process uses, built once from the settings (never at import)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from chalicelib.payloads import PayloadStore
from chalicelib.queues import Queues
from chalicelib.settings import Settings, get_settings
from chalicelib.storage.actors import ActorStore
from chalicelib.storage.aliases import AliasStore
from chalicelib.storage.configs import ConfigStore
from chalicelib.storage.duties import DutyLeases
from chalicelib.storage.executions import ExecutionStore
from chalicelib.storage.hosts import HostStore
from chalicelib.storage.logs import LogStore
from chalicelib.storage.metrics import MetricsStore
from chalicelib.storage.nonces import NonceStore
from chalicelib.storage.permissions import PermissionStore
from chalicelib.storage.results import ResultStore
from chalicelib.storage.roles import RoleStore
from chalicelib.storage.workers import WorkerStore


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

    @classmethod
    def from_settings(cls, settings: Settings) -> Backend:
        return cls(settings=settings, actors=ActorStore(settings), executions=ExecutionStore(settings),
                   workers=WorkerStore(settings), logs=LogStore(settings), queues=Queues(settings),
                   hosts=HostStore(settings), duties=DutyLeases(settings), aliases=AliasStore(settings),
                   configs=ConfigStore(settings), metrics=MetricsStore(settings),
                   results=ResultStore(settings), payloads=PayloadStore(settings),
                   permissions=PermissionStore(settings), nonces=NonceStore(settings),
                   roles=RoleStore(settings))


@functools.lru_cache(maxsize=1)
def get_backend() -> Backend:
    return Backend.from_settings(get_settings())
