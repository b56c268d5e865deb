/* Status codes shared by every Sluice module.
 *
 * Functions return 0 (SL_OK) or one of these codes and hand results
 * through out-pointers. sl_strerror() gives a static string. */
#ifndef SL_STATUS_H
#define SL_STATUS_H

enum sl_status {
    SL_OK = 0,
    SL_EINVAL,     /* bad input: malformed file, value, frame */
    SL_ENOMEM,
    SL_EIO,        /* a system call on a file or socket failed */
    SL_ENOTFOUND,
    SL_EEXIST,
    SL_ETIMEDOUT,
    SL_ECLOSED,    /* peer or object went away */
    SL_EPROTO,     /* a peer broke the protocol */
    SL_ENOSPC,     /* a buffer is too small / a bound was reached */
    SL_EBUSY,
    SL_ECANCELED,
    SL_EUNREACH,   /* the jobmanager (or a peer) cannot be reached */
    SL_EPERM,      /* authentication or authorization refused */
};

const char *sl_strerror(int status);

#endif
