/* The "hashmap" keyed state backend: in memory, with copy-on-write
 * snapshot views (design in keyed_state_hashmap.c). Prefix sl_hashmap_ /
 * SL_HASHMAP_ (its internals: keyed_state_hashmap_internal.h).
 *
 * Place: below the keyed state front (keyed_state.c), which alone calls
 * it, through this table; it calls nothing of the taskmanager. */
#ifndef SL_KEYED_STATE_HASHMAP_H
#define SL_KEYED_STATE_HASHMAP_H

#include "taskmanager/state/keyed_state_backend.h"

extern const sl_ks_ops sl_hashmap_ops;

#endif
