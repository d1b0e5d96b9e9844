from kernel.errors import (  # noqa: F401  # shim: moved to kernel
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    Unauthorized,
)
