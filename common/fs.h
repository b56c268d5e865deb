/* Durable file-system helpers (prefix sl_fs_), used by the checkpoint
 * store, state files, the file sink and retention. Plain functions over
 * paths and descriptors; no state. */
#ifndef SL_FS_H
#define SL_FS_H

#include <stddef.h>

/* write(2) until all n bytes are out (restarts after EINTR). SL_EIO, errno
 * set. */
int sl_fs_write_all(int fd, const void *buf, size_t n);
/* mkdir -p with mode 0755; existing folders are fine. SL_EIO, errno set. */
int sl_fs_mkdir_p(const char *path);
/* sl_fs_mkdir_p of the folder holding path. */
int sl_fs_mkdir_parent(const char *path);
/* fsync of a folder, so the entries created in it are durable. */
int sl_fs_sync_dir(const char *path);
/* fsync of the folder holding path ("." if path has no '/'). */
int sl_fs_sync_parent(const char *path);

/* Deletes path and, if it is a folder, everything below it. Symlinks are
 * removed, never followed (a link to a folder elsewhere leaves that folder
 * alone). A missing path is SL_OK. SL_EINVAL for "" and "/", SL_ENOSPC
 * for a path longer than PATH_MAX or a tree deeper than 64 levels, SL_EIO
 * when a system call fails (errno set). */
int sl_fs_remove_tree(const char *path);

#endif
