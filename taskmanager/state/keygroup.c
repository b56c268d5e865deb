/* Key groups, computed with exactly the 32-bit arithmetic Flink uses
 * (KeyGroupRangeAssignment, MathUtils.murmurHash) over Java hash codes.
 *
 * Java ints wrap around; C signed overflow is undefined, so every product
 * and sum is done in uint32_t and converted back at the end. */
#include "taskmanager/state/keygroup.h"

#include <string.h>

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

/* Long.hashCode: (int) (v ^ (v >>> 32)). */
static int32_t java_long_hash(uint64_t bits)
{
    return (int32_t)(uint32_t)(bits ^ (bits >> 32));
}

/* Double.hashCode: Long.hashCode(Double.doubleToLongBits(d)); every NaN
 * collapses to the canonical 0x7ff8000000000000, -0.0 keeps its sign. */
static int32_t java_double_hash(double d)
{
    uint64_t bits;

    if (d != d) {
        return java_long_hash(UINT64_C(0x7ff8000000000000));
    }
    memcpy(&bits, &d, sizeof(bits));
    return java_long_hash(bits);
}

/* String.hashCode: h = 31 * h + c from h = 0, one char per byte. */
static int32_t java_string_hash(const char *s, uint32_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t h = 0;

    for (uint32_t i = 0; i < len; i++) {
        h = 31 * h + p[i];
    }
    return (int32_t)h;
}

int32_t sl_keygroup_java_hash(const sl_value *v)
{
    switch (v->type) {
    case SL_TYPE_INT: return java_long_hash((uint64_t)v->u.i);
    case SL_TYPE_DOUBLE: return java_double_hash(v->u.d);
    case SL_TYPE_STRING: return java_string_hash(v->u.s.ptr, v->u.s.len);
    }
    return 0;
}

/* TupleN.hashCode: h = hash(f0), then h = 31 * h + hash(fi). Starting from
 * h = 0 gives the same, and one field hashes as the field itself. A field
 * index outside the row counts as a null field (0), as in a Tuple. */
int32_t sl_keygroup_key_hash(const sl_row *row, const int *key_idx, int nkeys)
{
    uint32_t h = 0;

    for (int i = 0; i < nkeys; i++) {
        int f = key_idx[i];
        uint32_t fh = 0;

        if (f >= 0 && f < row->nfields) {
            fh = (uint32_t)sl_keygroup_java_hash(&row->v[f]);
        }
        h = 31 * h + fh;
    }
    return (int32_t)h;
}

/* MathUtils.murmurHash: one MurmurHash3 x86_32 round over a 4-byte input
 * with seed 0, then the absolute value (MIN_VALUE maps to 0). */
int32_t sl_keygroup_murmur(int32_t code)
{
    uint32_t h = (uint32_t)code;
    int32_t r;

    h *= 0xcc9e2d51u;
    h = rotl32(h, 15);
    h *= 0x1b873593u;
    h = rotl32(h, 13);
    h = h * 5 + 0xe6546b64u;
    h ^= 4;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    r = (int32_t)h;
    if (r >= 0) {
        return r;
    }
    return r != INT32_MIN ? -r : 0;
}

/* computeKeyGroupForKeyHash; -1 if max_parallelism is not positive. */
int sl_keygroup_for_hash(int32_t hash, int max_parallelism)
{
    if (max_parallelism <= 0) {
        return -1;
    }
    return sl_keygroup_murmur(hash) % max_parallelism;
}

/* computeOperatorIndexForKeyGroup (in 64 bits: the same result wherever
 * Flink's int arithmetic does not overflow); -1 on bad arguments. */
int sl_keygroup_operator_index(int kg, int max_parallelism, int parallelism)
{
    if (max_parallelism <= 0 || parallelism <= 0 || kg < 0) {
        return -1;
    }
    return (int)((int64_t)kg * parallelism / max_parallelism);
}

/* computeKeyGroupRangeForOperatorIndex. Bad arguments give the empty range
 * [0, -1]. */
void sl_keygroup_range(int max_parallelism, int parallelism, int subtask, int *start, int *end)
{
    int64_t mp = max_parallelism, p = parallelism, i = subtask;

    if (mp <= 0 || p <= 0 || p > mp || i < 0 || i >= p) {
        *start = 0;
        *end = -1;
        return;
    }
    *start = (int)((i * mp + p - 1) / p);
    *end = (int)(((i + 1) * mp - 1) / p);
}
