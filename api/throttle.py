from accounts.models import SignInFailure  # noqa: F401  # shim: moved to kernel
from accounts.throttle import (  # noqa: F401  # shim: moved to kernel
    DatabaseFailureStore,
    FailureStore,
    RedisFailureStore,
    SignInThrottle,
    ThrottleRule,
    TooManyAttempts,
)
