"""Which environment variable names a caller may set in an actor's container. Pure logic.

Abaco's contract turns every query parameter of a message into an environment variable (reference §3.1),
so anyone with EXECUTE on an actor (a grant, ``ABACO_WORLD``, a webhook's EXECUTE nonce) chooses
variables in the owner's container. Names that steer the dynamic loader, an interpreter, a shell or a
client library (``LD_PRELOAD=/_abaco_binary_data`` with a shared object as the binary body,
``PYTHONPATH``, ``BASH_FUNC_x%%``, ``PYTHONWARNINGS`` + ``BROWSER``, a proxy that sees the owner's token)
turn that into running the caller's code with the owner's secrets. A message variable is therefore a
plain name (``[A-Za-z_][A-Za-z0-9_]*``), not a hook and not a reserved name (those the API and the runner
set). ``docs/security.md`` says why the owner's ``default_environment`` may still set hooks.
"""
from __future__ import annotations

import re

PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # fullmatch only; a linear pattern

# Exact names that load code, change where programs or libraries are found, or redirect traffic.
HOOK_NAMES = frozenset({
    # shells
    "PATH", "HOME", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS1", "PS2", "PS3", "PS4",
    "PROMPT_COMMAND", "CDPATH", "GLOBIGNORE", "SHELL", "FPATH", "ZDOTDIR", "HISTFILE", "INPUTRC",
    "TMPDIR", "TMP", "TEMP", "TERMINFO", "TERMCAP", "TERMINFO_DIRS",
    # the C library: charset converters, locales, resolver, allocator
    "GCONV_PATH", "GETCONF_DIR", "LOCPATH", "NLSPATH", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS",
    "RESOLV_HOST_CONF", "TZDIR", "LANGUAGE",
    # interpreters and runtimes
    "NODE_OPTIONS", "NODE_PATH", "CLASSPATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
    "MAVEN_OPTS", "GRADLE_OPTS", "ANT_OPTS", "PHPRC", "PHP_INI_SCAN_DIR", "GEM_HOME", "GEM_PATH",
    "BUNDLE_GEMFILE", "R_PROFILE", "R_PROFILE_USER", "R_ENVIRON", "R_ENVIRON_USER", "R_LIBS", "R_LIBS_USER",
    "R_HOME", "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "KRB5_CONFIG", "KUBECONFIG",
    "BOTO_CONFIG", "CURL_HOME", "WGETRC", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_DATA_HOME",
    "XDG_DATA_DIRS", "XDG_RUNTIME_DIR",
    # programs that other programs start
    "BROWSER", "PAGER", "EDITOR", "VISUAL", "LESSOPEN", "LESSCLOSE", "MANPAGER", "VIMINIT", "EXINIT",
    "SSH_ASKPASS", "SUDO_ASKPASS",
    # trust anchors and proxies: a caller's CA or proxy sees what the container sends with the owner's token
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "FTP_PROXY", "http_proxy", "https_proxy",
    "all_proxy", "no_proxy", "ftp_proxy",
})
# Prefixes of whole families of such names.
HOOK_PREFIXES = ("LD_", "DYLD_", "PYTHON", "PERL", "RUBY", "BASH_", "NODE_", "NPM_CONFIG_", "npm_config_",
                 "MALLOC_", "GLIBC_", "JAVA_", "_JAVA_", "JDK_", "LUA_", "GIT_", "AWS_", "DOTNET_",
                 "CORECLR_", "COMPlus_", "PIP_", "CONDA_", "JULIA_", "DOCKER_", "SSL_", "GCONV_")

# What the API and the runner set (reference §3.1 and §3.5); nothing a caller sends may stand in for these,
# compared without case. Not the whole ``_abaco_`` prefix: Abaco's sample actors read their own test knobs
# from message parameters (``_abaco_sleep_iterations`` in images/actors/sleep_loop.py, ``_abaco_test_sleep``
# in images/actors/test.sh), and the runner sets every reserved name last, so a new one cannot be shadowed.
API_SET_NAMES = frozenset({"_abaco_username", "_abaco_api_server", "_abaco_jwt_header_name",
                           "_abaco_execution_id", "_abaco_Content_Type", "_abaco_actor_revision"})
RUNNER_SET_NAMES = frozenset({"_abaco_access_token", "_abaco_actor_dbid", "_abaco_actor_id", "_abaco_worker_id",
                              "_abaco_container_repo", "_abaco_container_hash", "_abaco_actor_state",
                              "_abaco_actor_name", "_abaco_execution_attempt", "_actor_configs", "MSG"})
MESSAGE_SET_NAMES = API_SET_NAMES | {"Time_msg_queued"}  # what the API, cron and events put in a message
RESERVED_NAMES = MESSAGE_SET_NAMES | RUNNER_SET_NAMES | {"_abaco_Content-Type"}
_RESERVED_FOLDED = frozenset(n.casefold() for n in RESERVED_NAMES)
# Query parameters of the messages route that are not variables (a nonce is a credential) or that are
# Abaco's own switch, passed on as Abaco did.
NOT_VARIABLES = frozenset({"message", "x-nonce"})
CONTROL_PARAMETERS = frozenset({"_abaco_synchronous"})


def is_hook(name: str) -> bool:
    return name in HOOK_NAMES or name.startswith(HOOK_PREFIXES)


def is_reserved(name: str) -> bool:
    return name.casefold() in _RESERVED_FOLDED


def message_variable_problem(name: str) -> str | None:
    """Why a message may not set ``name`` (None when it may)."""
    if not PLAIN_NAME.fullmatch(name):
        return "is not a plain variable name ([A-Za-z_][A-Za-z0-9_]*)"
    if is_reserved(name):
        return "is a name Abaco sets itself"
    if is_hook(name):
        return "names a loader, interpreter, shell or network hook"
    return None


def default_variable_problem(name: str) -> str | None:
    """Why an actor's ``default_environment`` may not set ``name``: only names the runner would overwrite
    (reserved) or Docker could not pass; hooks are the owner's to set (see ``docs/security.md``)."""
    if not name or "=" in name or "\x00" in name:
        return "is not a valid variable name"
    if is_reserved(name):
        return "is a name Abaco sets itself"
    return None
