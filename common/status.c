#include "common/status.h"

const char *sl_strerror(int status)
{
    switch (status) {
    case SL_OK: return "ok";
    case SL_EINVAL: return "invalid input";
    case SL_ENOMEM: return "out of memory";
    case SL_EIO: return "i/o error";
    case SL_ENOTFOUND: return "not found";
    case SL_EEXIST: return "already exists";
    case SL_ETIMEDOUT: return "timed out";
    case SL_ECLOSED: return "closed";
    case SL_EPROTO: return "protocol error";
    case SL_ENOSPC: return "no space";
    case SL_EBUSY: return "busy";
    case SL_ECANCELED: return "canceled";
    case SL_EUNREACH: return "unreachable";
    case SL_EPERM: return "permission denied";
    }
    return "unknown error";
}
