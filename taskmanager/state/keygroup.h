/* Key groups: Flink's assignment of keys to key groups and key groups to
 * operator subtasks, so state can be redistributed when parallelism changes.
 * Prefix sl_keygroup_.
 *
 * Place: pure functions at the bottom of state/, calling nothing. Used by
 * the task's HASH partitioning (task.c), the keyed operators' glue
 * (operators/keyed_op.c) and the restore path (checkpoint/).
 *
 *   kg      = murmur(hash(key)) % max_parallelism
 *   subtask = kg * parallelism / max_parallelism
 *
 * hash(key) is Java's hashCode of the key, so Flink users get the same
 * assignment: a string hashes like java.lang.String.hashCode over its bytes
 * (identical to Java for ASCII), an int like Long.hashCode, a double like
 * Double.hashCode (all NaNs alike; -0.0 differs from 0.0); several key
 * fields combine like Flink's TupleN.hashCode: h = hash(f0), then
 * h = 31*h + hash(fi) for each further field, all in wrapping 32-bit int
 * arithmetic (equivalently h = 0 and h = 31*h + hash(fi) for every field),
 * so a single field is just its own hash. A key index outside the row
 * counts as a null field (0).
 *
 * Bad arguments (max_parallelism or parallelism <= 0, subtask out of range)
 * give -1 from the index functions and the empty range [0, -1]. */
#ifndef SL_KEYGROUP_H
#define SL_KEYGROUP_H

#include <stdint.h>

#include "common/row.h"

int32_t sl_keygroup_java_hash(const sl_value *v);
/* Hash of the key made of row fields key_idx[0..nkeys). */
int32_t sl_keygroup_key_hash(const sl_row *row, const int *key_idx, int nkeys);
/* Flink MathUtils.murmurHash: a non-negative int. */
int32_t sl_keygroup_murmur(int32_t code);
int sl_keygroup_for_hash(int32_t hash, int max_parallelism);
int sl_keygroup_operator_index(int kg, int max_parallelism, int parallelism);
/* Key group range [start, end] (inclusive) of a subtask, Flink's
 * KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex. */
void sl_keygroup_range(int max_parallelism, int parallelism, int subtask, int *start, int *end);

#endif
