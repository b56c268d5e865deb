/* `source: datagen`'s records (op_datagen.c), for its tests and
 * benchmarks: record i with seed and keys distinct keys has fields key,
 * value, ts, a pure function of (seed, i). */
#ifndef SL_OP_DATAGEN_H
#define SL_OP_DATAGEN_H

#include <stdint.h>

#include "common/row.h"

void sl_op_datagen_record(uint64_t seed, uint64_t i, uint64_t keys, sl_row *row);

#endif
