/* Durable file-system helpers: writes that finish, mkdir -p, fsync of
 * folders, removing a tree without following symlinks. See fs.h. */
#include "common/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/status.h"

#define REMOVE_MAX_DEPTH 64

int sl_fs_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;

    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return SL_EIO;
        }
        p += r;
        n -= (size_t)r;
    }
    return SL_OK;
}

/* ---- folders ------------------------------------------------------------ */

int sl_fs_mkdir_p(const char *path)
{
    char *copy;
    int rv = SL_OK;

    if (path == NULL || path[0] == '\0') {
        return SL_EINVAL;
    }
    if ((copy = strdup(path)) == NULL) {
        return SL_ENOMEM;
    }
    for (char *s = copy + 1; rv == SL_OK; s++) {
        if (*s != '/' && *s != '\0') {
            continue;
        }
        char c = *s;
        *s = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            rv = SL_EIO;
        }
        *s = c;
        if (c == '\0') {
            break;
        }
    }
    free(copy);
    return rv;
}

int sl_fs_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rv = SL_OK;

    if (fd < 0) {
        return errno == ENOENT ? SL_ENOTFOUND : SL_EIO;
    }
    /* Some file systems cannot sync folders; that is not an error. */
    if (fsync(fd) != 0 && errno != EINVAL) {
        rv = SL_EIO;
    }
    close(fd);
    return rv;
}

/* The folder part of path in a malloc'd string ("." or "/" at the ends). */
static char *parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        return strdup(".");
    }
    if (slash == path) {
        return strdup("/");
    }
    return strndup(path, (size_t)(slash - path));
}

int sl_fs_mkdir_parent(const char *path)
{
    char *dir = parent_of(path);
    int rv;

    if (dir == NULL) {
        return SL_ENOMEM;
    }
    rv = sl_fs_mkdir_p(dir);
    free(dir);
    return rv;
}

int sl_fs_sync_parent(const char *path)
{
    char *dir = parent_of(path);
    int rv;

    if (dir == NULL) {
        return SL_ENOMEM;
    }
    rv = sl_fs_sync_dir(dir);
    free(dir);
    return rv;
}

/* ---- removing a tree ---------------------------------------------------- */

static int remove_at(int parent, const char *name, int depth);

/* Removes every entry of the folder open as fd; closes fd. */
static int clear_dir(int fd, int depth)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;
    int rv = SL_OK;

    if (d == NULL) {
        close(fd);
        return SL_EIO;
    }
    while (rv == SL_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            rv = remove_at(dirfd(d), e->d_name, depth);
        }
    }
    closedir(d);
    return rv;
}

/* Unlinks name; if it is a folder (never through a symlink) empties and
 * removes it, retrying a few times if entries keep appearing. */
static int remove_at(int parent, const char *name, int depth)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT) {
        return SL_OK;
    }
    if (errno != EISDIR && errno != EPERM) {
        return SL_EIO;
    }
    if (depth >= REMOVE_MAX_DEPTH) {
        return SL_ENOSPC;
    }
    for (int tries = 0; tries < 3; tries++) {
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            return errno == ENOENT ? SL_OK : SL_EIO;
        }
        int rv = clear_dir(fd, depth + 1);
        if (rv != SL_OK) {
            return rv;
        }
        if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
            return SL_OK;
        }
        if (errno != ENOTEMPTY && errno != EEXIST) {
            return SL_EIO;
        }
    }
    return SL_EIO;
}

int sl_fs_remove_tree(const char *path)
{
    char p[PATH_MAX];
    size_t n = path != NULL ? strlen(path) : 0;

    /* Without trailing slashes, so a symlink named "link/" is not followed. */
    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    if (n == 0 || (n == 1 && path[0] == '/')) {
        return SL_EINVAL;
    }
    if (n >= sizeof(p)) {
        return SL_ENOSPC;
    }
    memcpy(p, path, n);
    p[n] = '\0';
    return remove_at(AT_FDCWD, p, 0);
}
