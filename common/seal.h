/* Sealed checkpoint files: AES-256-GCM (mbedTLS) with the key of
 * state.checkpoints.encryption.key-file.
 *
 * A sealed blob (the body of a state file of version 2, the body of a
 * _metadata file of version 2; integers little-endian):
 *
 *   u32 chunk size C (plaintext bytes of every chunk but the last)
 *   u64 key id (first 8 bytes of SHA-256("sluice-seal-key-id-v1" || key):
 *       tells "another key" apart from "changed"; reveals nothing of the key)
 *   chunks: 12-byte nonce (fresh, random), ciphertext, 16-byte tag
 *
 * Every chunk holds C bytes but the last, which holds 1..C (0 only if the
 * whole plaintext is empty). Its associated data is
 *   "sluice-seal-v1" NUL, the 12 header bytes, u64 checkpoint id,
 *   u32 length + job id, u32 length + file name, u64 chunk index,
 *   u8 final (1 for the last chunk)
 * so chunks cannot be reordered, dropped or truncated, and a file does not
 * open under another name, checkpoint id or job. The name is the file's
 * name within its checkpoint folder ("op-map-0.state", "_metadata"), never
 * an absolute path: a savepoint folder may be moved. The checkpoint id and
 * job id are those of the checkpoint (or savepoint) as its _metadata
 * records them: the writer of a state file has them from TriggerCheckpoint
 * (checkpoint_id) and its job, a reader from the _metadata it restores.
 *
 * The key: each daemon loads the key file of its own configuration once at
 * start (sl_seal_init, from main) and sets it as the process key, read by
 * common/state_file.c and common/checkpoint_store.c without a parameter.
 * Without a key files are written as before (unsealed, version 1). With a
 * key every new state file and _metadata is sealed; an unsealed checkpoint
 * (from before encryption was turned on) is still accepted on restore, with
 * a warning logged once per process. A sealed file read without a key fails
 * with "sealed with a key and no state.checkpoints.encryption.key-file is
 * set", like a file that does not verify.
 *
 * Functions return SL_OK, or SL_EINVAL with a reason in err (if errlen > 0)
 * that does not name the file (callers add the path), SL_ENOMEM, SL_EIO. */
#ifndef SL_SEAL_H
#define SL_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define SL_SEAL_KEY_LEN 32
#define SL_SEAL_NONCE_LEN 12
#define SL_SEAL_TAG_LEN 16
#define SL_SEAL_OVERHEAD (SL_SEAL_NONCE_LEN + SL_SEAL_TAG_LEN) /* per chunk */
#define SL_SEAL_HEAD_LEN 12            /* chunk size, key id */
#define SL_SEAL_CHUNK (1u << 20)       /* chunk size this writer uses */
#define SL_SEAL_CHUNK_MAX (64u << 20)  /* largest chunk size a reader accepts */
#define SL_SEAL_NAME_MAX 255
#define SL_SEAL_JOB_ID_MAX 128
#define SL_SEAL_KEY_CONFIG "state.checkpoints.encryption.key-file"
#define SL_SEAL_NO_KEY_MSG \
    "sealed with a key and no " SL_SEAL_KEY_CONFIG " is set"

typedef struct sl_seal_key sl_seal_key;

/* What a sealed file is bound to. */
typedef struct {
    const char *job_id;
    uint64_t checkpoint_id;
    const char *name; /* within the checkpoint folder */
} sl_seal_ad;

/* ---- keys --------------------------------------------------------------- */

/* Reads a key file: exactly 32 raw bytes, or 64 hex digits and an optional
 * newline. Anything else is SL_EINVAL, err naming the file and the reason. */
int sl_seal_key_load(const char *path, sl_seal_key **out, char *err, size_t errlen);
/* A key from 32 bytes (tests). NULL when out of memory. */
sl_seal_key *sl_seal_key_new(const uint8_t raw[SL_SEAL_KEY_LEN]);
/* Wipes and frees. NULL is a no-op. */
void sl_seal_key_free(sl_seal_key *k);
uint64_t sl_seal_key_id(const sl_seal_key *k);

/* The process key: set once at start before any thread that reads or
 * writes checkpoints (tests may set it again between cases); ownership
 * passes (the previous one is freed). NULL = no key. */
void sl_seal_set_process_key(sl_seal_key *k);
const sl_seal_key *sl_seal_process_key(void);

/* Loads SL_SEAL_KEY_CONFIG from cfg, if set, as the process key. SL_EINVAL
 * with "state.checkpoints.encryption.key-file: <path>: <reason>" if the
 * file is unreadable or malformed (the daemon exits 2). */
int sl_seal_init(const sl_config *cfg, char *err, size_t errlen);

/* Logs, once per process, that an unsealed file was accepted while a key is
 * set (an old checkpoint); what names it. */
void sl_seal_warn_unsealed(const char *what);

/* ---- whole buffers ------------------------------------------------------ */

/* Bytes of the sealed blob of n plaintext bytes. */
uint64_t sl_seal_sealed_len(uint64_t n);

/* Seals pt[0..n) into out (sl_seal_sealed_len(n) bytes, caller's). */
int sl_seal_buf(const sl_seal_key *k, const sl_seal_ad *ad, const uint8_t *pt, size_t n,
                uint8_t *out, char *err, size_t errlen);

/* Opens the sealed blob buf[0..len) in place: on success the plaintext is
 * buf[0..*n). k may be NULL (then SL_SEAL_NO_KEY_MSG). On failure buf's
 * contents are unspecified. */
int sl_seal_open_buf(const sl_seal_key *k, const sl_seal_ad *ad, uint8_t *buf, size_t len,
                     size_t *n, char *err, size_t errlen);

/* Authenticates the sealed blob of len bytes at offset off of fd (pread,
 * chunk by chunk; nothing kept). */
int sl_seal_check_fd(const sl_seal_key *k, const sl_seal_ad *ad, int fd, uint64_t off,
                     uint64_t len, char *err, size_t errlen);

/* ---- streaming ---------------------------------------------------------- */

/* Receives sealed bytes in order; returns SL_OK or an error that stops the
 * stream. */
typedef int (*sl_seal_emit_fn)(void *arg, const uint8_t *p, size_t n);

typedef struct sl_seal_stream sl_seal_stream;

/* Starts a stream and emits the header. ad's strings are copied. */
int sl_seal_stream_new(const sl_seal_key *k, const sl_seal_ad *ad, sl_seal_emit_fn emit,
                       void *arg, sl_seal_stream **out);
/* Buffers plaintext; emits every full chunk once more data follows it. */
int sl_seal_stream_put(sl_seal_stream *s, const void *p, size_t n);
/* Emits the last chunk. */
int sl_seal_stream_finish(sl_seal_stream *s);
/* Wipes and frees. NULL is a no-op. */
void sl_seal_stream_free(sl_seal_stream *s);

#endif
