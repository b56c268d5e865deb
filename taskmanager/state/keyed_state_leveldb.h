/* The "leveldb" keyed state backend: a working copy on local disk behind
 * a write-back cache (design in keyed_state_leveldb.c). Prefix
 * sl_leveldb_.
 *
 * Place: below the keyed state front (keyed_state.c), which calls it
 * through this table, and the local-folder sweep
 * (keyed_state_local_dir.c); it calls the cache (keyed_state_cache.h)
 * and leveldb. */
#ifndef SL_KEYED_STATE_LEVELDB_H
#define SL_KEYED_STATE_LEVELDB_H

#include "taskmanager/state/keyed_state_backend.h"

extern const sl_ks_ops sl_leveldb_ops;

/* Removes the leveldb working folder at path (and the folder itself) if no
 * live sl_ks_state of any process holds it; SL_EBUSY if one does,
 * SL_OK if there was nothing. Used to clear a killed process's copies. */
int sl_leveldb_remove(const char *path);

#define SL_LEVELDB_ERROR_MAX 512

/* The last error of a leveldb call made by this thread ("leveldb <what>:
 * <leveldb's message>", which names the file, e.g. "leveldb write batch:
 * IO error: <dir>/000003.log: No space left on device"), or "" if none:
 * for the message of a task whose state call returned SL_EIO. */
const char *sl_leveldb_last_error(void);

#endif
